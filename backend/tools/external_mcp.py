"""External MCP servers' allowlisted tools as registry Tools (`<server>__<tool>`), listed and called with the `mcp` SDK."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, AsyncIterator, Callable, Coroutine, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from backend.clock import utc_now
from backend.tools.external_config import ServerConfig
from backend.tools.spec import Tool, ToolCaller, ToolError, ToolOutput

logger = logging.getLogger(__name__)
T = TypeVar("T")

_GRACE_S = 1.0  # the SDK's own deadline, past the executor's: the executor reports the timeout, this frees the thread
_LIST_PAGES = 20  # a server paging its tools/list beyond this is cut off (and says so in the log)
_SHOWN_CHARS = 300  # of a server's error text in a call's message


@dataclass(frozen=True)
class ExternalTool(Tool):
    """A tool of an external MCP server: offered with the server's own JSON schema, run by calling the server."""

    server: str = ""
    remote_name: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict, compare=False)

    def schema(self) -> dict[str, Any]:
        return self.input_schema


@dataclass
class ServerStatus:
    """What listing one server found: its registered tools, or why it is unavailable (its tools are then absent)."""

    name: str
    url: str
    available: bool = False
    error: str = ""
    tools: list[str] = field(default_factory=list)  # registered, as <server>__<tool>
    missing: list[str] = field(default_factory=list)  # allowlisted, but the server has no such tool
    not_allowed: list[str] = field(default_factory=list)  # on the server, not allowlisted: not registered
    refused: list[str] = field(default_factory=list)  # allowlisted, but its schema is unusable (with the reason)
    configured: bool = True  # False: its configuration is incomplete (no token), so it was never asked
    checked_at: datetime = field(default_factory=utc_now)  # naive UTC, when this listing ended

    @property
    def state(self) -> str:
        """connected, failed (it did not answer as it should), or not_configured (never asked: no URL or token)."""
        if self.available:
            return "connected"
        return "not_configured" if not self.configured or not self.url else "failed"


