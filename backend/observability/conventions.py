"""The observability vocabulary shared by the span writer and every reader: stages, span kinds, attribute names."""
from __future__ import annotations

import json
from typing import Any

from backend.clock import utc_now as utc_now  # re-exported: this package's modules take time from here

# --- stages ---------------------------------------------------------------------------------------
REQUEST_SPAN = "rag.ask"  # the root span of one question (drift reads only these)

# Stage names the hot path uses, in pipeline order (dashboards sort stages by this).
STAGES = (
    "redact", "contextualize", "cache_lookup", "embed_query", "bm25", "dense",
    "fuse", "rerank", "compress", "agent", "generate", "verify", "redact_answer",
)
_POSITIONS = {stage: position for position, stage in enumerate(STAGES)}


def stage_order(stage: str) -> int:
    """A stage's place in the pipeline; names that are no stage sort after every stage."""
    return _POSITIONS.get(stage, len(STAGES))


# What the chat page shows for each stage's timing.
STAGE_LABELS = {
    "redact": "redact question", "contextualize": "contextualize", "embed_query": "embed query",
    "cache_lookup": "cache lookup", "bm25": "BM25", "dense": "dense (FAISS)", "fuse": "fuse", "rerank": "rerank",
    "compress": "context / compress", "agent": "tools (agent step)", "generate": "generate", "verify": "verify citations", "redact_answer": "redact answer",
}

# Relevance for drift comes from the most comparable stage that reported one: dense cosine similarity
# first (bounded, query-independent scale), then the reranker, the generator's best sentence, BM25;
# fused RRF scores last (they follow rank, not relevance).
SCORE_STAGES = ("dense", "rerank", "generate", "bm25", "fuse")
# The chunks a request retrieved: the last stage that ranked them has the last word, the root as a fallback.
DOCUMENT_STAGES = ("rerank", "fuse", "dense", "bm25", REQUEST_SPAN)

# --- span kinds -----------------------------------------------------------------------------------
# OpenInference span kinds (Phoenix, Arize and Langfuse understand them); unknown names are CHAIN.
CHAIN, GUARDRAIL, EMBEDDING, RETRIEVER, RERANKER, LLM, EVALUATOR = (
    "CHAIN", "GUARDRAIL", "EMBEDDING", "RETRIEVER", "RERANKER", "LLM", "EVALUATOR",
)
SPAN_KINDS = {
    "redact": GUARDRAIL, "redact_answer": GUARDRAIL, "embed_query": EMBEDDING,
    "bm25": RETRIEVER, "dense": RETRIEVER, "fuse": RETRIEVER, "rerank": RERANKER,
    "generate": LLM, "verify": EVALUATOR, "cache_lookup": CHAIN, "contextualize": CHAIN, "compress": CHAIN, "agent": CHAIN,
}

# --- attribute names ------------------------------------------------------------------------------
# The short names the hot path sets and the `spans.attributes` JSON keeps; the trace row reads these.
QUESTION, ANSWER, MODEL = "question", "answer", "model"
COLLECTION, TENANT = "collection", "tenant"
TOKENS_IN, TOKENS_OUT, COST_USD = "tokens_in", "tokens_out", "cost_usd"
CACHE_HIT, GROUNDED, NO_ANSWER, FOUND = "cache_hit", "grounded", "no_answer", "found"
FALLBACK, TIMEOUT, PII_HITS, ERROR = "fallback", "timeout", "pii_hits", "error"
TOP_SCORE, MEAN_SCORE = "top_score", "mean_score"
DOCUMENTS = "documents"  # a list of {"id", "score", "content"} dicts
DOCUMENT_ID, DOCUMENT_SCORE = "id", "score"
# Names the hot path may use for a trace column, first match wins.
ALIASES = {CACHE_HIT: (CACHE_HIT, "cached"), PII_HITS: (PII_HITS, "pii_found")}

# Our short attribute names -> OpenInference names on the OTel span. Names without an OpenInference
# equivalent go out as `groundwork.<name>`; the DuckDB exporter maps everything back to the short names.
OPENINFERENCE_NAMES = {
    QUESTION: "input.value",
    ANSWER: "output.value",
    TOKENS_IN: "llm.token_count.prompt",
    TOKENS_OUT: "llm.token_count.completion",
    "tokens_total": "llm.token_count.total",
    MODEL: "llm.model_name",
    "user": "user.id",
    "session": "session.id",
}
SHORT_NAMES = {otel: short for short, otel in OPENINFERENCE_NAMES.items()}
OWN_PREFIX = "groundwork."
DOCUMENTS_PREFIX = "retrieval.documents."  # retrieval.documents.<i>.document.{id,score,content}
SPAN_KIND_KEY = "openinference.span.kind"
MAX_TEXT_CHARS = 8000  # longer strings are cut so one span can never bloat a batch

# --- span status and the tables' time and percentiles ---------------------------------------------
STATUS_OK, STATUS_ERROR = "ok", "error"
QUANTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99}  # the latency columns of every query and rollup
PERCENTILE_COLUMNS = tuple(QUANTILES)
# a SELECT fragment: PERCENTILES.format(col="duration_ms")
PERCENTILES = ", ".join(f"quantile_cont({{col}}, {q}) AS {name}" for name, q in QUANTILES.items())


# --- short names <-> OTel attributes --------------------------------------------------------------
def _plain(value: Any) -> Any:
    """An OTel attribute value (str, bool, int, float or a homogeneous list of them), or None to skip."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, str):
        return value[:MAX_TEXT_CHARS]
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        kinds = {type(v) for v in items}
        if items and len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return items
    return json.dumps(value, default=str)[:MAX_TEXT_CHARS]


def to_otel_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Short names -> OpenInference/`groundwork.` names; `documents` is flattened the OpenInference way."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key == DOCUMENTS and isinstance(value, (list, tuple)):
            for i, doc in enumerate(value):
                doc = doc if isinstance(doc, dict) else {DOCUMENT_ID: doc}
                for field, item in doc.items():
                    plain = _plain(item)
                    if plain is not None:
                        out[f"{DOCUMENTS_PREFIX}{i}.document.{field}"] = plain
            continue
        plain = _plain(value)
        if plain is None:
            continue
        out[OPENINFERENCE_NAMES.get(key, OWN_PREFIX + key)] = plain
    return out


def to_short_attributes(attributes: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The inverse of to_otel_attributes: (short-name attributes, openinference span kind)."""
    short: dict[str, Any] = {}
    documents: dict[int, dict[str, Any]] = {}
    kind = None
    for key, value in attributes.items():
        if isinstance(value, tuple):
            value = list(value)
        if key == SPAN_KIND_KEY:
            kind = value
        elif key in SHORT_NAMES:
            short[SHORT_NAMES[key]] = value
        elif key.startswith(OWN_PREFIX):
            short[key[len(OWN_PREFIX):]] = value
        elif key.startswith(DOCUMENTS_PREFIX):
            index, _, field = key[len(DOCUMENTS_PREFIX):].partition(".document.")
            if index.isdigit() and field:
                documents.setdefault(int(index), {})[field] = value
            else:
                short[key] = value
        else:
            short[key] = value
    if documents:
        short[DOCUMENTS] = [documents[i] for i in sorted(documents)]
    return short, kind
