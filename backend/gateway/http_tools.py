"""/api/v1/tools: the tools an API key may call, one call through the guarded executor, external servers' status."""
from __future__ import annotations

import math
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.gateway.api_models_tools import ToolCallRequest
from backend.gateway.gate import JSON, Gate
from backend.gateway.http_errors import read_json
from backend.tools.executor import ToolBudget
from backend.tools.external_status import retry_server, server_views
from backend.tools.spec import (
    FAILED,
    FORBIDDEN,
    INVALID,
    NEEDS_APPROVAL,
    OK,
    RATE_LIMITED,
    STEP_CAP,
    TIMEOUT,
    Tool,
    ToolCall,
    ToolCaller,
)

_STATUS = {OK: 200, INVALID: 422, FORBIDDEN: 403, NEEDS_APPROVAL: 403, RATE_LIMITED: 429, STEP_CAP: 429,
           TIMEOUT: 504, FAILED: 422}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")  # the executor's "arguments.k: Input should be ..."
_RETRY_IN = re.compile(r"retry in (\d+) s")  # the limiter's message: "...; retry in 12 s"
_WINDOW_S = 60  # tool limits are per minute: no wait is ever longer
_TOOL_BUG = "(see the server log)"  # the executor's message when a tool itself raised: the server's fault, not the caller's


def one_call() -> ToolBudget:
    """A door's budget: one call per request. The step cap and time budget bound an answer's loop of calls; a
    single call is bounded by its tool's timeout (and the door's rate limits), not by an answer's clock."""
    return ToolBudget(steps=1, deadline=math.inf)


def tool_json(tool: Tool) -> dict:
    """One tool as GET /api/v1/tools lists it (backend.gateway.api_models_tools.ToolInfo)."""
    return {"name": tool.name, "description": tool.description, "arguments": tool.schema(), "writes": tool.writes,
            "scope": tool.scope, "timeout_s": tool.timeout_s}


def retry_after(call: ToolCall) -> int:
    """Seconds until the user may call the tool again, as the limiter told the executor."""
    found = _RETRY_IN.search(call.message)
    return max(1, min(_WINDOW_S, int(found.group(1)))) if found else _WINDOW_S


def refusal(call: ToolCall, tool: Tool | None) -> tuple[int, dict, dict[str, str]]:
    """(status, body, headers) of a call that did not run or failed: the API's error, the call's record beside it."""
    status, message, field = _STATUS[call.outcome], call.message, None
    headers: dict[str, str] = {}
    if call.outcome == INVALID:
        if tool is None:
            status, field = 404, "name"
            message = f"name: there is no tool named {call.tool!r} (GET /api/v1/tools lists the ones you may call)"
        else:
            found = _FIELD.match(message)
            field = found.group(1) if found else "arguments"
    elif call.outcome == NEEDS_APPROVAL and tool is not None:
        message = (f"{call.tool} changes data: over the API it runs only with an API key that holds the "
                   f"{tool.scope!r} scope (in the Chat page, once the user approves it)")
    elif call.outcome == RATE_LIMITED:
        headers["Retry-After"] = str(retry_after(call))
    elif call.outcome == FAILED and message.endswith(_TOOL_BUG):
        status = 500
    elif call.outcome == FAILED:  # the tool refused: "arguments.conversation_id: no conversation ..." names its field
        found = _FIELD.match(message)
        field = found.group(1) if found and found.group(1).startswith("arguments") else None
    return status, {"error": {"message": message, "field": field}, "call": call.to_dict()}, headers


class ToolRoutes:
    """GET /tools and POST /tools/{name}, as the API key's identity, scoped by its RequestContext."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def tools(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/tools")
        registry = caller.platform.tools.registry
        return JSON({"tools": [tool_json(t) for t in registry.for_caller(ToolCaller(caller.identity, caller.ctx))]})

    async def call(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "POST /api/v1/tools/{name}")
        body = await read_json(request, ToolCallRequest)
        name = request.path_params["name"]
        executor = caller.platform.tools
        # The executor checks role, scope, schema, size, rate and time itself, audits the call and never raises.
        call = await run_in_threadpool(executor.call, name, body.arguments,
                                       ToolCaller(caller.identity, caller.ctx, body.collection), one_call())
        if call.ok:
            return JSON(call.to_dict())
        status, content, headers = refusal(call, executor.registry.get(name))
        return JSON(content, status_code=status, headers=headers)

    async def servers(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/tools/servers")
        views = server_views(caller.platform.tools.registry, caller.ctx)  # Forbidden (403) but for operators
        return JSON({"servers": [view.to_dict() for view in views]})

    async def retry(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "POST /api/v1/tools/servers/{name}/retry")
        # Listing waits on the network (up to the server's timeout): off the event loop.
        view = await run_in_threadpool(retry_server, caller.platform, caller.ctx,
                                       request.path_params["name"])
        return JSON(view.to_dict())

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/tools", self.tools, methods=["GET"]),
            Route("/tools/servers", self.servers, methods=["GET"]),
            Route("/tools/servers/{name}/retry", self.retry, methods=["POST"]),
            Route("/tools/{name}", self.call, methods=["POST"]),
        ]
