"""Conversations and feedback against the real server: a caller lists and reads only their own conversations (with
citations), rates only their own answers; anyone else's conversation or message does not exist for them."""
from __future__ import annotations

import pytest

from backend.gateway import api_models_history as mh
from tests.gateway.api_client import FEE, Api, api_error, leaks, live_api
from tests.gateway.api_world import build_world

pytestmark = pytest.mark.slow
CARDS = "How many days does a customer have to report a card payment they did not make?"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with live_api(build_world(tmp_path_factory.mktemp("conversations") / "data")) as served:
        yield served


@pytest.fixture(scope="module")
def talk(api) -> dict[str, dict]:
    """Conversations over the API: alice's fees (two turns) then cards, olga's archive, ada's (admin) globex."""
    fees = api.ask("alice", FEE, "acme-policies")
    follow_up = api.ask("alice", "and for domestic transfers?", "acme-policies", fees["conversation_id"])
    return {"fees": fees, "follow_up": follow_up, "cards": api.ask("alice", CARDS, "acme-policies"),
            "archive": api.ask("olga", FEE, "acme-archive"), "globex": api.ask("ada", FEE, "globex-policies")}


def conversations(api: Api, key: str, **params) -> list[str]:
    page = mh.ConversationList.model_validate(api.ok("GET", "/api/v1/conversations", key, params=params))
    return [c.id for c in page.conversations]


# --- listing ------------------------------------------------------------------------------------------
def test_the_callers_own_conversations_newest_first_and_paged(api, talk):
    fees, cards = talk["fees"]["conversation_id"], talk["cards"]["conversation_id"]
    listed = mh.ConversationList.model_validate(api.ok("GET", "/api/v1/conversations", "alice")).conversations
    assert [(c.id, c.turns, c.collection) for c in listed] == [(cards, 1, "acme-policies"), (fees, 2, "acme-policies")]
    assert listed[1].title == FEE
    assert conversations(api, "alice", limit=1) == [cards]
    assert conversations(api, "alice", limit=1, offset=1) == [fees]
    assert conversations(api, "alice", offset=2) == []
    assert conversations(api, "alice", collection="acme-policies") == [cards, fees]


@pytest.mark.parametrize("key, expected", [("olga", ["archive"]), ("ada", ["globex"]), ("gina", []), ("bob", []),
                                           ("stan", [])])
def test_nobody_lists_another_users_conversations(api, talk, key, expected):
    response = api("GET", "/api/v1/conversations", key)
    assert [c["id"] for c in response.json()["conversations"]] == [talk[n]["conversation_id"] for n in expected]
    if key in ("gina", "bob"):
        assert not leaks(response, key)


def test_listing_by_a_collection_the_caller_cannot_read_is_404(api, talk):
    unknown = api_error(api("GET", "/api/v1/conversations", "alice", params={"collection": "no-such"}), 404)
    for name in ("globex-policies", "acme-archive"):
        body = api_error(api("GET", "/api/v1/conversations", "alice", params={"collection": name}), 404)
        assert body["message"].replace(name, "?") == unknown["message"].replace("no-such", "?")
    assert api_error(api("GET", "/api/v1/conversations", "alice", params={"limit": 0}), 422)["field"] == "limit"
    assert api_error(api("GET", "/api/v1/conversations", "alice", params={"user": "olga"}), 422)["field"] == "user"
    api_error(api("GET", "/api/v1/conversations", None), 401)


# --- one conversation -----------------------------------------------------------------------------------
def test_a_conversation_with_its_messages_and_citations(api, talk):
    conversation_id = talk["fees"]["conversation_id"]
    found = mh.Conversation.model_validate(api.ok("GET", f"/api/v1/conversations/{conversation_id}", "alice"))
    assert [(m.turn, m.role) for m in found.messages] == [(1, "user"), (1, "assistant"), (2, "user"), (2, "assistant")]
    question, answer, follow_up, second = found.messages
    assert question.content == FEE and follow_up.standalone_question != follow_up.content  # rewritten to stand alone
    assert answer.id == talk["fees"]["message_id"] and answer.content == talk["fees"]["answer"] and "12 EUR" in answer.content
    assert second.id == talk["follow_up"]["message_id"] and "1 EUR" in second.content
    assert answer.citations and {c.document_id for c in answer.citations} <= set(api.world.documents["acme-policies"])
    assert [c.model_dump() for c in answer.citations] == talk["fees"]["citations"]  # as ask gave them
    assert answer.trace_id == talk["fees"]["trace_id"] and answer.grounded and answer.feedback is None


