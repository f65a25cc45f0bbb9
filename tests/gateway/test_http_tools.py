"""/api/v1/tools against the real server: the tools a key may call, calls through the guarded executor as the key's
user, and each refusal's status (404, 403, 422 naming the field, 429 with Retry-After); the mapping of the outcomes
no real tool trips on demand (timeout, a tool's own bug, approval) is checked on ToolCall records."""
from __future__ import annotations

import pytest

from backend.gateway import api_models_tools as mt
from backend.gateway.http_tools import refusal, retry_after
from backend.tools.builtin import builtin_registry
from backend.tools.spec import FAILED, NEEDS_APPROVAL, RATE_LIMITED, TIMEOUT, ToolCall
from tests.gateway.api_client import GLOBEX_SIGNS, api_error, leaks, live_api
from tests.gateway.tools_world import READ_TOOLS, build_tools_world

pytestmark = pytest.mark.slow
TOOL_LIMIT = 4  # calls per user per tool per minute on this server: the rate-limit test trips it as ada
FEE = "international transfer fee"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    world = build_tools_world(tmp_path_factory.mktemp("tools") / "data")
    with live_api(world, env={"GROUNDWORK_TOOL_RATE_LIMIT_PER_MINUTE": str(TOOL_LIMIT)}) as served:
        yield served


def _call(api, key: str | None, name: str, arguments: dict | None = None, **body):
    return api("POST", f"/api/v1/tools/{name}", key, json={"arguments": arguments or {}, **body})


def _names(api, key: str) -> set[str]:
    listing = mt.ToolList.model_validate(api.ok("GET", "/api/v1/tools", key))
    return {tool.name for tool in listing.tools}


# --- listing ----------------------------------------------------------------------------------------------------
def test_a_key_lists_the_tools_its_role_and_scopes_may_call(api):
    listing = mt.ToolList.model_validate(api.ok("GET", "/api/v1/tools", "alice"))
    assert {tool.name for tool in listing.tools} == READ_TOOLS  # no create_ticket: the key lacks 'tickets'
    registry = builtin_registry()
    for tool in listing.tools:
        assert tool.arguments == registry.get(tool.name).schema() and not tool.writes and tool.scope == "read"
    assert _names(api, "alice_tickets") == READ_TOOLS | {"create_ticket"}
    ticket = next(t for t in api.ok("GET", "/api/v1/tools", "olga_tickets")["tools"] if t["name"] == "create_ticket")
    assert ticket["writes"] is True and ticket["scope"] == "tickets"
    assert _names(api, "stan") == {"calculate"}  # stakeholders read no documents' text


def test_listing_and_calling_need_a_valid_key(api):
    assert api_error(api("GET", "/api/v1/tools"), 401)["field"] == "authorization"
    assert api_error(_call(api, None, "calculate", {"expression": "1 + 1"}), 401)["field"] == "authorization"
    revoked = api.client.get("/api/v1/tools", headers={"Authorization": f"Bearer {api.world.revoked_key}"})
    assert api_error(revoked, 401)["field"] == "authorization"


# --- calls that run -----------------------------------------------------------------------------------------------
def test_calculate_runs_and_answers_with_the_calls_record(api):
    record = mt.ToolCallRecord.model_validate(api.ok("POST", "/api/v1/tools/calculate", "alice",
                                                     json={"arguments": {"expression": "3 * 12"}}))
    assert record.outcome == "ok" and record.tool == "calculate" and record.message == ""
    assert record.data["value"] == "36" and "= 36" in record.result
    assert record.arguments == {"expression": "3 * 12"} and record.duration_ms > 0 and not record.writes


def test_search_reads_the_callers_collection_and_nothing_of_another_tenant(api):
    response = _call(api, "alice", "search_documents", {"query": FEE, "collection": "acme-policies"})
    record = mt.ToolCallRecord.model_validate(response.json())
    assert response.status_code == 200 and "12 EUR" in record.result and record.chunk_ids
    assert record.data["collection"] == "acme-policies" and not leaks(response, "alice")
    # The body's collection is the search's default when the arguments name none.
    by_default = _call(api, "alice", "search_documents", {"query": FEE}, collection="acme-policies")
    assert by_default.status_code == 200 and "12 EUR" in by_default.json()["result"]
    for key, collection in (("alice", "globex-policies"), ("alice", "acme-archive"), ("bob", "globex-policies")):
        refused = _call(api, key, "search_documents", {"query": FEE, "collection": collection})
        error = api_error(refused, 422)
        assert "no such collection among those you can read" in error["message"]
        assert refused.json()["call"]["outcome"] == "failed" and refused.json()["call"]["chunk_ids"] == []
        assert not [sign for sign in GLOBEX_SIGNS[1:] + ("7 EUR",) if sign in refused.text], refused.text


