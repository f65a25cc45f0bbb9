"""Answer cache in DuckDB: exact and semantic lookups keyed by collection, tenant, index version and answer config."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from backend.clock import utc_now
from backend.models import Answer
from backend.settings import Settings
from backend.text.sentences import numbers

MAX_ENTRIES_SCANNED = 5000  # semantic lookup reads at most this many newest entries of one key
SEMANTIC_CANDIDATES = 5  # most similar entries checked for matching figures before giving up


def normalise_question(question: str) -> str:
    """Case, spacing and trailing punctuation do not change a question."""
    return re.sub(r"\s+", " ", question).strip().lower().rstrip("?!. ")


def question_hash(question: str) -> str:
    return hashlib.sha256(normalise_question(question).encode()).hexdigest()


@dataclass
class CacheKey:
    collection: str
    tenant: str
    index_version: int
    config: str


@dataclass
class CacheHit:
    answer: Answer
    outcome: str  # exact_hit | semantic_hit
    entry_id: int
    similarity: float
    matched_question: str


class AnswerCache:
    """Reuses an answer only for the same collection, tenant, index version and answer configuration, so a
    cached answer never outlives the documents it came from and never crosses collections or tenants."""

    def __init__(self, store, settings: Settings):
        self.store = store
        self.enabled = settings.cache_enabled
        self.threshold = settings.semantic_cache_threshold
        self.ttl = timedelta(hours=settings.cache_ttl_hours)

    def _fresh_after(self) -> datetime:
        return utc_now() - self.ttl  # created_at is the store's naive UTC

    def lookup(self, question: str, vector: np.ndarray | None, key: CacheKey) -> CacheHit | None:
        """Exact match on the normalised question first, then the most similar cached question."""
        if not self.enabled:
            return None
        params = [key.collection, key.tenant, key.index_version, key.config, self._fresh_after()]
        where = ("collection = ? AND tenant = ? AND index_version = ? AND config_key = ? AND created_at >= ?")
        rows = self.store.query(
            f"SELECT id, answer, question FROM cache_entries WHERE {where} AND question_hash = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [*params, question_hash(question)],
        )
        if rows:
            return CacheHit(Answer.from_dict(json.loads(rows[0][1])), "exact_hit", int(rows[0][0]), 1.0, rows[0][2])
        if vector is None:
            return None
        rows = self.store.query(
            f"SELECT id, answer, question, list_cosine_similarity(embedding, ?::FLOAT[]) AS similarity "
            f"FROM (SELECT * FROM cache_entries WHERE {where} ORDER BY created_at DESC LIMIT {MAX_ENTRIES_SCANNED}) "
            f"ORDER BY similarity DESC NULLS LAST LIMIT {SEMANTIC_CANDIDATES}",
            [np.asarray(vector, dtype=np.float32).tolist(), *params],
        )
        figures = numbers(question)
        for entry_id, answer, cached_question, similarity in rows:
            if similarity is None or similarity < self.threshold:
                break
            # "expense claims up to £1,000" and "above £5,000" embed at 0.97: a different figure (amount, year,
            # severity level) is a different question, however close the wording.
            if numbers(cached_question) == figures:
                return CacheHit(Answer.from_dict(json.loads(answer)), "semantic_hit", int(entry_id), float(similarity), cached_question)
        return None

    def put(self, question: str, vector: np.ndarray | None, key: CacheKey, answer: Answer) -> int | None:
        """Store a redacted answer under `key`; returns the entry id."""
        if not self.enabled or not answer.text:
            return None
        data = answer.to_dict()
        data.update(cached=False, trace_id="", conversation_id="", message_id=None)
        rows = self.store.query(
            "INSERT INTO cache_entries (collection, tenant, index_version, config_key, question, question_hash, "
            "embedding, answer, tokens_in, tokens_out, cost_usd, latency_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [key.collection, key.tenant, key.index_version, key.config, normalise_question(question),
             question_hash(question), None if vector is None else np.asarray(vector, dtype=np.float32).tolist(),
             json.dumps(data, default=str), answer.tokens_in, answer.tokens_out, answer.cost_usd, answer.latency_ms],
        )
        return int(rows[0][0]) if rows else None

    def record(self, key: CacheKey, outcome: str, hit: CacheHit | None = None, trace_id: str = "") -> None:
        """One event per lookup; a hit also counts what it saved (the original answer's tokens, cost and time)."""
        saved_tokens, saved_cost, saved_ms = 0, 0.0, 0.0
        if hit is not None:
            saved_tokens = hit.answer.tokens_in + hit.answer.tokens_out
            saved_cost = hit.answer.cost_usd
            saved_ms = hit.answer.latency_ms
            self.store.execute(
                "UPDATE cache_entries SET hits = hits + 1, last_hit_at = current_timestamp WHERE id = ?", [hit.entry_id], lane="chat")
        self.store.execute(
            "INSERT INTO cache_events (collection, tenant, outcome, entry_id, similarity, tokens_saved, "
            "cost_saved_usd, latency_saved_ms, trace_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key.collection, key.tenant, outcome, hit.entry_id if hit else None, hit.similarity if hit else None,
             saved_tokens, saved_cost, saved_ms, trace_id or None], lane="chat")

    def stats(self, collection: str | None = None) -> dict:
        row = self.store.query_dicts(
            "SELECT count(*) FILTER (WHERE outcome <> 'miss') AS hits, count(*) FILTER (WHERE outcome = 'miss') AS misses, "
            "count(*) FILTER (WHERE outcome = 'semantic_hit') AS semantic_hits, "
            "coalesce(sum(tokens_saved), 0) AS tokens_saved, coalesce(sum(cost_saved_usd), 0) AS cost_saved_usd, "
            "coalesce(sum(latency_saved_ms), 0) AS latency_saved_ms FROM cache_events WHERE (? IS NULL OR collection = ?)",
            [collection, collection],
        )[0]
        total = row["hits"] + row["misses"]
        row["hit_rate"] = row["hits"] / total if total else 0.0
        return row
