"""Hybrid fusion of ranked lists: reciprocal rank fusion and weighted min-max normalised scores."""
from __future__ import annotations

from backend.models import Hit


def _collect(rankings: dict[str, list[tuple[int, float]]]) -> dict[int, Hit]:
    """One Hit per chunk id with each retriever's score and 1-based rank (lists are best first)."""
    hits: dict[int, Hit] = {}
    for retriever, ranking in rankings.items():
        for position, (chunk_id, score) in enumerate(ranking, start=1):
            hit = hits.setdefault(int(chunk_id), Hit(chunk_id=int(chunk_id)))
            if retriever not in hit.ranks:  # a duplicate id keeps its best (first) position
                hit.scores[retriever] = float(score)
                hit.ranks[retriever] = position
    return hits


def _ranked(hits: dict[int, Hit], limit: int | None) -> list[Hit]:
    # Ties break by the best single-retriever rank, then by id, so output is deterministic.
    ordered = sorted(hits.values(), key=lambda h: (-h.fused_score, min(h.ranks.values()), h.chunk_id))
    if limit is not None:
        ordered = ordered[:limit]
    for rank, hit in enumerate(ordered, start=1):
        hit.rank = rank
    return ordered


def fuse_reciprocal_rank(rankings: dict[str, list[tuple[int, float]]], k: int = 60, limit: int | None = None) -> list[Hit]:
    """Score = sum over retrievers of 1 / (k + rank): scale-free, so BM25 and cosine need no calibration."""
    hits = _collect(rankings)
    for hit in hits.values():
        hit.fused_score = sum(1.0 / (k + rank) for rank in hit.ranks.values())
    return _ranked(hits, limit)


def fuse_weighted(rankings: dict[str, list[tuple[int, float]]], weights: dict[str, float], limit: int | None = None) -> list[Hit]:
    """Score = sum of weight x min-max normalised score per retriever; a retriever that missed a chunk adds 0."""
    hits = _collect(rankings)
    bounds = {}
    for retriever, ranking in rankings.items():
        if ranking:
            scores = [float(score) for _, score in ranking]
            bounds[retriever] = (min(scores), max(scores))
    for hit in hits.values():
        total = 0.0
        for retriever, score in hit.scores.items():
            low, high = bounds[retriever]
            # A list whose scores are all equal carries no spread: each of its chunks counts fully.
            normalised = 1.0 if high == low else (score - low) / (high - low)
            total += weights.get(retriever, 0.0) * normalised
        hit.fused_score = total
    return _ranked(hits, limit)


def single_retriever_hits(name: str, ranking: list[tuple[int, float]], limit: int | None = None) -> list[Hit]:
    """One retriever's ranking as hits: its own score is the fused score, its order the rank."""
    return [
        Hit(chunk_id=chunk_id, scores={name: score}, ranks={name: rank}, fused_score=score, rank=rank)
        for rank, (chunk_id, score) in enumerate(ranking[:limit] if limit is not None else ranking, start=1)
    ]


def fuse_rankings(rankings: dict[str, list[tuple[int, float]]], mode: str, fusion: str = "rrf", *,
                  rrf_k: int = 60, dense_weight: float = 0.5, limit: int | None = None) -> list[Hit]:
    """The hits a retrieval mode returns from its retrievers' rankings: the one place both the platform's
    search and the traced hot path (which runs each retriever in its own span) fuse."""
    if mode != "hybrid":
        return single_retriever_hits(mode, rankings[mode], limit)
    if fusion == "rrf":
        return fuse_reciprocal_rank(rankings, k=rrf_k, limit=limit)
    return fuse_weighted(rankings, {"dense": dense_weight, "bm25": 1.0 - dense_weight}, limit=limit)
