"""The corpus browser's search explorer: BM25, dense and fused rankings of one query side by side, explained."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.context import RequestContext
from backend.corpus.document_detail import status_notice
from backend.store import documents

RETRIEVERS = ("bm25", "dense", "hybrid")
_WORD = re.compile(r"\w+")  # the lexical index keeps runs of 2+ word characters; tokenize_query decides the rest


def highlight_segments(text: str, terms: set[str], analyse, cache: dict[str, str | None] | None = None) -> list[tuple[str, bool]]:
    """`text` cut into (piece, matched) where matched pieces are words whose analysed form is a query term.

    `analyse` is the collection's `tokenize_query`, so a word is highlighted exactly when BM25 matched it
    (same lower-casing, stop words and stemming): "fees" lights up for the query "fee".
    """
    cache = {} if cache is None else cache
    segments: list[tuple[str, bool]] = []
    position = 0
    for match in _WORD.finditer(text):
        word = match.group(0).lower()
        if word not in cache:
            analysed = analyse(word)
            cache[word] = analysed[0] if len(analysed) == 1 else None
        if cache[word] in terms:
            if match.start() > position:
                segments.append((text[position:match.start()], False))
            segments.append((match.group(0), True))
            position = match.end()
    if position < len(text):
        segments.append((text[position:], False))
    return segments


@dataclass
class ExplainedHit:
    chunk_id: int
    document_id: int
    title: str
    file: str
    heading: str
    page: int | None
    text: str
    ranks: dict[str, int]  # retriever -> 1-based rank among its candidates ("hybrid": fused rank)
    scores: dict[str, float]
    matched_terms: list[str]  # words of the title, headings or text that BM25 matched
    text_segments: list[tuple[str, bool]]
    title_segments: list[tuple[str, bool]]
    status: str
    notice: str = ""


@dataclass
class SearchExplanation:
    query: str
    collection: str
    terms: list[str]  # the query as BM25 analysed it
    k: int
    candidate_k: int
    rankings: dict[str, list[int]]  # retriever -> chunk ids, best first (top k)
    hits: dict[int, ExplainedHit]
    elapsed_ms: float
    excluded_superseded: list[str] = field(default_factory=list)  # titles left out on request
    weak_below: float = 0.25  # settings.weak_match_cosine

    def ranked(self, retriever: str) -> list[ExplainedHit]:
        return [self.hits[chunk_id] for chunk_id in self.rankings[retriever]]

    def weak(self, hit: ExplainedHit) -> bool:
        """No query term matched (BM25 did not rank it) and its dense cosine is below the weak-match line."""
        return "bm25" not in hit.ranks and hit.scores.get("dense", 0.0) < self.weak_below

    @property
    def no_real_match(self) -> bool:
        """BM25 matched nothing and every dense hit is weak: the rankings are only the least unrelated chunks."""
        return not self.rankings["bm25"] and all(self.weak(self.hits[c]) for c in self.rankings["dense"])

    @property
    def superseded_in_results(self) -> list[str]:
        seen = {self.hits[c].title for ids in self.rankings.values() for c in ids if self.hits[c].status == "superseded"}
        return sorted(seen)


def explain_search(platform, query: str, collection: str, k: int = 10, exclude_superseded: bool = False,
                   ctx: RequestContext | None = None) -> SearchExplanation:
    """BM25, dense and fused rankings of one query side by side, each chunk with every retriever's rank and score.

    Each ranking is the platform's own search in that mode (the fused one is exactly what hybrid retrieval
    returns); ranks are over `candidate_k` candidates, so a chunk outside one retriever's top k still shows
    where that retriever put it.
    """
    started = time.perf_counter()
    settings = platform.settings
    k = max(1, int(k))
    candidate_k = max(k, settings.candidate_k)
    filters, excluded = None, []
    collection = platform.corpus.collection_row(collection, ctx)["name"]  # unknown, or not the caller's: refused
    if exclude_superseded:
        with platform.store.cursor() as cur:
            superseded = documents.superseded_titles_in_collection(cur, collection)
        if superseded:
            excluded = sorted(superseded.values())
            with platform.store.cursor() as cur:
                keep = [i for i in documents.active_document_ids_in_collection(cur, collection) if i not in superseded]
            filters = {"document_ids": keep}
    full = platform.retriever.search_modes(query, collection, RETRIEVERS, k=candidate_k, candidate_k=candidate_k,
                                           filters=filters, ctx=ctx)
    rankings = {mode: [h.chunk_id for h in mode_hits[:k]] for mode, mode_hits in full.items()}
    shown = {chunk_id for ids in rankings.values() for chunk_id in ids}
    ranks: dict[int, dict[str, int]] = {c: {} for c in shown}
    scores: dict[int, dict[str, float]] = {c: {} for c in shown}
    chunks = {}
    for mode, mode_hits in full.items():
        for hit in mode_hits:
            if hit.chunk_id in shown:
                ranks[hit.chunk_id][mode] = hit.rank
                scores[hit.chunk_id][mode] = float(hit.fused_score if mode == "hybrid" else hit.scores.get(mode, hit.fused_score))
                chunks[hit.chunk_id] = hit.chunk
    index = platform.corpus.collection_index(collection)
    terms = index.tokenize_query(query)
    term_set = set(terms)
    cache: dict[str, str | None] = {}
    with platform.store.cursor() as cur:
        found = documents.statuses_with_metadata(cur, {c.document_id for c in chunks.values()})
    statuses = {doc_id: (status, status_notice(status, metadata)) for doc_id, (status, metadata) in found.items()}
    hits: dict[int, ExplainedHit] = {}
    for chunk_id in shown:
        chunk = chunks[chunk_id]
        heading = " › ".join(chunk.heading_path)
        text_segments = highlight_segments(chunk.text, term_set, index.tokenize_query, cache)
        title_segments = highlight_segments(chunk.title, term_set, index.tokenize_query, cache)
        heading_segments = highlight_segments(heading, term_set, index.tokenize_query, cache)
        matched = sorted({piece.lower() for piece, hit in text_segments + title_segments + heading_segments if hit})
        status, notice = statuses.get(chunk.document_id, ("active", ""))
        hits[chunk_id] = ExplainedHit(
            chunk_id, chunk.document_id, chunk.title, Path(chunk.source).name, heading, chunk.page, chunk.text,
            ranks[chunk_id], scores[chunk_id], matched, text_segments, title_segments, status, notice)
    return SearchExplanation(query, collection, terms, k, candidate_k, rankings, hits,
                             (time.perf_counter() - started) * 1000, excluded, settings.weak_match_cosine)
