"""/api/v1 request traces and their spans, for the roles whose pages read them, scoped by the caller's collections."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.gateway.api_models import TracesQuery
from backend.gateway.gate import JSON, Caller, Gate
from backend.gateway.http_errors import read_query
from backend.models import NotFound
from backend.observability.queries import find_traces, get_trace

# components/navigation.py ROLE_PAGES: operators (and admins) use the trace explorer. A trace holds an analyst's
# question and answer; stakeholders see only the Operations dashboard's aggregates of them, analysts nothing.
TRACE_ROLES = ("operator",)
_TRACE_FIELDS = ("trace_id", "root_span_id", "name", "start_time", "duration_ms", "status", "collection", "tenant",
                 "question", "answer", "model", "tokens_in", "tokens_out", "cost_usd", "cache_hit", "grounded",
                 "no_answer", "fallback", "timeout", "top_score", "mean_score", "pii_hits", "error", "attributes")
_SPAN_FIELDS = ("span_id", "parent_span_id", "name", "kind", "start_time", "duration_ms", "status", "status_message",
                "attributes", "offset_ms", "depth")


def _plain(value: Any) -> Any:
    """A DataFrame cell as JSON can carry it: pandas' missing values (NaN, NA, NaT) as null."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(df: pd.DataFrame, columns: tuple[str, ...]) -> list[dict]:
    if df.empty:
        return []
    return [{column: _plain(row[column]) for column in columns} for row in df.to_dict("records")]


class TraceRoutes:
    """/api/v1: traces (newest first, paged) and traces/{trace_id} (its spans and the chunks it retrieved)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def _caller(self, request: Request, route: str) -> Caller:
        caller = await self.gate.caller(request, route)
        caller.platform.gateway.require_role(caller.identity, *TRACE_ROLES)
        return caller

    async def traces(self, request: Request) -> Response:
        caller = await self._caller(request, "/api/v1/traces")
        query = read_query(request, TracesQuery)

        def read() -> list[dict]:
            scope = caller.platform.corpus.scope(query.collection or None, caller.ctx)  # unreadable: NotFound
            rows = find_traces(caller.platform.store, collection=scope, limit=query.limit, offset=query.offset)
            return _records(rows, tuple(rows.columns))

        return JSON({"collection": query.collection or None, "limit": query.limit, "offset": query.offset,
                     "traces": await run_in_threadpool(read)})

    async def trace(self, request: Request) -> Response:
        caller = await self._caller(request, "/api/v1/traces/{trace_id}")
        trace_id = request.path_params["trace_id"]

        def read() -> dict:
            scope = caller.platform.corpus.scope(None, caller.ctx)
            found = get_trace(caller.platform.store, trace_id, scope)
            # Spans arrive before their request's own row: until that row is written the trace is not complete.
            if found is None or "start_time" not in found["trace"]:
                raise NotFound(f"unknown trace id {trace_id!r}", field="trace_id")
            trace = found["trace"]
            return {**{key: _plain(trace.get(key)) for key in _TRACE_FIELDS},
                    "spans": _records(found["spans"], _SPAN_FIELDS), "documents": found["documents"] or []}

        return JSON(await run_in_threadpool(read))

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/traces", self.traces, methods=["GET"]),
            Route("/traces/{trace_id}", self.trace, methods=["GET"]),
        ]
