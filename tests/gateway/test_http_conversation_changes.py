"""Managing conversations over the API against the real server: search (?q=), rename (PATCH), delete (DELETE) and
export (Markdown, JSON with citations; audited), each only of the caller's own; anyone else's answers as unknown."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest

from backend.gateway import api_models_history as mh
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.api_client import FEE, Api, api_error, live_api
from tests.gateway.api_world import World, build_world

pytestmark = pytest.mark.slow
CARDS = "How many days does a customer have to report a card payment they did not make?"
DOMESTIC = "and for domestic transfers?"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    built = build_world(tmp_path_factory.mktemp("conversation-changes") / "data")
    shutil.copytree(built.data_dir, built.data_dir.parent / "spare")  # for the audit test's own server
    return built


@pytest.fixture(scope="module")
def api(world):
    with live_api(world) as served:
        yield served


@pytest.fixture(scope="module")
def talk(api) -> dict[str, dict]:
    """alice: fees (two turns) then cards; olga: the archive; ada (admin): globex."""
    fees = api.ask("alice", FEE, "acme-policies")
    api.ask("alice", DOMESTIC, "acme-policies", fees["conversation_id"])
    return {"fees": fees, "cards": api.ask("alice", CARDS, "acme-policies"),
            "archive": api.ask("olga", FEE, "acme-archive"), "globex": api.ask("ada", FEE, "globex-policies")}


def _listed(api: Api, key: str, **params) -> list[str]:
    page = mh.ConversationList.model_validate(api.ok("GET", "/api/v1/conversations", key, params=params))
    return [c.id for c in page.conversations]


def _title(api: Api, conversation_id: str) -> str:
    return api.ok("GET", f"/api/v1/conversations/{conversation_id}", "alice")["title"]


# --- search -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, q, expected", [
    ("alice", "domestic", ["fees"]),  # the follow-up question
    ("alice", "45 DAYS", ["cards"]),  # an answer's text, any case
    ("alice", "", ["cards", "fees"]),  # blank: everything, newest first
    ("alice", "no conversation holds this", []),
    ("olga", "international transfers", ["archive"]),  # alice's hold it too, but are not olga's
    ("ada", "international transfers", ["globex"]),  # even the admin finds only their own
    ("bob", "international transfers", []),
])
def test_search_finds_only_the_callers_own_conversations(api, talk, key, q, expected):
    assert _listed(api, key, q=q) == [talk[name]["conversation_id"] for name in expected]


def test_search_narrowed_by_collection_and_its_bad_parameters(api, talk):
    assert _listed(api, "alice", q="transfers", collection="acme-policies") == [talk["fees"]["conversation_id"]]
    api_error(api("GET", "/api/v1/conversations", "alice", params={"q": "fee", "collection": "acme-archive"}), 404)
    assert api_error(api("GET", "/api/v1/conversations", "alice", params={"q": "x" * 201}), 422)["field"] == "q"
    assert api_error(api("GET", "/api/v1/conversations", "alice",
                         params=[("q", "fee"), ("q", "card")]), 422)["field"] == "q"


# --- rename -------------------------------------------------------------------------------------------
def test_rename_stores_the_title_redacted_and_keeps_the_order(api, talk):
    fees = talk["fees"]["conversation_id"]
    order = _listed(api, "alice")
    renamed = mh.ConversationSummary.model_validate(api.ok(
        "PATCH", f"/api/v1/conversations/{fees}", "alice", json={"title": "Transfer fees, call +1 415-555-0134"}))
    assert renamed.id == fees and renamed.turns == 2
    assert renamed.title.startswith("Transfer fees, call ") and "415-555-0134" not in renamed.title
    assert _title(api, fees) == renamed.title and _listed(api, "alice") == order
    assert _listed(api, "alice", q="transfer fees, call") == [fees]


@pytest.mark.parametrize("body, status, field", [
    ({"title": ""}, 422, "title"),
    ({"title": "x" * 121}, 422, "title"),
    ({"title": "  \t "}, 400, "title"),
    ({"title": 5}, 422, "title"),
    ({}, 422, "title"),
    ({"title": "ok", "owner": "olga"}, 422, "owner"),
])
def test_a_bad_title_is_refused_naming_the_field(api, talk, body, status, field):
    cards = talk["cards"]["conversation_id"]
    before = _title(api, cards)
    assert api_error(api("PATCH", f"/api/v1/conversations/{cards}", "alice", json=body), status)["field"] == field
    assert _title(api, cards) == before


def test_renaming_and_deleting_need_the_ask_scope_and_a_key(api, talk):
    cards = talk["cards"]["conversation_id"]
    for method, kwargs in (("PATCH", {"json": {"title": "mine"}}), ("DELETE", {})):
        assert "'ask'" in api_error(api(method, f"/api/v1/conversations/{cards}", "alice_read", **kwargs), 403)["message"]
        api_error(api(method, f"/api/v1/conversations/{cards}", None, **kwargs), 401)
    assert _listed(api, "alice")[0] == cards


@pytest.mark.parametrize("key", ["olga", "stan", "gina", "bob", "ada"])  # same tenant, other tenants, the admin
def test_another_users_conversation_cannot_be_renamed_exported_or_deleted(api, talk, key):
    fees = talk["fees"]["conversation_id"]
    title = _title(api, fees)
    calls = [("PATCH", "", {"json": {"title": "taken over"}}), ("GET", "/export", {}),
             ("GET", "/export", {"params": {"format": "json"}}), ("DELETE", "", {})]
    for method, suffix, kwargs in calls:
        unknown = api(method, f"/api/v1/conversations/{'0' * 32}{suffix}", key, **kwargs)
        foreign = api(method, f"/api/v1/conversations/{fees}{suffix}", key, **kwargs)
        assert foreign.status_code == unknown.status_code and foreign.status_code in (403, 404), (method, suffix)
        assert foreign.text.replace(fees, "<id>") == unknown.text.replace("0" * 32, "<id>")
    assert _title(api, fees) == title and fees in _listed(api, "alice")


# --- export -------------------------------------------------------------------------------------------
def test_export_as_markdown_is_a_download_of_the_conversation(api, talk):
    fees = talk["fees"]["conversation_id"]
    response = api("GET", f"/api/v1/conversations/{fees}/export", "alice")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(f'-{fees[:8]}.md"')
    text = response.text
    assert text.startswith(f"# {_title(api, fees)}\n") and "Collection **acme-policies**" in text
    assert f"## 1. {FEE}" in text and f"## 2. {DOMESTIC}" in text and "Searched as: " in text
    assert "12 EUR" in text and "- [1] Acme fees" in text and "  > " in text


def test_export_as_json_holds_every_answer_with_its_citations(api, talk):
    fees = talk["fees"]["conversation_id"]
    response = api("GET", f"/api/v1/conversations/{fees}/export", "alice", params={"format": "json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].endswith('.json"')
    exported = mh.ConversationExport.model_validate(response.json())
    read = mh.Conversation.model_validate(api.ok("GET", f"/api/v1/conversations/{fees}", "alice"))
    answers = [m for m in read.messages if m.role == "assistant"]
    assert [t.answer for t in exported.turns] == [m.content for m in answers]
    for turn, message in zip(exported.turns, answers):
        assert {int(n) for n in re.findall(r"\[(\d+)\]", turn.answer or "")} == {c.marker for c in turn.citations}
        assert [(c.marker, c.title, c.quote, c.page) for c in turn.citations] == [
            (c.marker, c.title, c.quote, c.page) for c in message.citations or []]
        assert turn.trace_id == message.trace_id
    assert exported.turns[0].citations and exported.turns[1].searched_as  # the follow-up, as it was searched
    assert api_error(api("GET", f"/api/v1/conversations/{fees}/export", "alice",
                         params={"format": "pdf"}), 422)["field"] == "format"


# --- delete -------------------------------------------------------------------------------------------
def test_delete_removes_the_conversation_its_answers_and_their_ratings(api, talk):
    cards = talk["cards"]
    api.ok("POST", "/api/v1/feedback", "alice", json={"message_id": cards["message_id"], "rating": 1})
    deleted = mh.DeletedConversation.model_validate(
        api.ok("DELETE", f"/api/v1/conversations/{cards['conversation_id']}", "alice"))
    assert (deleted.id, deleted.collection, deleted.messages, deleted.feedback) == (
        cards["conversation_id"], "acme-policies", 2, 1)
    assert cards["conversation_id"] not in _listed(api, "alice")
    assert api_error(api("GET", f"/api/v1/conversations/{cards['conversation_id']}", "alice"), 404)["field"] == (
        "conversation_id")
    api_error(api("DELETE", f"/api/v1/conversations/{cards['conversation_id']}", "alice"), 404)
    api_error(api("POST", "/api/v1/feedback", "alice", json={"message_id": cards["message_id"], "rating": 0}), 404)
    assert _listed(api, "alice") == [talk["fees"]["conversation_id"]]


# --- audit ----------------------------------------------------------------------------------------------
def test_each_export_is_audited_as_the_caller_and_a_refused_one_is_not(world):
    spare = dataclasses.replace(world, data_dir=world.data_dir.parent / "spare")
    with live_api(spare) as api:
        conversation = api.ask("alice", FEE, "acme-policies")["conversation_id"]
        for fmt in ("markdown", "json"):
            assert api("GET", f"/api/v1/conversations/{conversation}/export", "alice",
                       params={"format": fmt}).status_code == 200
        api_error(api("GET", f"/api/v1/conversations/{conversation}/export", "olga"), 404)
    with Platform(Settings(data_dir=spare.data_dir)) as platform:
        rows = platform.gateway.audit_log(action="export.conversation")
    assert [(r["actor"], r["target"], r["details"]["format"]) for r in rows] == [
        ("alice", conversation, "json"), ("alice", conversation, "markdown")]  # newest first
    assert rows[0]["details"] == {"kind": "conversation", "collection": "acme-policies", "tenant": "acme",
                                  "format": "json", "turns": 1}
