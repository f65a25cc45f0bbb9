"""The MCP server at /mcp on the real server, through the SDK's own streamable-HTTP client (both protocol eras): each
request authenticated by its API key, tools/list the key's tools, tools/call through the guarded executor."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from backend.tools.builtin import builtin_registry
from tests.gateway.api_client import GLOBEX_SIGNS
from tests.gateway.tools_world import READ_TOOLS, build_tools_world
from tests.live_server import serve

pytestmark = pytest.mark.slow
FEE = "international transfer fee"
UNSEEN_FIGURES = (*GLOBEX_SIGNS[1:], "7 EUR")  # globex's figures and acme-archive's: alice is granted neither


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    world = build_tools_world(tmp_path_factory.mktemp("mcp") / "data")
    with serve(world.data_dir) as url:
        yield url, world


def with_client(server, key: str, use: Callable[[Client], Awaitable[Any]], mode: str = "auto") -> Any:
    """`use(client)` in an MCP session as the world's key `key` (mode: 'auto' is 2026-07-28, 'legacy' the handshake)."""
    url, world = server

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {world.keys[key]}"}
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
                Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client:
            return await use(client)

    return asyncio.run(run())


async def _names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


def _text(result) -> str:
    return "\n".join(part.text for part in result.content)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tools_list_shows_the_keys_tools_with_their_schemas(server, mode):
    async def use(client: Client):
        return (await client.list_tools()).tools

    tools = with_client(server, "alice", use, mode)
    assert {tool.name for tool in tools} == READ_TOOLS  # create_ticket needs a key holding 'tickets'
    registry = builtin_registry()
    for tool in tools:
        assert tool.input_schema == registry.get(tool.name).schema() and tool.annotations.read_only_hint
    assert with_client(server, "alice_tickets", _names, mode) == READ_TOOLS | {"create_ticket"}
    assert with_client(server, "stan", _names, mode) == {"calculate"}


def test_each_request_is_its_own_callers_however_many_run_at_once(server):
    url, world = server

    async def both() -> tuple[set[str], ...]:
        async def names(key: str) -> set[str]:
            headers = {"Authorization": f"Bearer {world.keys[key]}"}
            async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
                    Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                return await _names(client)

        return tuple(await asyncio.gather(*(names(key) for key in ("stan", "alice_tickets", "alice") * 2)))

    assert asyncio.run(both()) == ({"calculate"}, READ_TOOLS | {"create_ticket"}, READ_TOOLS) * 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_calculate_returns_its_result_text(server, mode):
    async def use(client: Client):
        return await client.call_tool("calculate", {"expression": "3 * 12"})

    result = with_client(server, "alice", use, mode)
    assert not result.is_error and "= 36" in _text(result)
    assert result.structured_content["outcome"] == "ok" and result.structured_content["data"]["value"] == "36"


def test_search_documents_reads_the_callers_collection_and_nothing_else(server):
    async def use(client: Client):
        return [await client.call_tool("search_documents", {"query": FEE, "collection": name})
                for name in ("acme-policies", "globex-policies", "acme-archive")]

    granted, other_tenant, not_granted = with_client(server, "alice", use)
    assert not granted.is_error and "12 EUR" in _text(granted) and granted.structured_content["chunk_ids"]
    for refused in (other_tenant, not_granted):
        assert refused.is_error and "no such collection among those you can read" in _text(refused)
        assert not [sign for sign in UNSEEN_FIGURES if sign in _text(refused) + str(refused.structured_content)]

    async def bob(client: Client):  # globex's analyst with no grant: not even his own tenant's collection
        return await client.call_tool("search_documents", {"query": FEE, "collection": "globex-policies"})

    refused = with_client(server, "bob", bob)
    assert refused.is_error and "19 EUR" not in _text(refused)


def test_bad_arguments_are_an_error_naming_the_field(server):
    async def use(client: Client):
        return [await client.call_tool("calculate", arguments) for arguments in
                ({"expression": ""}, {"expression": "1", "precision": 2}, {"expression": "1 + " * 700})]

    empty, extra, oversized = with_client(server, "olga", use)
    assert empty.is_error and _text(empty).startswith("invalid: arguments.expression:")
    assert extra.is_error and "arguments.precision" in _text(extra)
    assert oversized.is_error and _text(oversized).startswith("invalid: arguments: ")
    assert empty.structured_content == {"outcome": "invalid", "message": _text(empty).removeprefix("invalid: ")}


def test_a_tool_the_key_may_not_call_is_refused_and_a_tickets_key_opens_a_ticket(server):
    arguments = {"title": "Call the customer back", "description": "They asked about a SWIFT fee refund."}

    async def call(client: Client):
        return await client.call_tool("create_ticket", arguments)

    refused = with_client(server, "alice", call)
    assert refused.is_error and _text(refused).startswith("forbidden:") and "'tickets'" in _text(refused)
    opened = with_client(server, "alice_tickets", call)
    assert not opened.is_error and _text(opened).startswith("Ticket #")
    assert opened.structured_content["data"]["tenant"] == "acme"

    async def stakeholder(client: Client):
        return await client.call_tool("search_documents", {"query": FEE})

    assert "stakeholder role may not call it" in _text(with_client(server, "stan", stakeholder))


def test_without_a_valid_key_mcp_answers_401_as_the_api_does(server):
    url, world = server
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28"}
    for auth in ({}, {"Authorization": "Bearer gw_nope_nope"}, {"Authorization": f"Bearer {world.revoked_key}"},
                 {"Authorization": "Basic YWxpY2U6eA=="}):
        response = httpx.post(f"{url}/mcp", json=initialize, headers={**headers, **auth}, timeout=30)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["field"] == "authorization"

    async def use(client: Client):
        return await client.list_tools()

    unknown_key = (url, type(world)(world.data_dir, keys={"bad": "gw_nope_nope"}))
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's client: the session never opens
        with_client(unknown_key, "bad", use)
    assert refused.value.subgroup(lambda exc: isinstance(exc, MCPError)) is not None


def test_mcp_requests_count_against_the_keys_rate_limit_and_wait_for_the_platform(settings):
    """In process (the door as components/asgi.py mounts it): the gateway's per-key limit counts every MCP request."""
    from starlette.applications import Starlette

    from backend.gateway.mcp_server import McpDoor
    from backend.platform import Platform
    from tests.gateway.helpers import PASSWORD

    with Platform(settings.model_copy(update={"rate_limit_per_minute": 3})) as platform:
        platform.gateway.create_tenant("acme")
        platform.gateway.create_user("ann", "acme", "analyst", PASSWORD)
        key, _ = platform.gateway.create_key("ann", ["read"])
        served: list[Platform] = []
        door = McpDoor(lambda: served[0] if served else None)
        app = Starlette(routes=[door.route()])
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}}

        async def run() -> list[httpx2.Response]:
            transport = httpx2.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
            async with door.sessions.run(), httpx2.AsyncClient(transport=transport, base_url="http://gw",
                                                               headers=headers) as http:
                starting = await http.post("/mcp", json=ping)
                served.append(platform)
                return [starting] + [await http.post("/mcp", json=ping) for _ in range(4)]

        starting, *answers = asyncio.run(run())
    assert starting.status_code == 503 and "starting" in starting.json()["error"]["message"]
    assert [r.status_code for r in answers][:3] == [200] * 3 and answers[3].status_code == 429
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60 and "API key" in answers[3].json()["error"]["message"]
