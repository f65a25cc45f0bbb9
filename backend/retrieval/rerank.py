"""Rerankers after fusion (maximal marginal relevance or a local cross-encoder), chosen by name from a registry."""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from backend.models import GroundworkError, Hit
from backend.retrieval.freshness import SUPERSEDED, demoted
from backend.settings import Settings


@runtime_checkable
class Reranker(Protocol):
    """Reorders fused hits and keeps at most k of them, recording its own score and rank on each."""

    needs_vectors: bool  # True: rerank reads `vectors` and `query_vec`; False: it reads `texts`

    def rerank(self, query: str, hits: list[Hit], texts: dict[int, str] | None, k: int, *,
               vectors: dict[int, np.ndarray] | None = None, query_vec: np.ndarray | None = None) -> list[Hit]: ...


def _keep_demotion(hits: list[Hit], scores) -> np.ndarray:
    """A reranker's scores with the freshness demotion the fused score carried applied again: a reranker
    judges text alone, so without this a superseded version outranks the current one it resembles."""
    out = np.asarray(scores, dtype=np.float64).copy()
    for i, hit in enumerate(hits):
        if SUPERSEDED in hit.scores:
            out[i] = demoted(float(out[i]), float(hit.scores[SUPERSEDED]))
    return out


def _reranked(hits: list[Hit], scores: list[float], name: str) -> list[Hit]:
    out = []
    for rank, (hit, score) in enumerate(zip(hits, scores), start=1):
        out.append(replace(hit, scores={**hit.scores, name: float(score)}, ranks={**hit.ranks, name: rank}, rank=rank))
    return out


def rerank_mmr(hits: list[Hit], vectors: dict[int, np.ndarray], query_vec: np.ndarray, lambda_: float, k: int) -> list[Hit]:
    """Greedy MMR: pick the hit maximising lambda*sim(query, d) - (1-lambda)*max sim(d, already picked).

    Hits without a vector cannot be compared and follow the picked ones in their fused order.
    """
    if k <= 0 or not hits:
        return []
    with_vec = [hit for hit in hits if hit.chunk_id in vectors]
    without = [hit for hit in hits if hit.chunk_id not in vectors]
    if not with_vec:
        return _reranked(without[:k], [hit.fused_score for hit in without[:k]], "mmr")
    matrix = np.stack([np.asarray(vectors[hit.chunk_id], dtype=np.float32) for hit in with_vec])
    relevance = _keep_demotion(with_vec, matrix @ np.asarray(query_vec, dtype=np.float32).reshape(-1))
    similarity = matrix @ matrix.T
    picked: list[int] = []
    picked_scores: list[float] = []
    redundancy = np.full(len(with_vec), -np.inf, dtype=np.float32)
    remaining = np.ones(len(with_vec), dtype=bool)
    for _ in range(min(k, len(with_vec))):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        mmr = lambda_ * relevance - (1.0 - lambda_) * penalty
        mmr[~remaining] = -np.inf
        best = int(np.argmax(mmr))
        picked.append(best)
        picked_scores.append(float(mmr[best]))
        remaining[best] = False
        redundancy = np.maximum(redundancy, similarity[best])
    chosen = [with_vec[i] for i in picked]
    tail = without[: max(0, k - len(chosen))]
    return _reranked(chosen + tail, picked_scores + [float("-inf")] * len(tail), "mmr")


class MMRReranker:
    """MMR as a reranker object: needs the hits' vectors and the query vector."""

    needs_vectors = True

    def __init__(self, lambda_: float):
        self.lambda_ = float(lambda_)

    def rerank(self, query: str, hits: list[Hit], texts: dict[int, str] | None, k: int, *, vectors=None, query_vec=None) -> list[Hit]:
        if vectors is None or query_vec is None:
            raise GroundworkError("MMR reranking needs the hits' vectors and the query vector")
        return rerank_mmr(hits, vectors, query_vec, self.lambda_, k)


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local path, scoring (query, chunk text) pairs."""

    needs_vectors = False

    def __init__(self, model_path: str | Path):
        if not model_path or not Path(model_path).exists():
            raise GroundworkError(
                f"cross-encoder model path {str(model_path)!r} does not exist: set GROUNDWORK_CROSS_ENCODER_MODEL "
                "to a local cross-encoder directory or choose another reranker"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(str(model_path), device="cpu")
        except Exception as exc:  # a directory that is not a model: say which one
            raise GroundworkError(f"cannot load a cross-encoder from {model_path}: {exc}") from exc
        self._lock = threading.Lock()

    def rerank(self, query: str, hits: list[Hit], texts: dict[int, str] | None, k: int, *, vectors=None, query_vec=None) -> list[Hit]:
        if texts is None:
            raise ValueError("the cross-encoder scores the hits' texts: pass them")
        scorable = [hit for hit in hits if hit.chunk_id in texts]
        if k <= 0 or not scorable:
            return []
        with self._lock:
            predicted = self._model.predict([(query, texts[hit.chunk_id]) for hit in scorable], show_progress_bar=False)
        scores = _keep_demotion(scorable, predicted)
        order = np.argsort(-scores, kind="stable")[:k]
        return _reranked([scorable[i] for i in order], [float(scores[i]) for i in order], "cross_encoder")


@lru_cache(maxsize=4)
def _cross_encoder(model_path: str) -> CrossEncoderReranker:
    return CrossEncoderReranker(model_path)


Builder = Callable[[Settings], Reranker]
_BUILDERS: dict[str, Builder] = {}
_LOCK = threading.Lock()
NONE = "none"  # the setting that turns reranking off: not a reranker, so never registered


def register_reranker(name: str, builder: Builder) -> None:
    """Make `name` buildable by `builder(settings)`; the builder owns any caching of loaded models."""
    if name == NONE:
        raise ValueError(f"{NONE!r} means no reranker and cannot be registered")
    with _LOCK:
        _BUILDERS[name] = builder


def unregister_reranker(name: str) -> None:
    with _LOCK:
        _BUILDERS.pop(name, None)


def reranker_names() -> tuple[str, ...]:
    """The registered names, in registration order (without "none")."""
    with _LOCK:
        return tuple(_BUILDERS)


def build_reranker(settings: Settings, name: str | None = None) -> Reranker | None:
    """The reranker `name` (default: settings.reranker), or None for "none"; a cross-encoder is loaded once per process and path."""
    name = name or settings.reranker
    if name == NONE:
        return None
    with _LOCK:
        builder = _BUILDERS.get(name)
        choices = [NONE, *_BUILDERS]
    if builder is None:
        raise GroundworkError(f"unknown reranker {name!r}: use {', '.join(choices[:-1])} or {choices[-1]}")
    return builder(settings)


register_reranker("mmr", lambda settings: MMRReranker(settings.mmr_lambda))
register_reranker("cross-encoder", lambda settings: _cross_encoder(str(settings.cross_encoder_model)))
