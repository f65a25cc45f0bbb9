"""External MCP servers' status and retry: a server down at start shows failed with its error and none of its
tools; once it is up, a retry connects it and its tools join the live registry; only operators and admins see or
retry; an unknown name is NotFound; a missing token is 'not configured'; no URL query reaches the view."""
from __future__ import annotations

import json

import pytest

from backend.context import RequestContext
from backend.models import Forbidden, NotFound
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.external_status import retry_server, server_views, shown_url
from backend.tools.spec import OK
from tests.live_server import free_port
from tests.tools.mcp_process import mcp_server
from tests.tools.test_external_mcp import ENV, TOKEN, caller, weather_server


def _ctx(platform, role: str) -> RequestContext:
    return RequestContext.for_tenant(platform.settings, "acme", user=f"ann-{role}", role=role)


@pytest.fixture
def down(tmp_path, monkeypatch):
    """A platform whose weather server is configured on a port nobody listens on yet."""
    port = free_port()
    monkeypatch.setenv(ENV, TOKEN)
    servers = json.dumps([weather_server(f"http://127.0.0.1:{port}/mcp?tenant=acme&key=hidden", timeout_s=3)])
    with Platform(Settings(data_dir=tmp_path / "data", mcp_servers=servers, spacy_model="")) as platform:
        yield platform, port


def test_a_server_down_at_start_shows_failed_and_a_retry_once_it_is_up_registers_its_tools(down, tmp_path):
    platform, port = down
    registry = platform.tools.registry
    [before] = server_views(registry, _ctx(platform, "operator"))
    assert (before.name, before.state, before.tools) == ("weather", "failed", [])
    assert "ConnectError" in before.error and "weather__lookup" not in registry.names()
    assert before.url == f"http://127.0.0.1:{port}/mcp"  # the query (it might hold a key) is left out

    again = retry_server(platform, _ctx(platform, "admin"), "weather")  # still down: the new error is recorded
    assert again.state == "failed" and again.checked_at >= before.checked_at
    with mcp_server(port, TOKEN, tmp_path):
        view = retry_server(platform, _ctx(platform, "operator"), "weather")
        assert (view.state, view.error, view.tools) == ("connected", "", ["weather__lookup", "weather__book"])
        assert view.missing == ["forecast"] and view.to_dict()["tool_count"] == 2
        assert {"weather__lookup", "weather__book"} <= set(registry.names())
        assert [v.state for v in server_views(registry, _ctx(platform, "operator"))] == ["connected"]
        # the live registry, the one every session's executor uses: a call goes through
        call = platform.tools.call("weather__lookup", {"city": "Oslo"}, caller(platform))
        assert call.outcome == OK, call.message
    down_again = retry_server(platform, _ctx(platform, "operator"), "weather")  # its tools leave with it
    assert down_again.state == "failed" and "weather__lookup" not in registry.names()
    assert registry.get("calculate") is not None  # the built-ins stay
    retries = platform.store.query(
        "SELECT target, json_extract_string(details, '$.state') FROM audit_log"
        " WHERE action = 'tool_server.retry' ORDER BY rowid")
    assert [tuple(row) for row in retries] == [("weather", "failed"), ("weather", "connected"), ("weather", "failed")]


def test_only_operators_and_admins_see_or_retry_and_an_unknown_name_is_not_found(down):
    platform, _ = down
    registry = platform.tools.registry
    for role in ("analyst", "stakeholder"):
        with pytest.raises(Forbidden, match=f"the role {role} may not"):
            server_views(registry, _ctx(platform, role))
        with pytest.raises(Forbidden):
            retry_server(platform, _ctx(platform, role), "weather")
    with pytest.raises(NotFound, match="no external tool server named 'crm' \\(configured: weather\\)") as missing:
        retry_server(platform, _ctx(platform, "admin"), "crm")
    assert missing.value.field == "name"


def test_a_missing_token_is_not_configured_and_none_configured_is_an_empty_list(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    servers = json.dumps([weather_server(f"http://127.0.0.1:{free_port()}/mcp")])
    with Platform(Settings(data_dir=tmp_path / "a", mcp_servers=servers, spacy_model="")) as platform:
        [view] = server_views(platform.tools.registry, _ctx(platform, "operator"))
        assert view.state == "not_configured" and "token_env" in view.error
    with Platform(Settings(data_dir=tmp_path / "b", spacy_model="")) as platform:
        assert server_views(platform.tools.registry, _ctx(platform, "admin")) == []


def test_the_shown_url_keeps_scheme_host_port_and_path_only():
    assert shown_url("https://crm.example.com:8443/mcp/v1?api_key=abc#frag") == "https://crm.example.com:8443/mcp/v1"
    assert shown_url("http://[::1]:9000/mcp") == "http://[::1]:9000/mcp" and shown_url("") == ""


def test_two_retries_at_once_leave_one_consistent_registry(down, tmp_path):
    """The registry is shared by every session: concurrent retries swap under its lock, none drops the other."""
    from concurrent.futures import ThreadPoolExecutor

    platform, port = down
    registry = platform.tools.registry
    with mcp_server(port, TOKEN, tmp_path), ThreadPoolExecutor(4) as pool:
        views = list(pool.map(lambda _: retry_server(platform, _ctx(platform, "admin"), "weather"), range(4)))
    assert {v.state for v in views} == {"connected"}
    assert [s.name for s in registry.servers] == ["weather"]
    assert sorted(n for n in registry.names() if n.startswith("weather__")) == ["weather__book", "weather__lookup"]
