"""The one retriever: chat, the search explorer, the CLI and evaluation all rank chunks through it."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Iterator

from backend.context import RequestContext
from backend.models import Hit, InputError
from backend.retrieval.collection_index import FUSIONS, MODES
from backend.retrieval.freshness import prefer_current
from backend.retrieval.fusion import fuse_rankings
from backend.settings import Settings
from backend.store import chunks as chunk_store
from backend.store.db import Store

__all__ = ["FUSIONS", "MODES", "Retriever", "check_mode", "check_query"]


class _Quiet:
    """A stage that records nothing: what `observe` yields when nobody traces."""

    def set(self, **attributes: Any) -> _Quiet:
        return self


@contextmanager
def _quiet_stage(name: str, **attributes: Any) -> Iterator[_Quiet]:
    yield _Quiet()


# observe(stage_name, **attributes) -> a context manager whose value has .set(**attributes): a tracer's span.
StageHook = Callable[..., ContextManager[Any]]


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
    """Query -> ranked hits of one collection: filters inside the search, each retriever, fusion, the chunks
    joined from DuckDB, current versions first, then the configured reranker. Every stage goes through
    `observe`, which the hot path points at its tracer so each is a span."""

    def __init__(self, store: Store, settings: Settings, corpus_service, embedder_provider: Callable[[], Any]):
        self.store = store
        self.settings = settings
        self.corpus = corpus_service
        self._embedder = embedder_provider  # called only when a mode needs a query vector

    def _checked(self, query, mode, k, candidate_k) -> tuple[str, str, int, int]:
        query = check_query(query, self.settings)
        mode = check_mode(mode, self.settings)
        k = int(k or self.settings.top_k)
        candidate_k = int(candidate_k or self.settings.candidate_k)
        if k < 1 or candidate_k < 1:
            raise InputError(f"k: must be at least 1 (got k={k}, candidate_k={candidate_k})")
        return query, mode, k, candidate_k

    def _allowed(self, row: dict, filters: dict | None) -> set[int] | None:
        if not filters:
            return None
        with self.store.cursor() as cur:
            return set(chunk_store.filtered_chunk_ids(cur, row["id"], filters).tolist())

    def _rankings(self, row: dict, query: str, mode: str, depth: int, allowed: set[int] | None, query_vector,
                  observe: StageHook) -> tuple[dict[str, list[tuple[int, float]]], Any]:
        index = self.corpus.open_index(row)
        lock = self.corpus.indexes.index_lock(row["id"])
        rankings: dict[str, list[tuple[int, float]]] = {}
        if mode in ("bm25", "hybrid"):
            with observe("bm25", k=depth) as span:
                with lock:
                    rankings["bm25"] = index.rank("bm25", query, None, depth, allowed)
                span.set(results=len(rankings["bm25"]), top_score=rankings["bm25"][0][1] if rankings["bm25"] else None)
        if mode in ("dense", "hybrid"):
            if query_vector is None:
                query_vector = self._embedder().encode_query(query)
            with observe("dense", k=depth) as span:
                with lock:
                    rankings["dense"] = index.rank("dense", query, query_vector, depth, allowed)
                span.set(results=len(rankings["dense"]), top_score=rankings["dense"][0][1] if rankings["dense"] else None)
        return rankings, query_vector

    def search(self, query: str, collection: str | None = None, mode: str | None = None, k: int | None = None,
               candidate_k: int | None = None, filters: dict | None = None, *, ctx: RequestContext | None = None,
               query_vector=None, observe: StageHook | None = None) -> list[Hit]:
        """Ranked chunks with each retriever's score and rank and the fused score; `hit.chunk` is filled.

        filters (document fields): mime_type (str or list), title_contains, source, source_contains,
        updated_after, updated_before (datetime), document_ids (list of ints).
        """
        observe = observe or _quiet_stage
        s = self.settings
        query, mode, k, candidate_k = self._checked(query, mode, k, candidate_k)
        row = self.corpus.collection_row(collection, ctx)
        allowed = self._allowed(row, filters)
        if allowed is not None and not allowed:
            return []
        depth = max(candidate_k, k)
        rankings, query_vector = self._rankings(row, query, mode, depth, allowed, query_vector, observe)
        rerank = s.reranker != "none"
        # Demotion reorders before the cut to k: cut first, a superseded chunk would keep a current one's place.
        limit = max(k * 4, 20) if rerank or s.superseded_penalty < 1.0 else k
        with observe("fuse", fusion=s.fusion if mode == "hybrid" else mode) as span:
            fused = fuse_rankings(rankings, mode, s.fusion, rrf_k=s.rrf_k, dense_weight=s.dense_weight, limit=limit)
            with self.store.cursor() as cur:
                chunks = chunk_store.chunks_by_ids(cur, [h.chunk_id for h in fused])
            # Only chunks DuckDB still holds for this collection, whatever an index or a racing delete returns.
            fused = [h for h in fused if h.chunk_id in chunks and chunks[h.chunk_id].collection == row["name"]]
            for hit in fused:
                hit.chunk = chunks[hit.chunk_id]
            fused = prefer_current(self.store, fused, s.superseded_penalty, query)
            span.set(results=len(fused), top_score=fused[0].fused_score if fused else None,
                     documents=[{"id": h.chunk_id, "score": round(h.fused_score, 5)} for h in fused[:k]])
        if rerank and fused:
            with observe("rerank", reranker=s.reranker, k=k) as span:
                fused = self._rerank(row, query, fused, k, query_vector)
                span.set(results=len(fused))
        for rank, hit in enumerate(fused[:k], start=1):
            hit.rank = rank
        return fused[:k]

    def search_modes(self, query: str, collection: str | None = None, modes=MODES, k: int | None = None,
                     candidate_k: int | None = None, filters: dict | None = None, *,
                     ctx: RequestContext | None = None) -> dict[str, list[Hit]]:
        """`search` in several modes at once (the corpus browser's side-by-side view), embedding the query once."""
        vector = None
        if any(m != "bm25" for m in modes):
            vector = self._embedder().encode_query(check_query(query, self.settings))
        return {mode: self.search(query, collection, mode, k, candidate_k, filters, ctx=ctx, query_vector=vector)
                for mode in modes}

    def _rerank(self, row: dict, query: str, hits: list[Hit], k: int, query_vector) -> list[Hit]:
        from backend.retrieval.rerank import build_reranker

        reranker = build_reranker(self.settings)
        assert reranker is not None, "search() reranks only when settings.reranker is not 'none'"
        if getattr(reranker, "needs_vectors", False):
            if query_vector is None:
                query_vector = self._embedder().encode_query(query)
            index = self.corpus.open_index(row)
            with self.corpus.indexes.index_lock(row["id"]):
                vectors = index.vectors([h.chunk_id for h in hits])
            return reranker.rerank(query, hits, None, k, vectors=vectors, query_vec=query_vector)
        reranked = reranker.rerank(query, hits, {h.chunk_id: h.chunk.text for h in hits if h.chunk is not None}, k)
        by_id = {h.chunk_id: h.chunk for h in hits}
        for hit in reranked:
            hit.chunk = hit.chunk or by_id.get(hit.chunk_id)
        return reranked