def test_a_key_with_the_tickets_scope_opens_a_ticket_without_approval(api):
    arguments = {"title": "Call the customer back", "description": "They asked about a SWIFT fee refund."}
    record = api.ok("POST", "/api/v1/tools/create_ticket", "alice_tickets", json={"arguments": arguments})
    assert record["outcome"] == "ok" and record["writes"] is True
    assert record["data"]["tenant"] == "acme" and record["data"]["ticket_id"] >= 1
    refused = _call(api, "alice", "create_ticket", arguments)  # the same user, with a key lacking the scope
    error = api_error(refused, 403)
    assert "'tickets'" in error["message"] and refused.json()["call"]["outcome"] == "forbidden"


# --- refusals -----------------------------------------------------------------------------------------------------
def test_bad_arguments_are_422_naming_the_field(api):
    cases = [({"expression": ""}, "arguments.expression"), ({"expression": "1", "precision": 2}, "arguments.precision"),
             ({}, "arguments.expression"), ({"expression": "1 + " * 700}, "arguments")]
    for arguments, field in cases:
        response = _call(api, "olga", "calculate", arguments)
        error = api_error(response, 422)
        assert error["field"] == field and error["message"].startswith(field + ":"), error
        assert response.json()["call"]["outcome"] == "invalid"
    # The request body itself: not an object of arguments, or a field the route does not know.
    assert api_error(api("POST", "/api/v1/tools/calculate", "olga", json={"arguments": "1 + 1"}), 422)["field"] == "arguments"
    assert api_error(api("POST", "/api/v1/tools/calculate", "olga", json={"args": {}}), 422)["field"] == "args"


def test_an_unknown_tool_is_404_and_a_role_that_may_not_call_one_is_403(api):
    missing = _call(api, "alice", "delete_everything", {"all": True})
    error = api_error(missing, 404)
    assert error["field"] == "name" and "delete_everything" in error["message"]
    forbidden = _call(api, "stan", "search_documents", {"query": FEE})
    assert "stakeholder role may not call it" in api_error(forbidden, 403)["message"]
    assert forbidden.json()["call"]["outcome"] == "forbidden"


def test_past_the_tool_limit_a_call_is_429_with_retry_after(api):
    statuses = [_call(api, "ada", "calculate", {"expression": f"{n} + 1"}).status_code for n in range(TOOL_LIMIT)]
    assert statuses == [200] * TOOL_LIMIT
    limited = _call(api, "ada", "calculate", {"expression": "2 + 2"})
    error = api_error(limited, 429)
    assert limited.json()["call"]["outcome"] == "rate_limited" and "tool calculate" in error["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert f"retry in {limited.headers['Retry-After']} s" in error["message"]
    # Per user and per tool: ada's other tools, and other users' calculate, still run.
    assert _call(api, "ada", "search_documents", {"query": FEE, "collection": "acme-policies"}).status_code == 200
    assert _call(api, "olga", "calculate", {"expression": "2 + 2"}).status_code == 200


# --- outcomes no real tool trips on demand: their statuses ------------------------------------------------------
def test_a_timeout_is_504_and_a_tools_own_bug_500():
    status, body, _ = refusal(ToolCall("calculate", {}, TIMEOUT, message="calculate: no result within 2 s"),
                              builtin_registry().get("calculate"))
    assert status == 504 and body["call"]["outcome"] == TIMEOUT and body["error"]["field"] is None
    status, body, _ = refusal(ToolCall("calculate", {}, FAILED, message="calculate: the tool failed (see the server log)"),
                              builtin_registry().get("calculate"))
    assert status == 500
    mt.ToolRefusal.model_validate(body)


def test_a_tools_refusal_names_its_argument_and_approval_names_the_scope():
    tickets = builtin_registry().get("create_ticket")
    status, body, _ = refusal(ToolCall("create_ticket", {}, FAILED, message="arguments.conversation_id: no "
                                       "conversation 'c1' of yours"), tickets)
    assert (status, body["error"]["field"]) == (422, "arguments.conversation_id")
    status, body, _ = refusal(ToolCall("create_ticket", {}, NEEDS_APPROVAL, message="approve it"), tickets)
    assert status == 403 and "API key that holds the 'tickets' scope" in body["error"]["message"]


def test_retry_after_comes_from_the_limiters_message_and_stays_within_the_window():
    assert retry_after(ToolCall("calculate", {}, RATE_LIMITED, message="...; retry in 17 s")) == 17
    assert retry_after(ToolCall("calculate", {}, RATE_LIMITED, message="rate limit")) == 60
    status, _, headers = refusal(ToolCall("calculate", {}, RATE_LIMITED, message="x; retry in 3 s"), None)
    assert (status, headers) == (429, {"Retry-After": "3"})
