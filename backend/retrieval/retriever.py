"""Search over one collection: query embedding, document-field filters, the index, hits joined with DuckDB chunk rows."""
from __future__ import annotations

import threading
from contextlib import nullcontext

from backend.models import Hit, InputError
from backend.retrieval.collection_index import MODES
from backend.retrieval.freshness import prefer_current
from backend.settings import Settings
from backend.store import corpus
from backend.store.db import Store



def check_query(query: str, settings: Settings) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InputError("query: empty; type a question or some keywords")
    if len(query) > settings.max_question_chars:
        raise InputError(f"query: {len(query):,} characters, over the limit of {settings.max_question_chars:,}")
    return query.strip()


def check_mode(mode: str | None, settings: Settings) -> str:
    mode = mode or settings.retrieval_mode
    if mode not in MODES:
        raise InputError(f"mode: {mode!r} is not a retrieval mode (choose {', '.join(MODES)})")
    return mode


class Retriever:
    """Runs a query against one collection's index and returns hits with their Chunk (title and source included)."""

    def __init__(self, store: Store, settings: Settings, embedder_provider, index_lock: threading.RLock | None = None):
        self.store = store
        self.settings = settings
        self._embedder_provider = embedder_provider  # called only when the mode needs a query vector
        self.index_lock = index_lock or nullcontext()

    def raw_hits(self, index, collection: dict, query: str, mode: str | None = None, k: int | None = None,
                 candidate_k: int | None = None, filters: dict | None = None) -> list[Hit]:
        """Hits from the index only (chunk not filled): the fast path for document-level evaluation."""
        settings = self.settings
        query = check_query(query, settings)
        mode = check_mode(mode, settings)
        k = int(k or settings.top_k)
        candidate_k = int(candidate_k or settings.candidate_k)
        if k < 1 or candidate_k < 1:
            raise InputError(f"k: must be at least 1 (got k={k}, candidate_k={candidate_k})")
        allowed = None
        if filters:
            with self.store.cursor() as cur:
                allowed = set(corpus.filtered_chunk_ids(cur, collection["id"], filters).tolist())
            if not allowed:
                return []
        query_vec = self._embedder_provider().encode_query(query) if mode != "bm25" else None
        with self.index_lock:
            return index.search(
                query, query_vec, mode, k, max(candidate_k, k), settings.fusion, allowed_ids=allowed,
                rrf_k=settings.rrf_k, dense_weight=settings.dense_weight,
            )

    def search(self, index, collection: dict, query: str, mode: str | None = None, k: int | None = None,
               candidate_k: int | None = None, filters: dict | None = None) -> list[Hit]:
        hits = self.raw_hits(index, collection, query, mode, k, candidate_k, filters)
        with self.store.cursor() as cur:
            chunks = corpus.chunks_by_ids(cur, [h.chunk_id for h in hits])
        # An id the index still holds but DuckDB no longer does (a delete racing this search) is dropped.
        kept = [h for h in hits if h.chunk_id in chunks]
        for rank, hit in enumerate(kept, start=1):
            hit.chunk = chunks[hit.chunk_id]
            hit.rank = rank
        return prefer_current(self.store, kept, self.settings.superseded_penalty)

    def search_documents(self, index, collection: dict, query: str, mode: str | None = None,
                         k: int = 10) -> list[tuple[int, float]]:
        """(document id, score of its best chunk), best first: document-level results for BEIR-style evaluation."""
        chunk_k = max(int(k) * 3, self.settings.candidate_k)
        hits = self.raw_hits(index, collection, query, mode, chunk_k, chunk_k)
        if not hits:
            return []
        with self.store.cursor() as cur:
            owners = dict(cur.execute(
                "SELECT id, document_id FROM chunks WHERE id IN (SELECT unnest(?))", [[h.chunk_id for h in hits]]
            ).fetchall())
        best: dict[int, float] = {}
        for hit in hits:  # hits come best first, so the first chunk seen of a document is its best
            document_id = owners.get(hit.chunk_id)
            if document_id is not None and document_id not in best:
                best[document_id] = float(hit.fused_score)
        return sorted(best.items(), key=lambda pair: -pair[1])[: int(k)]
