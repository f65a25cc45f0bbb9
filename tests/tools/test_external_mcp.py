"""External MCP servers' tools in the registry: a real MCP server (tests/tools/mcp_test_server.py, the SDK's MCPServer
on 127.0.0.1) whose allowlisted tools only are registered, called through the guarded executor (schema, approval,
timeout, redaction), its bearer token read from an environment variable; an unreachable server leaves the rest."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from backend.agent.tool_loop import offered_tools, run_tool_loop
from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.gateway.roles import ROLE_SCOPES
from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.builtin import builtin_registry
from backend.tools.external_config import TOOL_NAME, parse_servers
from backend.tools.spec import FAILED, FORBIDDEN, INVALID, NEEDS_APPROVAL, OK, TIMEOUT, ToolCaller
from tests.agent.test_tool_loop import ScriptedModel
from tests.live_server import free_port
from tests.tools.mcp_process import mcp_server
from tests.tools.mcp_test_server import CONTACT

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-weather-token-4711"
ENV = "GW_TEST_WEATHER_TOKEN"
BUILTINS = set(builtin_registry().names())


def weather_server(url: str, **overrides) -> dict:
    """The allowlist: lookup (vouched read-only, 1 s), book (a write by default), forecast (the server has none)."""
    return {"name": "weather", "url": url, "token_env": ENV, "timeout_s": 5,
            "tools": [{"name": "lookup", "read_only": True, "timeout_s": 1}, "book", "forecast"], **overrides}


def offline_server() -> dict:
    return {"name": "offline", "url": f"http://127.0.0.1:{free_port()}/mcp", "tools": ["anything"], "timeout_s": 2}


@pytest.fixture(scope="module")
def weather(tmp_path_factory):
    """The MCP server in a process of its own (its SDK configures logging; none of it leaks into this one)."""
    folder = tmp_path_factory.mktemp("mcp-server")
    with mcp_server(free_port(), TOKEN, folder) as url:
        yield SimpleNamespace(url=url, record=folder / "bookings.jsonl")


@pytest.fixture(scope="module")
def platform(weather, tmp_path_factory):
    servers = json.dumps([weather_server(weather.url), offline_server()])
    with pytest.MonkeyPatch.context() as env:
        env.setenv(ENV, TOKEN)
        # Pattern recognizers only: the e-mail in lookup's answer is theirs to find, and no NER model loads.
        settings = Settings(data_dir=tmp_path_factory.mktemp("external") / "data", mcp_servers=servers, spacy_model="")
        with Platform(settings) as platform:
            yield platform


@pytest.fixture
def tools(platform):
    platform.gateway.limits.reset()
    return platform.tools


def caller(platform, role: str = "analyst", key_scopes: frozenset[str] | None = None) -> ToolCaller:
    identity = Identity(user=f"ann-{role}", tenant="acme", role=role, key_id=None if key_scopes is None else 41,
                        scopes=ROLE_SCOPES[role] if key_scopes is None else key_scopes)
    return ToolCaller(identity, RequestContext.for_tenant(platform.settings, "acme", user=identity.user, role=role))


def bookings(weather) -> list[dict]:
    return [json.loads(line) for line in weather.record.read_text().splitlines() if line.strip()]


# --- registration -------------------------------------------------------------------------------------------------
def test_only_the_allowlisted_tools_the_server_has_are_registered(platform, tools):
    registry = tools.registry
    assert set(registry.names()) == BUILTINS | {"weather__lookup", "weather__book"}  # no wipe_calendar, no forecast
    weather, offline = registry.servers
    assert (weather.available, weather.tools) == (True, ["weather__lookup", "weather__book"])
    assert (weather.missing, weather.not_allowed) == (["forecast"], ["wipe_calendar"])
    assert not offline.available and "ConnectError" in offline.error and registry.unavailable() == [offline]
    lookup, book = registry.get("weather__lookup"), registry.get("weather__book")
    assert (lookup.writes, lookup.scope, lookup.timeout_s) == (False, "read", 1)
    # book says read-only in its MCP annotations; the allowlist did not vouch for it, so it is a write
    assert (book.writes, book.scope, book.timeout_s) == (True, "admin", 5)
    assert lookup.schema()["properties"]["city"]["maxLength"] == 40 and lookup.schema()["required"] == ["city"]
    assert TOOL_NAME.match(lookup.openai()["function"]["name"]) and "external MCP server" in lookup.description
    assert platform.derive(top_k=3).tools.registry is registry  # a variant lists no server again


def test_a_call_goes_through_the_executor_and_returns_the_servers_result_redacted(platform, tools):
    call = tools.call("weather__lookup", {"city": "Oslo"}, caller(platform))
    assert call.outcome == OK, call.message
    # the city may be redacted too (a LOCATION, with an NER model): the server's answer, with no personal data left
    assert call.result.startswith("Sunny in ") and "21 C. Questions: <EMAIL_ADDRESS>" in call.result
    assert CONTACT not in call.result
    assert call.data["server"] == "weather" and CONTACT not in json.dumps(call.data)
    row = platform.gateway.audit_log(limit=1, action="tool.")[0]
    assert (row["actor"], row["action"], row["target"]) == ("ann-analyst", "tool.ok", "weather__lookup")
    assert tools.call("calculate", {"expression": "2 + 3"}, caller(platform)).result.endswith("= 5")


def test_arguments_are_checked_against_the_servers_schema_naming_the_field(platform, tools):
    ann = caller(platform)
    for arguments, message in (({"city": 5}, "arguments.city: Input should be of type \"string\""),
                               ({}, "arguments.city: Field required"),
                               ({"city": CONTACT * 3}, "arguments.city: String should have at most 40 characters"),
                               ({"city": "Oslo", "delay": "soon"}, "arguments.delay: Input should be of type \"number\"")):
        call = tools.call("weather__lookup", arguments, ann)
        assert (call.outcome, call.message) == (INVALID, message)
        assert CONTACT not in call.message  # the value is never repeated: messages go to the audit log as they are
    seats = tools.call("weather__book", {"title": "Gala", "seats": 12}, ann, approved=True)
    assert (seats.outcome, seats.message) == (INVALID, "arguments.seats: Input should be less than or equal to 9")


def test_the_write_tool_needs_approval_or_a_key_holding_its_scope(platform, tools, weather):
    arguments = {"title": "the spring gala", "seats": 2}
    before = bookings(weather)
    asked = tools.call("weather__book", arguments, caller(platform))
    assert asked.outcome == NEEDS_APPROVAL and asked.writes and bookings(weather) == before
    ask_key = tools.call("weather__book", arguments, caller(platform, "operator", frozenset({"read", "ask", "tickets"})))
    assert ask_key.outcome == FORBIDDEN and "'admin' scope" in ask_key.message and bookings(weather) == before
    approved = tools.call("weather__book", arguments, caller(platform), approved=True)
    assert approved.outcome == OK and approved.result == "Booked 2 seats for the spring gala"
    opera = {"title": "the opera", "seats": 1}
    assert tools.call("weather__book", opera, caller(platform, "admin", frozenset({"admin"}))).outcome == OK
    assert bookings(weather)[len(before):] == [arguments, opera]
    refused = tools.call("weather__book", {"title": "the sold out show", "seats": 1}, caller(platform), approved=True)
    assert refused.outcome == FAILED and refused.message.startswith("weather__book: the server refused: ")
    assert "no seats left" in refused.message and CONTACT not in refused.message  # its words, redacted
    assert len(bookings(weather)) == len(before) + 2


def test_a_slow_tool_trips_its_timeout(platform, tools):
    call = tools.call("weather__lookup", {"city": "Oslo", "delay": 3}, caller(platform))
    assert (call.outcome, call.message) == (TIMEOUT, "weather__lookup: no result within 1 s")


def test_the_tool_loop_offers_the_read_tool_to_a_model_and_runs_its_call(platform, tools):
    ann = caller(platform)
    question = "What is the weather in Bergen today?"
    offered = offered_tools(tools.registry, ann, question)
    assert "weather__lookup" in [t.name for t in offered] and "weather__book" not in [t.name for t in offered]
    model = ScriptedModel([[("weather__lookup", {"city": "Bergen"})]])
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": question}]
    result = run_tool_loop(model, "m", messages, offered, tools, ann, tools.budget())
    assert [(c.tool, c.outcome) for c in result.calls] == [("weather__lookup", OK)]
    assert result.calls[0].result.startswith("Sunny in ") and result.stopped == "no tool calls"
    sent = {t["function"]["name"]: t["function"] for t in model.sent[0]["tools"]}
    assert sent["weather__lookup"]["parameters"] == tools.registry.get("weather__lookup").schema()


# --- servers that cannot be used ----------------------------------------------------------------------------------
def test_a_wrong_or_missing_token_or_no_server_leaves_the_platform_working(weather, tmp_path, monkeypatch, caplog):
    servers = json.dumps([weather_server(weather.url), offline_server()])
    monkeypatch.setenv(ENV, "not-the-token")
    caplog.set_level(logging.WARNING, logger="backend.tools")
    with Platform(Settings(data_dir=tmp_path / "data", mcp_servers=servers)) as platform:
        registry = platform.tools.registry
        assert set(registry.names()) == BUILTINS
        wrong, offline = registry.servers
        assert wrong.error == f"HTTP 401 (check the token in {ENV})" and not offline.available
        assert f"external MCP server weather ({weather.url}) is unavailable: HTTP 401" in caplog.text
        monkeypatch.delenv(ENV)
        assert registry.refresh()[0].error == f"the environment variable {ENV} (token_env) is not set"
        monkeypatch.setenv(ENV, TOKEN)  # the right token now: a refresh registers the server's tools
        assert registry.refresh()[0].available and "weather__lookup" in registry.names()
        assert TOKEN not in caplog.text and "not-the-token" not in caplog.text


# --- the setting ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("entry", "message"), [
    ({"token": "abc"}, "mcp_servers[0]: token: no secret in the configuration; put the token in an environment variable"),
    ({"url": "ftp://x/mcp"}, "mcp_servers[0].url: give the server's http:// or https:// endpoint"),
    ({"url": "https://me:pw@x.example/mcp"}, "mcp_servers[0].url: no credentials in the URL"),
    ({"tools": ["*"]}, "mcp_servers[0].tools[0].name: list each tool by its name: no wildcards"),
    ({"tools": []}, "mcp_servers[0].tools: List should have at least 1 item"),
    ({"roles": ["guest"]}, "mcp_servers[0]: roles: 'guest' is not a role"),
    ({"tools": [{"name": "a", "scope": "root"}]}, "mcp_servers[0]: tools.a.scope: 'root' is not a scope"),
    ({"name": "a__b"}, "mcp_servers[0].name: use 1-30 letters"),
    ({"tools": ["x" * 60]}, "is not a tool name models accept"),
    ({"token_env": "Bearer abc"}, "mcp_servers[0].token_env: the name of an environment variable"),
])
def test_a_bad_entry_is_refused_naming_its_place(entry, message):
    server = {**weather_server("http://127.0.0.1:9/mcp"), **entry}
    with pytest.raises(InputError) as refused:
        parse_servers(json.dumps([server]))
    assert message in str(refused.value) and refused.value.field == "mcp_servers"
    with pytest.raises(ValidationError, match=r"mcp_servers"):
        Settings(mcp_servers=json.dumps([server]))


def test_the_setting_reads_json_or_a_toml_or_json_file(tmp_path):
    assert parse_servers("") == []
    toml = tmp_path / "mcp.toml"
    toml.write_text('[[servers]]\nname = "crm"\nurl = "https://crm.example/mcp"\ntoken_env = "CRM_TOKEN"\n'
                    'tools = ["open_case", { name = "find", read_only = true, roles = ["admin"] }]\n')
    [crm] = parse_servers(str(toml))
    assert (crm.name, crm.token_env, [t.name for t in crm.tools], crm.tools[1].read_only) == (
        "crm", "CRM_TOKEN", ["open_case", "find"], True)
    as_json = tmp_path / "mcp.json"
    as_json.write_text(json.dumps({"servers": [weather_server("http://127.0.0.1:9/mcp")]}))
    assert [s.name for s in parse_servers(str(as_json))] == ["weather"]
    twice = json.dumps([weather_server("http://a.example/mcp"), weather_server("http://b.example/mcp")])
    for value, message in ((twice, "two servers are named 'weather'"), ("[{", "not valid JSON"),
                           (str(tmp_path / "none.json"), "cannot read"), ("servers.yaml", "neither JSON nor")):
        with pytest.raises(InputError, match=message):
            parse_servers(value)
