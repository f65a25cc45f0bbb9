"""The leaderboard's data, scoped by the caller: finished runs ranked by a metric, Pareto fronts, diffs, drill-downs."""
from __future__ import annotations

import math

import pandas as pd

from backend.context import RequestContext
from backend.evaluation import access
from backend.evaluation import runs as run_store
from backend.evaluation.metrics import LOWER_IS_BETTER, pareto_front
from backend.models import InputError

RUN_COLUMNS = ["run", "label", "experiment", "gold_set", "collection", "base_collection", "questions", "code_version",
               "index_version", "finished_at"]


def leaderboard(platform, ctx: RequestContext, gold_set: str | None = None, sort_by: str | None = None,
                collection: str | None = None) -> pd.DataFrame:
    """One row per finished run the caller may read (of `collection`, else of every readable one): identity
    columns, then every summary metric. Best first by `sort_by`."""
    rows = []
    for run in access.list_runs(platform, ctx, collection, status="finished", gold_set=gold_set):
        summary = run.get("summary") or {}
        row = {
            "run": run["id"], "label": run["label"], "experiment": run.get("experiment") or "",
            "gold_set": run["gold_set"], "collection": run["collection"], "base_collection": run["base_collection"],
            "questions": run["n_questions"],
            "code_version": run["code_version"], "index_version": run["index_version"], "finished_at": run["finished_at"],
        }
        row.update(summary.get("metrics", {}))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS if not rows else None)
    if frame.empty:
        return frame
    metrics = metric_columns(frame)
    frame[metrics] = frame[metrics].astype("float64")
    if sort_by and sort_by in frame.columns:
        frame = frame.sort_values(sort_by, ascending=sort_by in LOWER_IS_BETTER, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Metric columns that have at least one value (a metric no run could compute is left out)."""
    return [c for c in frame.columns if c not in RUN_COLUMNS and c != "pareto" and frame[c].notna().any()]


def quality_metrics(frame: pd.DataFrame) -> list[str]:
    return [c for c in metric_columns(frame) if c not in LOWER_IS_BETTER]


def with_pareto(frame: pd.DataFrame, quality: str, cost: str) -> pd.DataFrame:
    """`frame` plus a boolean column `pareto`: runs no other run beats on both quality and cost."""
    out = frame.copy()
    if out.empty or quality not in out or cost not in out:
        out["pareto"] = False
        return out
    out["pareto"] = pareto_front(out[quality].tolist(), out[cost].tolist())
    return out


def run_results(platform, ctx: RequestContext, run_id: int, with_retrieved: bool = True) -> list[dict]:
    """A readable run's per-question results in question order (NotFound for a run the caller may not read)."""
    access.require_run(platform, run_id, ctx)
    return run_store.results(platform.store, run_id, with_retrieved=with_retrieved)


def run_detail(platform, ctx: RequestContext, run_id: int, with_retrieved: bool = False) -> dict:
    """A readable run's row (config and summary parsed) with its per-question `results`."""
    run = access.require_run(platform, run_id, ctx)
    return {**run, "results": run_store.results(platform.store, run_id, with_retrieved=with_retrieved)}


def run_diff(platform, ctx: RequestContext, run_a: int, run_b: int, metric: str,
             tolerance: float = 1e-9) -> pd.DataFrame:
    """Per question: the metric in run A and run B and whether B got better, worse or stayed the same."""
    a = {r["item_id"]: r for r in run_results(platform, ctx, run_a, with_retrieved=False)}
    b = {r["item_id"]: r for r in run_results(platform, ctx, run_b, with_retrieved=False)}
    rows = []
    for item_id in [i for i in a if i in b]:
        va, vb = a[item_id]["metrics"].get(metric), b[item_id]["metrics"].get(metric)
        if va is None or vb is None:
            change = "n/a"
            delta = math.nan
        else:
            delta = float(vb) - float(va)
            change = "better" if delta > tolerance else "worse" if delta < -tolerance else "same"
        rows.append({
            "item_id": item_id, "question": a[item_id]["question"], "a": va, "b": vb, "delta": delta, "change": change,
            "class_a": a[item_id]["failure_class"], "class_b": b[item_id]["failure_class"],
        })
    frame = pd.DataFrame(rows, columns=["item_id", "question", "a", "b", "delta", "change", "class_a", "class_b"])
    if not frame.empty:
        frame = frame.sort_values("delta", key=lambda s: s.abs(), ascending=False, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def per_question(platform, ctx: RequestContext, run_id: int) -> pd.DataFrame:
    """One row per question of a run with every score flattened into columns."""
    rows = []
    for r in run_results(platform, ctx, run_id, with_retrieved=False):
        rows.append({"item_id": r["item_id"], "question": r["question"], "class": r["failure_class"],
                     "gold_rank": r["gold_rank"], "latency_ms": r["latency_ms"], **r["metrics"]})
    return pd.DataFrame(rows)


def question_detail(platform, ctx: RequestContext, run_id: int, item_id: str) -> dict | None:
    """Everything about one question in one run: retrieved chunks (gold marked), answer, every score."""
    for r in run_results(platform, ctx, run_id):
        if r["item_id"] == item_id:
            return r
    return None


def metric_bars(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Long form (run, label, metric, value) for grouped bar charts."""
    if frame.empty or not metrics:
        return pd.DataFrame(columns=["run", "label", "metric", "value"])
    long = frame.melt(id_vars=["run", "label"], value_vars=metrics, var_name="metric", value_name="value")
    return long.dropna(subset=["value"])


def unavailable_metrics(platform, ctx: RequestContext, gold_set: str | None = None) -> dict[str, str]:
    """Metrics the caller's finished runs could not compute, with the reason (e.g. no LLM judge configured)."""
    out: dict[str, str] = {}
    for run in access.list_runs(platform, ctx, status="finished", gold_set=gold_set):
        out.update((run.get("summary") or {}).get("unavailable") or {})
    return out


def _number(value) -> float | None:
    """A metric as JSON can carry it: NaN (a metric a run could not compute) is None."""
    return None if value is None or pd.isna(value) else float(value)


def leaderboard_rows(platform, ctx: RequestContext, collection: str | None = None, gold_set: str | None = None,
                     sort_by: str = "pass_rate") -> list[dict]:
    """The leaderboard as plain rows for the API: each run's identity, the collection it was asked to evaluate
    and the one it queried (a scratch copy for other chunk settings), and its metrics; best first by `sort_by`."""
    board = leaderboard(platform, ctx, gold_set=gold_set, sort_by=sort_by, collection=collection)
    metrics = metric_columns(board)
    if not board.empty and sort_by not in metrics:
        raise InputError(f"sort_by: {sort_by!r} is not a metric of these runs (metrics: {', '.join(metrics)})",
                         field="sort_by")
    rows = []
    for rank, record in enumerate(board.to_dict("records"), start=1):
        index_version = _number(record["index_version"])
        rows.append({
            "rank": rank, "run": int(record["run"]), "label": record["label"], "experiment": record["experiment"] or None,
            "gold_set": record["gold_set"], "collection": record["base_collection"],
            "queried_collection": record["collection"], "questions": int(record["questions"]),
            "code_version": record["code_version"], "index_version": None if index_version is None else int(index_version),
            "finished_at": pd.Timestamp(record["finished_at"]).to_pydatetime() if pd.notna(record["finished_at"]) else None,
            "metrics": {name: _number(record[name]) for name in metrics},
        })
    return rows
