"""Document tools' results as citable passages: a named section read by the planner or by a model's tool call is
cited with its document and page through the chat path's verifier, and a document outside the caller's grants
never becomes a passage."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from backend.agent.step import AGENT_STAGE, AgentStep
from backend.agent.tool_passages import tool_passages
from backend.gateway.identity import Identity
from backend.platform import Platform
from backend.settings import Settings
from backend.tools.spec import OK, ToolCall, ToolCaller
from tests.agent.test_tool_loop import ScriptedModel
from tests.gateway.helpers import PASSWORD

POLICY = """# Travel Policy

## Meals

Breakfast is included in the hotel rate. Lunch is paid by the traveller.

## Expenses

The limit for hotel expenses is £120 per night. Claims above the limit need a manager's approval.

## Booking

Book flights through the travel desk (travel.desk@example.com) at least two weeks ahead.
"""
SECRET = """# Board Travel

## Expenses

The executive expense limit is £5,000 per trip and is never disclosed to staff.
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("toolpassages")
    (root / "policies").mkdir()
    (root / "secret").mkdir()
    (root / "policies" / "travel-policy.md").write_text(POLICY)
    (root / "secret" / "board-travel.md").write_text(SECRET)
    instance = Platform(Settings(data_dir=root / "data"))
    gw = instance.gateway
    gw.create_tenant("acme")
    for name in ("policies", "secret"):
        instance.corpus.create_collection(name, tenant="acme")
        instance.corpus.ingest([root / name], collection=name)
    gw.create_user("ann", "acme", "analyst", PASSWORD)
    gw.create_group("staff", "acme")
    gw.add_member("staff", "ann")
    gw.grant("staff", "policies")  # not "secret"
    yield instance
    instance.close()


@pytest.fixture(autouse=True)
def fresh_limits(platform):
    platform.gateway.limits.reset()


def _ann(platform) -> tuple[Identity, object]:
    identity = Identity(user="ann", tenant="acme", role="analyst")
    return identity, platform.gateway.context_for(identity)


def _document(platform, title: str) -> int:
    [row] = [r for r in platform.corpus.documents() if r["title"] == title]
    return int(row["id"])


def _expenses_chunk(platform, document_id: int):
    return next(c for c in platform.corpus.chunks(document_id) if c.heading_path[-1:] == ("Expenses",))


def test_a_named_sections_figure_is_cited_with_its_document_and_page_and_traced_to_the_call(platform):
    policy = _document(platform, "Travel Policy")
    identity, ctx = _ann(platform)
    question = f"Read the section 'Expenses' of document {policy} and tell me the limit"
    answer = platform.chat.ask(question, "policies", ctx=ctx, identity=identity, remember=False)
    [call] = answer.tool_calls
    assert (call["tool"], call["outcome"]) == ("read_document_section", OK)
    assert call["arguments"] == {"heading": "Expenses", "document_id": policy}
    assert "£120" in answer.text and answer.found
    chunk = _expenses_chunk(platform, policy)
    cited = [c for c in answer.citations if c.chunk_id == chunk.id]
    assert cited and cited[0].supported and "£120" in cited[0].quote
    assert (cited[0].document_id, cited[0].page, cited[0].heading_path) == (policy, chunk.page, chunk.heading_path)
    platform.tracer.flush()
    spans = {s["name"]: json.loads(s["attributes"]) for s in platform.store.query_dicts(
        "SELECT name, attributes FROM spans WHERE trace_id = ?", [answer.trace_id])}
    [source] = [json.loads(s) for s in spans[AGENT_STAGE]["tool_passages"]]  # span attributes: scalars or lists
    assert (source["tool"], source["chunk_id"], source["document_id"]) == ("read_document_section", chunk.id, policy)
    assert [(t["marker"], t["tool"], t["chunk_id"]) for t in map(json.loads, spans["verify"]["tool_citations"])] == \
        [(cited[0].marker, "read_document_section", chunk.id)]


def test_a_section_named_by_title_is_read_in_the_callers_scope(platform):
    identity, ctx = _ann(platform)
    answer = platform.chat.ask("Read the 'Expenses' section of 'Travel Policy' and tell me the limit", "policies",
                               ctx=ctx, identity=identity, remember=False)
    assert [c["outcome"] for c in answer.tool_calls] == [OK] and "£120" in answer.text
    hidden = platform.chat.ask("Read the 'Expenses' section of 'Board Travel' and tell me the limit", "policies",
                               ctx=ctx, identity=identity, remember=False)
    assert hidden.tool_calls == [] and "£5,000" not in hidden.text
    assert any("No document titled 'Board Travel'" in n for n in hidden.notices)


def test_an_ungranted_documents_read_gives_no_passage(platform):
    secret = _document(platform, "Board Travel")
    identity, ctx = _ann(platform)
    answer = platform.chat.ask(f"Read the section 'Expenses' of document {secret} and tell me the limit",
                               "policies", ctx=ctx, identity=identity, remember=False)
    [call] = answer.tool_calls
    assert call["outcome"] != OK and "not found among the documents you can read" in call["message"]
    assert all(c.document_id != secret for c in answer.citations) and "£5,000" not in answer.text
    # Even a call claiming the secret chunk (a bug, a forged record) is re-read in the caller's scope and dropped.
    forged = ToolCall("read_document_section", {}, OK, result="x", chunk_ids=[_expenses_chunk(platform, secret).id])
    caller = ToolCaller(identity, ctx)
    assert tool_passages(platform, [forged], caller, []) == ([], [])


def test_a_models_tool_calls_become_passages_its_answer_cites(platform):
    policy = _document(platform, "Travel Policy")
    secret = _document(platform, "Board Travel")
    identity, ctx = _ann(platform)
    caller = ToolCaller(identity, ctx, collection="policies")
    model = ScriptedModel([[("read_document_section", {"document_id": policy, "heading": "Expenses"}),
                            ("read_document_section", {"document_id": secret, "heading": "Expenses"}),
                            ("search_documents", {"query": "flights travel desk", "collection": "policies", "k": 1})]])
    generator = SimpleNamespace(is_llm=True, client=model, model=lambda: "m")
    step = AgentStep(platform.derive(agent_model_tools=True))
    result = step.run("What may I spend on a hotel?", [], caller, generator)
    outcomes = [c.outcome for c in result.tool_calls]
    assert outcomes[0] == OK and outcomes[1] != OK and outcomes[2] == OK
    chunk = _expenses_chunk(platform, policy)
    context = result.context([])
    assert chunk.id in [p.chunk.id for p in context] and all(p.chunk.document_id != secret for p in context)
    number = next(p.number for p in context if p.chunk.id == chunk.id)
    booking = next(p for p in context if p.chunk.heading_path[-1:] == ("Booking",))
    assert "travel.desk@example.com" not in booking.text + booking.chunk.text  # redacted like every tool result
    assert f"see passages [{number}]" in result.tool_context and "£120" not in result.tool_context
    verification = platform.chat.verifier().verify(f"The hotel expenses limit is £120 per night [{number}].", context)
    [citation] = verification.citations
    assert citation.supported and (citation.document_id, citation.page) == (policy, chunk.page)
    assert [t["call_index"] for t in result.tool_citations(verification.citations)] == [0]
