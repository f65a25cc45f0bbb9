"""The agent step in the hot path on a real platform (DuckDB, FAISS, BM25, Presidio, the shipped embedder) over the
demo corpus's fee documents: a computed, cited figure; no tool for other questions; a ticket only once approved."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.agent.approval import DISMISSED, ToolApprovals
from backend.agent.step import AGENT_STAGE, FAILED_NOTICE
from backend.gateway.identity import Identity
from backend.models import Answer, Conflict, NotFound
from backend.platform import Platform
from backend.settings import Settings
from backend.store.tickets import tickets_for
from backend.tools.spec import NEEDS_APPROVAL, OK, RATE_LIMITED, STEP_CAP
from tests.gateway.helpers import PASSWORD

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
DOCUMENTS = ("fees-and-charges-2025.md", "fees-and-charges-2024.md", "fee-schedule-2025.csv",
             "annual-leave-and-absence-policy.docx")
SWIFT = "What do three SWIFT transfers cost?"
TICKET = "My SWIFT transfer was charged twice, please open a ticket."


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("agent")
    docs = root / "docs"
    docs.mkdir()
    for name in DOCUMENTS:
        shutil.copy(DEMO / name, docs / name)
    instance = Platform(Settings(data_dir=root / "data"))
    gw = instance.gateway
    gw.create_tenant("acme")
    instance.corpus.create_collection("fees", tenant="acme")
    instance.corpus.ingest([docs], collection="fees")
    for user, role in (("ann", "analyst"), ("bob", "analyst"), ("olga", "operator")):
        gw.create_user(user, "acme", role, PASSWORD)
    gw.create_group("acme-support", "acme")
    for member in ("ann", "bob"):
        gw.add_member("acme-support", member)
    gw.grant("acme-support", "fees")
    yield instance
    instance.close()


@pytest.fixture(autouse=True)
def fresh_limits(platform):
    platform.gateway.limits.reset()  # each test starts with every user's tool calls uncounted


def session(platform, user: str) -> tuple[Identity, object]:
    row = platform.gateway.user(user)
    identity = Identity(user=user, tenant=row["tenant"], role=row["role"])
    return identity, platform.gateway.context_for(identity)


def ask(platform, question: str, user: str = "ann", **options) -> Answer:
    identity, ctx = session(platform, user)
    options.setdefault("remember", False)
    return platform.chat.ask(question, "fees", ctx=ctx, identity=identity, **options)


def all_tickets(platform) -> list[dict]:
    with platform.store.cursor() as cur:
        return tickets_for(cur, None, limit=100)


def test_a_priced_quantity_is_calculated_and_stated_first_with_its_citation(platform):
    answer = ask(platform, SWIFT, use_cache=False)
    [call] = answer.tool_calls
    assert (call["tool"], call["outcome"], call["arguments"]) == ("calculate", OK, {"expression": "3 * 3.50"})
    assert call["result"] == "3 * 3.50 = 10.50" and call["duration_ms"] > 0
    assert answer.text.startswith("Three SWIFT transfers cost £10.50 (3 × £3.50 [1]).")
    first = answer.citations[0]
    assert first.marker == 1 and first.supported and first.score >= platform.settings.citation_support_threshold
    assert "3.50" in first.quote and first.context[first.quote_start:first.quote_end] == first.quote
    cited = platform.corpus.document(first.document_id)
    assert cited.source.endswith(("fees-and-charges-2025.md", "fee-schedule-2025.csv"))  # never the superseded 2024
    assert answer.found and answer.grounded and AGENT_STAGE in answer.stage_ms

    platform.tracer.flush()
    spans = {s["name"]: s for s in platform.store.query_dicts(
        "SELECT name, span_id, parent_span_id, attributes FROM spans WHERE trace_id = ?", [answer.trace_id])}
    assert spans["tool"]["parent_span_id"] == spans[AGENT_STAGE]["span_id"]
    assert json.loads(spans["tool"]["attributes"])["outcome"] == OK
    [audited] = platform.gateway.audit_log(action="tool.ok", actor="ann", limit=1)
    assert audited["target"] == "calculate"


def test_the_streamed_answer_starts_with_the_statement(platform):
    identity, ctx = session(platform, "ann")
    stream = platform.chat.ask_stream("How much are 4 CHAPS payments?", "fees", ctx=ctx, identity=identity,
                                      remember=False, use_cache=False)
    streamed = "".join(stream)
    assert streamed.startswith("4 CHAPS payments cost £80.00 (4 × £20.00 [1]).")
    assert stream.answer.text.startswith(streamed.split(")")[0])
    assert [c["outcome"] for c in stream.answer.tool_calls] == [OK]


@pytest.mark.parametrize("question", ["What is the SWIFT fee?", "How many days of annual leave do I get?"])
def test_a_question_that_is_not_arithmetic_calls_no_tool(platform, question):
    answer = ask(platform, question, use_cache=False)
    assert answer.tool_calls == [] and AGENT_STAGE not in answer.stage_ms
    assert not answer.text.startswith(("Three", "£"))


def test_a_near_twin_with_another_count_is_answered_afresh(platform):
    first = ask(platform, SWIFT)
    second = ask(platform, "What do four SWIFT transfers cost?")
    assert not second.cached and second.text.startswith("Four SWIFT transfers cost £14.00 (4 × £3.50 [1]).")
    assert first.text.startswith("Three SWIFT transfers cost £10.50")


def test_tool_calls_are_kept_by_the_conversation(platform):
    answer = ask(platform, SWIFT, remember=True, use_cache=False)
    [turn] = platform.chat.memory.turns(answer.conversation_id)
    assert turn.answer_data["tool_calls"] == answer.tool_calls
    assert Answer.from_dict(answer.to_dict()).tool_calls == answer.tool_calls


def test_a_ticket_is_proposed_and_written_only_once_its_owner_approves(platform):
    before = len(all_tickets(platform))
    answer = ask(platform, TICKET, remember=True, use_cache=False)
    [call] = answer.tool_calls
    assert call["tool"] == "create_ticket" and call["outcome"] == NEEDS_APPROVAL
    assert call["arguments"]["title"] == "My SWIFT transfer was charged twice"
    assert call["arguments"]["conversation_id"] == answer.conversation_id
    assert answer.text.startswith("I can hand this over to a person: a ticket “My SWIFT transfer was charged twice”")
    assert len(all_tickets(platform)) == before  # nothing written yet

    approvals = ToolApprovals(platform)
    bob, bob_ctx = session(platform, "bob")  # same tenant, same grant: still not his conversation
    with pytest.raises(NotFound, match="unknown message id"):
        approvals.approve(answer.message_id, 0, bob, bob_ctx)
    ann, ann_ctx = session(platform, "ann")
    with pytest.raises(NotFound, match="no tool call 3"):
        approvals.approve(answer.message_id, 3, ann, ann_ctx)
    assert len(all_tickets(platform)) == before

    done = approvals.approve(answer.message_id, 0, ann, ann_ctx)
    assert done["outcome"] == OK and done["approved_by"] == "ann"
    assert done["result"].startswith(f"Ticket #{done['data']['ticket_id']} opened")
    [ticket] = [t for t in all_tickets(platform) if t["id"] == done["data"]["ticket_id"]]
    assert ticket["tenant"] == "acme" and ticket["created_by"] == "ann"
    assert ticket["conversation_id"] == answer.conversation_id
    with pytest.raises(Conflict, match="not waiting for approval"):
        approvals.approve(answer.message_id, 0, ann, ann_ctx)  # decided once: a second click opens nothing
    assert len(all_tickets(platform)) == before + 1
    [turn] = platform.chat.memory.turns(answer.conversation_id)
    assert turn.answer_data["tool_calls"][0]["outcome"] == OK  # the stored answer shows it ran


def test_a_dismissed_proposal_never_runs(platform):
    before = len(all_tickets(platform))
    answer = ask(platform, "Could you hand this over to a human?", user="olga", remember=True, use_cache=False)
    olga, ctx = session(platform, "olga")
    approvals = ToolApprovals(platform)
    assert approvals.dismiss(answer.message_id, 0, olga, ctx)["outcome"] == DISMISSED
    with pytest.raises(Conflict, match="is dismissed"):
        approvals.approve(answer.message_id, 0, olga, ctx)
    assert len(all_tickets(platform)) == before
    assert platform.gateway.audit_log(action="tool.dismissed", actor="olga", limit=1)


def test_an_approval_refused_for_now_stays_proposed(platform):
    answer = ask(platform, TICKET, remember=True, use_cache=False)
    ann, ctx = session(platform, "ann")
    limit = platform.settings.tool_rate_limit_per_minute
    for _ in range(limit):  # the user's create_ticket calls for this minute, used up
        platform.gateway.limits.check_tool(ann, "create_ticket", limit)
    refused = ToolApprovals(platform).approve(answer.message_id, 0, ann, ctx)
    assert refused["outcome"] == RATE_LIMITED
    [turn] = platform.chat.memory.turns(answer.conversation_id)
    assert turn.answer_data["tool_calls"][0]["outcome"] == NEEDS_APPROVAL  # it can be approved once the minute is up


def test_the_step_cap_bounds_an_answer_and_is_reported(platform):
    capped = platform.derive(agent_max_steps=1)
    identity, ctx = session(platform, "ann")
    answer = capped.chat.ask(f"{SWIFT} Please open a ticket for a refund of them.", "fees", ctx=ctx,
                             identity=identity, remember=False, use_cache=False)
    assert [(c["tool"], c["outcome"]) for c in answer.tool_calls] == [("calculate", OK), ("create_ticket", STEP_CAP)]
    assert answer.text.startswith("Three SWIFT transfers cost £10.50")
    assert any("create_ticket did not run (step_cap)" in n for n in answer.notices)


def test_a_failing_step_never_fails_the_answer(platform, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("executor down")

    monkeypatch.setattr(platform.tools, "call", broken)
    answer = ask(platform, SWIFT, use_cache=False)
    assert answer.found and "£3.50" in answer.text and FAILED_NOTICE in answer.notices
    assert answer.tool_calls == [] and not answer.text.startswith("Three")


def test_with_the_agent_switched_off_no_tool_runs(platform):
    off = platform.derive(agent_enabled=False)
    identity, ctx = session(platform, "ann")
    answer = off.chat.ask(SWIFT, "fees", ctx=ctx, identity=identity, remember=False, use_cache=False)
    assert answer.tool_calls == [] and AGENT_STAGE not in answer.stage_ms and "£3.50" in answer.text


def test_a_table_lookup_states_the_row_it_found(platform):
    answer = ask(platform, "What is the Everyday Plus monthly account fee according to the fee schedule?",
                 use_cache=False)
    [call] = answer.tool_calls
    assert call["tool"] == "query_table" and call["outcome"] == OK and call["data"]["matched"] == 1
    assert call["arguments"]["where"] == {"product": "Everyday Plus", "fee": "Monthly account fee"}
    assert answer.text.startswith("In fee-schedule-2025.csv, Everyday Plus, Monthly account fee: amount 4.50")
    assert answer.citations[0].marker == 1 and answer.citations[0].supported
