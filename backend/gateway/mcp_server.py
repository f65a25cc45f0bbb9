"""The tools as an MCP server on the gateway (`/mcp`, streamable HTTP, stateless), each request run as its API key."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from backend.gateway.gate import Caller, Gate, PlatformProvider
from backend.gateway.http_errors import EXCEPTION_HANDLERS, ApiError, ServerErrors
from backend.gateway.http_tools import one_call
from backend.models import GroundworkError
from backend.tools.spec import Tool, ToolCall, ToolCaller

if TYPE_CHECKING:
    from starlette.responses import Response

PATH = "/mcp"
ROUTE = "/mcp"  # the rate limiter's name for it, like the API's routes
_CALLER_KEY = "groundwork.caller"  # where the authorised caller rides in the ASGI scope, one request's only
Lifespan = Callable[[Any], Any]


def mcp_tool(tool: Tool) -> types.Tool:
    """A tool as MCP lists it: its arguments' JSON schema, and whether it changes anything."""
    return types.Tool(name=tool.name, description=tool.description, input_schema=tool.schema(),
                      annotations=types.ToolAnnotations(read_only_hint=not tool.writes, destructive_hint=False,
                                                        idempotent_hint=not tool.writes, open_world_hint=False))


def mcp_result(call: ToolCall) -> types.CallToolResult:
    """The call's redacted result text; a refusal or failure is `isError` with its message (naming the field)."""
    if call.ok:
        structured = {"outcome": call.outcome, "data": call.data, "chunk_ids": call.chunk_ids}
        return types.CallToolResult(content=[types.TextContent(type="text", text=call.result)],
                                    structured_content=structured, is_error=False)
    text = f"{call.outcome}: {call.message}"
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                structured_content={"outcome": call.outcome, "message": call.message}, is_error=True)


def _caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
    """The caller the door authorised for this very HTTP request (never a shared global: each request its own)."""
    request = ctx.request
    caller = request.scope.get(_CALLER_KEY) if isinstance(request, Request) else None
    if not isinstance(caller, Caller):  # only reachable if the SDK stopped passing the HTTP request along
        raise RuntimeError("an MCP request reached a handler without the caller the door authorised")
    return caller


class McpDoor:
    """ASGI app for `/mcp`: authenticates `Authorization: Bearer <API key>` and counts the route's rate limit on
    every HTTP request (401/429 as the API's JSON errors), then lets the SDK's stateless transport answer.
    `tools/list` shows what the key's role and scopes may call; `tools/call` runs `platform.tools.call`."""

    def __init__(self, provider: PlatformProvider):
        self.gate = Gate(provider)
        self.server: Server[Any] = Server("groundwork", version="1", title="Groundwork tools",
                                          instructions="Tools over the collections your API key may read: search "
                                                       "and read documents, query tables, calculate, create tickets.",
                                          on_list_tools=self._list_tools, on_call_tool=self._call_tool)
        # Stateless: no session outlives its request, so nothing of one caller can serve the next. JSON responses:
        # a tool call answers once, with no notifications to stream. No DNS-rebinding check: a browser page on a
        # rebound name still needs the API key, which it does not have.
        self.sessions = StreamableHTTPSessionManager(self.server, stateless=True, json_response=True)
        self._app = ServerErrors(self._authorised)

    async def _list_tools(self, ctx: ServerRequestContext[Any, Any],
                          _params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        caller = _caller(ctx)
        tools = caller.platform.tools.registry.for_caller(ToolCaller(caller.identity, caller.ctx))
        # Private and never fresh: the list is this key's, and a grant or scope may change any time.
        return types.ListToolsResult(tools=[mcp_tool(tool) for tool in tools], ttl_ms=0, cache_scope="private")

    async def _call_tool(self, ctx: ServerRequestContext[Any, Any],
                         params: types.CallToolRequestParams) -> types.CallToolResult:
        caller = _caller(ctx)
        call = await run_in_threadpool(caller.platform.tools.call, params.name, dict(params.arguments or {}),
                                       ToolCaller(caller.identity, caller.ctx), one_call())
        return mcp_result(call)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _authorised(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller = await self.gate.caller(Request(scope, receive), ROUTE)
        except (GroundworkError, ApiError) as exc:
            await (await _error(Request(scope, receive), exc))(scope, receive, send)
            return
        scope[_CALLER_KEY] = caller
        await self.sessions.handle_request(scope, receive, send)

    def route(self) -> Route:
        return Route(PATH, endpoint=self)  # an ASGI app as endpoint: every method reaches it, the SDK answers each

    def around(self, lifespan: Lifespan) -> Lifespan:
        """`lifespan` with the SDK's session manager running inside it (its task group serves the requests)."""

        @asynccontextmanager
        async def both(app: Any) -> AsyncIterator[Any]:
            async with lifespan(app) as state, self.sessions.run():
                yield state

        return both


async def _error(request: Request, exc: Exception) -> Response:
    """The API's JSON error for a refusal at the door (401 with WWW-Authenticate, 429 with Retry-After, 503)."""
    handler = EXCEPTION_HANDLERS[ApiError if isinstance(exc, ApiError) else GroundworkError]
    return await handler(request, exc)