# --- arguments: the server's JSON schema, checked before the call and reported like pydantic's --------------------
def arguments_model(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A model whose validation is the server's JSON schema: the executor's ValidationError names the field
    ('arguments.city: Field required'); the parsed arguments travel as `values`. The schema must be usable."""
    from jsonschema.validators import validator_for

    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # SchemaError: the tool is refused at registration, never at a call
    validator = validator_class(schema)

    class ExternalArguments(BaseModel):
        model_config = ConfigDict(frozen=True)
        values: dict[str, Any]

        @model_validator(mode="before")
        @classmethod
        def _against_the_servers_schema(cls, data: Any) -> dict[str, Any]:
            problem = _first_problem(validator, data)
            if problem is not None:
                raise ValidationError.from_exception_data(cls.__name__, [problem])
            return {"values": data}

    ExternalArguments.__name__ = ExternalArguments.__qualname__ = f"{name}_arguments"
    return ExternalArguments


def _first_problem(validator: Any, data: Any) -> InitErrorDetails | None:
    """The most relevant violation, located at its field, in words that never repeat the value (which may be
    personal data, and the message goes to the audit log as it is)."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is None:
        return None
    loc: list[str | int] = list(error.absolute_path)
    keyword, expected = error.validator, error.validator_value
    instance = error.instance if isinstance(error.instance, dict) else {}
    if keyword == "required":
        loc.append(next((p for p in expected if p not in instance), str(expected)))
        message = "Field required"
    elif keyword == "additionalProperties" and expected is False:
        known = set(error.schema.get("properties", {}))
        loc.append(next((k for k in sorted(instance) if k not in known), "?"))
        message = "Extra inputs are not permitted"
    else:
        message = _explain(str(keyword), expected)
    return InitErrorDetails(type=PydanticCustomError("json_schema", "{message}", {"message": message}),
                            loc=tuple(loc), input=None)


def _explain(keyword: str, expected: Any) -> str:
    shown = json.dumps(expected, ensure_ascii=False, default=str)[:120]
    words = {
        "type": f"Input should be of type {shown}", "enum": f"Input should be one of {shown}",
        "const": f"Input should be {shown}", "minLength": f"String should have at least {shown} characters",
        "maxLength": f"String should have at most {shown} characters", "pattern": f"String should match {shown}",
        "minimum": f"Input should be greater than or equal to {shown}",
        "maximum": f"Input should be less than or equal to {shown}",
        "exclusiveMinimum": f"Input should be greater than {shown}",
        "exclusiveMaximum": f"Input should be less than {shown}", "minItems": f"List should have at least {shown} items",
        "maxItems": f"List should have at most {shown} items", "format": f"Input should be a valid {shown}",
    }
    return words.get(keyword, f"Input does not match the server's schema ({keyword})")


# --- talking to a server ------------------------------------------------------------------------------------------
def _token(server: ServerConfig) -> str | None:
    if server.token_env is None:
        return None
    token = os.environ.get(server.token_env, "").strip()
    if not token:
        raise ToolError(f"{server.name}: the environment variable {server.token_env} (token_env) is not set")
    return token


@asynccontextmanager
async def _client(server: ServerConfig, statuses: list[int], timeout_s: float) -> AsyncIterator[Any]:
    """An MCP session with the server (bearer token from its variable); HTTP error statuses land in `statuses`."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    token = _token(server)

    async def note(response: Any) -> None:  # the SDK reports a 401 only as "an error response": keep the status
        if response.status_code >= 400:
            statuses.append(response.status_code)

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout_s),
                                  event_hooks={"response": [note]}) as http, \
            Client(streamable_http_client(server.url, http_client=http), read_timeout_seconds=timeout_s) as client:
        yield client


def _reason(exc: BaseException, statuses: list[int], server: ServerConfig, timeout_s: float) -> str:
    """A failure in words for logs and callers: the innermost cause (task groups wrap it), never the token."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if statuses:
        hint = f" (check the token in {server.token_env})" if statuses[-1] in (401, 403) and server.token_env else ""
        return f"HTTP {statuses[-1]}{hint}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:_SHOWN_CHARS]}" if text else type(exc).__name__


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`work()` on an event loop of its own, in a thread of its own when this thread runs one already (the MCP door
    and the API list tools on theirs)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(work())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="mcp-client", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _call(server: ServerConfig, remote_name: str, timeout_s: float, platform: Any, _caller: ToolCaller,
          arguments: BaseModel) -> ToolOutput:
    """One call of the server's tool. The executor validated, rate-limited and times it, and redacts the result."""
    import anyio
    import mcp_types as types

    values = dict(getattr(arguments, "values", {}))
    statuses: list[int] = []

    async def work() -> Any:
        with anyio.fail_after(timeout_s + _GRACE_S):
            async with _client(server, statuses, timeout_s) as client:
                return await client.call_tool(remote_name, values, read_timeout_seconds=timeout_s)

    name = server.registered_name(remote_name)
    try:
        result = _run(work)
    except ToolError:
        raise
    except Exception as exc:
        reason = _reason(exc, statuses, server, timeout_s)
        logger.warning("external MCP tool %s failed: %s", name, reason)
        raise ToolError(f"{name}: the MCP server {server.name} did not answer ({reason})") from None
    parts = [block.text if isinstance(block, types.TextContent) else f"[{block.type} content left out]"
             for block in result.content]
    text = "\n".join(parts)
    if result.is_error:
        from backend.pii import get_redactor  # the executor redacts results, not messages: this one is the server's

        raise ToolError(f"{name}: the server refused: {get_redactor(platform.settings)(text[:_SHOWN_CHARS])}")
    if len(text) > server.max_result_chars:
        text = f"{text[:server.max_result_chars]}\n[cut at {server.max_result_chars:,} characters]"
    data: dict[str, Any] = {"server": server.name, "tool": remote_name}
    structured = result.structured_content
    if structured is not None and len(json.dumps(structured, default=str)) <= server.max_result_chars:
        data["structured"] = structured
    return ToolOutput(text=text, data=data)


# --- listing: the allowlisted tools each server has ---------------------------------------------------------------
def _list_one(server: ServerConfig) -> tuple[list[Any], ServerStatus]:
    """(the server's tools, its status with the error if it could not be listed)."""
    import anyio

    status = ServerStatus(name=server.name, url=server.url)
    statuses: list[int] = []

    async def work() -> list[Any]:
        found: list[Any] = []
        with anyio.fail_after(server.timeout_s + _GRACE_S):
            async with _client(server, statuses, server.timeout_s) as client:
                cursor = None
                for _ in range(_LIST_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    found.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        return found
        logger.warning("external MCP server %s lists more than %d pages of tools: the rest are left out",
                       server.name, _LIST_PAGES)
        return found

    found: list[Any] = []
    try:
        found = _run(work)
    except ToolError as exc:  # only _token raises it here: the server was never asked
        status.error, status.configured = str(exc).removeprefix(f"{server.name}: "), False
    except Exception as exc:
        status.error = _reason(exc, statuses, server, server.timeout_s)
    status.checked_at = utc_now()
    return found, status


def list_server(server: ServerConfig) -> tuple[list[ExternalTool], ServerStatus]:
    """One server listed now: its allowlisted tools wrapped, or none and its status with the error."""
    found, status = _list_one(server)
    if status.error:
        logger.warning("external MCP server %s (%s) is unavailable: %s; its tools are not registered",
                       server.name, server.url, status.error)
        return [], status
    status.available = True
    return _wrap(server, found, status), status


def external_tools(servers: list[ServerConfig]) -> tuple[list[ExternalTool], list[ServerStatus]]:
    """Each server listed (at once, each within its timeout); its allowlisted tools wrapped. An unreachable server
    is logged and reported, and its tools are absent: the platform and the other tools work on."""
    if not servers:
        return [], []
    with ThreadPoolExecutor(max_workers=min(8, len(servers)), thread_name_prefix="mcp-list") as pool:
        listed = list(pool.map(list_server, servers))
    tools = [tool for found, _ in listed for tool in found]
    return tools, [status for _, status in listed]


def _wrap(server: ServerConfig, found: list[Any], status: ServerStatus) -> list[ExternalTool]:
    by_name = {tool.name: tool for tool in found}
    allowed = {entry.name: entry for entry in server.tools}
    status.not_allowed = sorted(set(by_name) - set(allowed))
    status.missing = sorted(set(allowed) - set(by_name))
    for name in status.missing:
        logger.warning("external MCP server %s has no tool %r (allowlisted in mcp_servers): not registered",
                       server.name, name)
    wrapped: list[ExternalTool] = []
    for entry in server.tools:
        remote = by_name.get(entry.name)
        if remote is None:
            continue
        name = server.registered_name(entry.name)
        schema = dict(remote.input_schema or {"type": "object"})
        try:
            model = arguments_model(name, schema)
        except Exception as exc:  # jsonschema's SchemaError, or a schema it cannot even read
            status.refused.append(f"{entry.name}: its input schema is not valid JSON Schema ({type(exc).__name__})")
            logger.warning("external MCP tool %s refused: its input schema is not valid JSON Schema", name)
            continue
        hints = remote.annotations
        if entry.read_only and hints is not None and hints.read_only_hint is False:
            logger.warning("external MCP tool %s: the server says it writes; mcp_servers marks it read-only", name)
        description = entry.description or (remote.description or remote.title or entry.name)[:1000]
        timeout_s = entry.timeout_s or server.timeout_s
        wrapped.append(ExternalTool(
            name=name, description=f"[{server.name}, an external MCP server] {description}", arguments=model,
            run=partial(_call, server, entry.name, timeout_s), writes=not entry.read_only, timeout_s=timeout_s, roles=frozenset(entry.roles or server.roles),
            scope=entry.scope or ("read" if entry.read_only else "admin"), per_minute=entry.per_minute,
            server=server.name, remote_name=entry.name, input_schema=schema))
        status.tools.append(name)
    return wrapped
