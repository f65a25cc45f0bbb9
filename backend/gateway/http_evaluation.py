"""The evaluation API (/api/v1/evaluation): the caller's runs, one run with its per-question rows, the leaderboard."""
from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.evaluation import access
from backend.evaluation import leaderboard as lb
from backend.gateway.api_models_evaluation import LeaderboardQuery, RunQuery, RunsQuery
from backend.gateway.gate import JSON, Gate
from backend.gateway.http_errors import read_query
from backend.models import InputError, NotFound

_RESULT_FIELDS = ("item_id", "ordinal", "question", "answer", "reference_answer", "gold_rank", "latency_ms",
                  "tokens_in", "tokens_out", "cost_usd", "failure_class", "failure_reason")


def _finite(value: Any) -> Any:
    """JSON has no NaN: a score a metric could not compute is null."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _scores(metrics: dict | None) -> dict[str, Any]:
    return {name: _finite(value) for name, value in (metrics or {}).items()}


def run_json(run: dict) -> dict[str, Any]:
    """One run as the API shows it (backend.gateway.api_models_evaluation.EvaluationRun)."""
    summary = run.get("summary") or {}
    return {
        "id": run["id"], "label": run["label"], "experiment_id": run["experiment_id"], "experiment": run.get("experiment"),
        "gold_set": run["gold_set"], "collection": run["base_collection"], "queried_collection": run["collection"],
        "status": run["status"], "questions": run["n_questions"], "done": run["n_done"],
        "code_version": run["code_version"], "index_version": run["index_version"], "config": run["config"] or {},
        "metrics": _scores(summary.get("metrics")), "started_at": run["started_at"], "finished_at": run["finished_at"],
        "error": run.get("error"),
    }


def _result_json(result: dict, with_retrieved: bool) -> dict[str, Any]:
    row = {name: _finite(result.get(name)) for name in _RESULT_FIELDS}
    row["metrics"] = _scores(result.get("metrics"))
    row["retrieved"] = result.get("retrieved") if with_retrieved else None
    return row


def _run_id(request: Request) -> int:
    raw = request.path_params["id"]
    try:
        run_id = int(raw)
    except ValueError:
        raise InputError(f"run_id: {raw!r} is not a run id (a whole number)", field="run_id") from None
    if run_id < 1:
        raise NotFound(f"evaluation run {run_id} not found", field="run_id")
    return run_id


class EvaluationRoutes:
    """/api/v1/evaluation: runs, one run, the leaderboard (each needs only the 'read' scope)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def runs(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/evaluation/runs")
        query = read_query(request, RunsQuery)

        def read() -> tuple[list[dict], int]:
            rows = access.list_runs(caller.platform, caller.ctx, query.collection, status=query.status,
                                    gold_set=query.gold_set, limit=query.limit, offset=query.offset)
            return rows, access.count_runs(caller.platform, caller.ctx, query.collection, status=query.status,
                                           gold_set=query.gold_set)

        rows, total = await run_in_threadpool(read)
        return JSON({"collection": query.collection or None, "total": total, "limit": query.limit,
                     "offset": query.offset, "runs": [run_json(r) for r in rows]})

    async def run(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/evaluation/runs/{id}")
        query = read_query(request, RunQuery)
        run_id = _run_id(request)
        detail = await run_in_threadpool(lb.run_detail, caller.platform, caller.ctx, run_id, query.with_retrieved)
        summary = detail.get("summary") or {}
        return JSON({**run_json(detail), "coverage": summary.get("coverage") or {},
                     "failures": summary.get("failures") or {}, "unavailable": summary.get("unavailable") or {},
                     "results": [_result_json(r, query.with_retrieved) for r in detail["results"]]})

    async def leaderboard(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/evaluation/leaderboard")
        query = read_query(request, LeaderboardQuery)
        rows = await run_in_threadpool(lb.leaderboard_rows, caller.platform, caller.ctx, query.collection,
                                       query.gold_set, query.sort_by)
        return JSON({"collection": query.collection or None, "gold_set": query.gold_set or None,
                     "sort_by": query.sort_by, "runs": rows})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/evaluation/runs", self.runs, methods=["GET"]),
            Route("/evaluation/runs/{id}", self.run, methods=["GET"]),
            Route("/evaluation/leaderboard", self.leaderboard, methods=["GET"]),
        ]
