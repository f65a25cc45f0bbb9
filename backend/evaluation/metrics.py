"""Retrieval metrics per question (ranx), run summaries (means, latency percentiles, cost) and the Pareto front."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from backend.models import Hit

# Document-level retrieval metrics. k is the run's top_k (the context handed to the generator); MRR and
# nDCG look at the first RANK_DEPTH ranked documents whatever k is, so runs with different k compare.
RANK_DEPTH = 10
RETRIEVAL_METRICS = ("recall@k", "precision@k", "hit_rate@k", "mrr@10", "ndcg@10")
# Metrics where lower is better; everything else on the leaderboard is "higher is better".
LOWER_IS_BETTER = ("latency_p50_ms", "latency_p95_ms", "latency_mean_ms", "cost_per_query_usd", "tokens_per_query")


def document_ranking(hits: Iterable[Hit]) -> list[int]:
    """Document ids in the order of their best chunk (a document scores as its best chunk)."""
    seen: list[int] = []
    for hit in hits:
        doc = hit.chunk.document_id if hit.chunk is not None else None
        if doc is not None and doc not in seen:
            seen.append(doc)
    return seen


def retrieval_scores(relevant: dict[int, int], ranking: Sequence[int], k: int,
                     context: Sequence[int] | None = None) -> dict[str, float | None]:
    """Recall@k, Precision@k, hit rate@k, MRR@10 and nDCG@10 of one question, computed by ranx.

    `relevant` maps document id -> grade (> 0); no relevant documents means the metrics do not apply (None).
    `ranking` is the deeper ranked document list (MRR, nDCG). The @k metrics score `context`, the documents
    of the k chunks handed to the generator in their order (by default the first k of `ranking`), so that
    Recall@k = 0 means exactly "no gold in the context" - what the failure analysis calls a miss.
    """
    if not relevant:
        return {name: None for name in RETRIEVAL_METRICS}
    context = list(ranking[:k]) if context is None else list(context)
    at_k = _ranx(relevant, context, {"recall@k": f"recall@{k}", "precision@k": f"precision@{k}",
                                     "hit_rate@k": f"hit_rate@{k}"})
    deep = _ranx(relevant, ranking, {"mrr@10": f"mrr@{RANK_DEPTH}", "ndcg@10": f"ndcg@{RANK_DEPTH}"})
    return {**at_k, **deep}


def _ranx(relevant: dict[int, int], ranking: Sequence[int], names: dict[str, str]) -> dict[str, float]:
    if not ranking:
        return {ours: 0.0 for ours in names}
    from ranx import Qrels, Run, evaluate

    from backend.evaluation.beir import document_ranking as ranx_run_entry

    qrels = Qrels({"q": {str(doc): int(grade) for doc, grade in relevant.items()}})
    run = Run({"q": ranx_run_entry([str(doc) for doc in ranking], limit=len(ranking))})
    values = evaluate(qrels, run, list(names.values()), return_mean=False, make_comparable=True)
    return {ours: float(values[theirs][0]) for ours, theirs in names.items()}


def compile_kernels() -> None:
    """Run every ranx metric the platform uses once on a toy ranking, so numba compiles its kernels into its on-disk
    cache at install time (`make install`: about a minute on 2 cores) instead of during a user's first evaluation."""
    from backend.evaluation.beir import compute_metrics

    retrieval_scores({1: 1, 2: 2}, [3, 1, 2], k=2)
    compute_metrics({"q": {"a": 1}}, {"q": {"b": 1.0, "a": 0.5}})


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return float(np.percentile(clean, q)) if clean else None


def summarize(results: list[dict], metric_names: Sequence[str]) -> dict:
    """A run's summary: the mean of each metric over the questions where it applies, with how many did."""
    summary: dict = {"questions": len(results), "metrics": {}, "coverage": {}}
    for name in metric_names:
        values = [r["metrics"].get(name) for r in results]
        values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        summary["metrics"][name] = _mean(values)
        summary["coverage"][name] = len(values)
    latencies = [float(r["latency_ms"]) for r in results if r.get("latency_ms") is not None]
    summary["metrics"]["latency_p50_ms"] = percentile(latencies, 50)
    summary["metrics"]["latency_p95_ms"] = percentile(latencies, 95)
    summary["metrics"]["latency_mean_ms"] = _mean(latencies)
    costs = [float(r.get("cost_usd") or 0.0) for r in results]
    tokens = [float((r.get("tokens_in") or 0) + (r.get("tokens_out") or 0)) for r in results]
    summary["metrics"]["cost_per_query_usd"] = _mean(costs)
    summary["metrics"]["tokens_per_query"] = _mean(tokens)
    failures: dict[str, int] = {}
    for r in results:
        name = r.get("failure_class") or "ok"
        failures[name] = failures.get(name, 0) + 1
    summary["failures"] = failures
    return summary


def pareto_front(quality: Sequence[float], cost: Sequence[float]) -> list[bool]:
    """True for points no other point beats: at least as good on both axes and strictly better on one.

    Quality is higher-is-better, cost (latency, dollars) lower-is-better. Missing values are never on the front.
    """
    points = [(q, c) for q, c in zip(quality, cost)]
    front = []
    for i, (q, c) in enumerate(points):
        if q is None or c is None or math.isnan(q) or math.isnan(c):
            front.append(False)
            continue
        dominated = any(
            j != i and q2 is not None and c2 is not None and not math.isnan(q2) and not math.isnan(c2)
            and q2 >= q and c2 <= c and (q2 > q or c2 < c)
            for j, (q2, c2) in enumerate(points)
        )
        front.append(not dominated)
    return front