@pytest.mark.parametrize("key", ["olga", "stan", "gina", "bob", "ada"])  # same tenant, other tenants, even the admin
def test_another_users_conversation_does_not_exist(api, talk, key):
    conversation_id = talk["fees"]["conversation_id"]
    unknown = api_error(api("GET", "/api/v1/conversations/nope", key), 404)
    body = api_error(api("GET", f"/api/v1/conversations/{conversation_id}", key), 404)
    assert body == {**unknown, "message": unknown["message"].replace("nope", conversation_id)}
    assert body["field"] == "conversation_id"


# --- feedback -------------------------------------------------------------------------------------------
def test_feedback_on_an_own_answer_is_stored_redacted_and_a_new_rating_replaces_it(api, talk):
    message_id, conversation_id = talk["cards"]["message_id"], talk["cards"]["conversation_id"]
    first = api.ok("POST", "/api/v1/feedback", "alice",
                   json={"message_id": message_id, "rating": 1, "comment": "call me on +1 415-555-0134"})
    saved = mh.Feedback.model_validate(first)
    assert (saved.message_id, saved.rating) == (message_id, 1) and "415-555-0134" not in saved.comment
    assert mh.Feedback.model_validate(api.ok("POST", "/api/v1/feedback", "alice",
                                             json={"message_id": message_id, "rating": 0})).comment == ""
    messages = api.ok("GET", f"/api/v1/conversations/{conversation_id}", "alice")["messages"]
    assert [m["feedback"] for m in messages] == [None, {"rating": 0, "comment": ""}]


@pytest.mark.parametrize("key, message", [
    ("olga", "fees"), ("gina", "fees"), ("bob", "fees"), ("ada", "fees"),  # another user's answer
    ("alice", "archive"), ("alice", "globex"),  # answers alice never got
])
def test_feedback_on_anything_but_an_own_answer_is_404(api, talk, key, message):
    message_id = talk[message]["message_id"]
    unknown = api_error(api("POST", "/api/v1/feedback", key, json={"message_id": 2**40, "rating": 1}), 404)
    body = api_error(api("POST", "/api/v1/feedback", key, json={"message_id": message_id, "rating": 1}), 404)
    assert body == {**unknown, "message": f"unknown message id {message_id}"} and body["field"] == "message_id"


def test_a_question_is_not_an_answer_to_rate(api, talk):
    conversation_id = talk["fees"]["conversation_id"]
    question = api.ok("GET", f"/api/v1/conversations/{conversation_id}", "alice")["messages"][0]
    assert question["role"] == "user"
    body = api_error(api("POST", "/api/v1/feedback", "alice", json={"message_id": question["id"], "rating": 1}), 404)
    assert body["field"] == "message_id"


@pytest.mark.parametrize("body, status, field", [
    ({"message_id": 1, "rating": 5}, 422, "rating"),
    ({"message_id": 1, "rating": "up"}, 422, "rating"),
    ({"rating": 1}, 422, "message_id"),
    ({"message_id": 0, "rating": 1}, 422, "message_id"),
    ({"message_id": 1, "rating": 1, "score": 1}, 422, "score"),
    ({"message_id": 1, "rating": 1, "comment": "x" * 2001}, 422, "comment"),
])
def test_bad_feedback_bodies_name_the_field(api, talk, body, status, field):
    assert api_error(api("POST", "/api/v1/feedback", "alice", json=body), status)["field"] == field


def test_feedback_needs_the_ask_scope_a_key_and_a_readable_body(api, talk):
    message_id = talk["fees"]["message_id"]
    assert "'ask'" in api_error(api("POST", "/api/v1/feedback", "alice_read",
                                    json={"message_id": message_id, "rating": 1}), 403)["message"]
    api_error(api("POST", "/api/v1/feedback", "stan", json={"message_id": message_id, "rating": 1}), 403)
    api_error(api("POST", "/api/v1/feedback", None, json={"message_id": message_id, "rating": 1}), 401)
    assert "not valid JSON" in api_error(api("POST", "/api/v1/feedback", "alice", content=b"{rating"), 400)["message"]
    api_error(api("POST", "/api/v1/feedback", "alice", json={"message_id": message_id, "rating": 1,
                                                              "comment": "x" * 1_100_000}), 413)
