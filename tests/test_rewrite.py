"""Follow-up rewriting only when a question needs the previous turn: the decision, the rewrite, the real chat path."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.chat.follow_up import follow_up_reason, needs_previous_turn
from backend.chat.memory import ConversationMemory
from backend.chat.rewrite import rewrite_follow_up
from backend.models import Answer

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
CARD = "How long does a customer have to report an unauthorised card payment?"


@pytest.mark.parametrize("previous, question", [
    ("What is the fee for domestic transfers?", "and for international transfers?"),  # ellipsis after "and"
    ("Do employees get an allowance for working from home?", "what about contractors?"),
    ("Are recorded calls kept after a complaint is closed?", "How long?"),  # no subject of its own
    ("Must payments staff take 10 consecutive days of leave each year?", "Why?"),
    ("What is the deadline for responding to a data subject access request?", "Can it be extended?"),
    ("What does an international transfer cost?", "Is that more than before?"),  # a comparison, one side missing
    ("How many days a week must hybrid employees be in the office?", "Does the same apply to contractors?"),
    ("What interest rate does the Easy Access Saver pay?", "Is the rate fixed?"),  # "the rate": the Saver's
    ("How long does a UK customer have to take a complaint to the Financial Ombudsman Service?", "And in Ireland?"),
    ("When is a post-incident review held?", "Who attends?"),
])
def test_questions_that_need_the_previous_turn(previous, question):
    assert needs_previous_turn(question, previous), follow_up_reason(question, previous)


@pytest.mark.parametrize("previous, question", [
    (CARD, "What does CHAPS cost?"),  # short, and self-contained
    ("What is the minimum password length for a standard staff account?", "Who is the DPO?"),
    ("How quickly does Security Operations triage reported phishing emails?", "Define phishing."),
    ("How much does an international transfer cost?", "What is the refund policy?"),
    # a leading "and"/"so" joins the turns, but a whole question follows it
    ("What is the fee for domestic transfers?", "And how long do customers have to ask for a refund of a fee charged in error?"),
    ("How quickly must an employee pass a data subject request to the privacy team?", "So who is the Data Protection Officer?"),
    # "it" and "their" that point inside the question, "there" that only says something exists
    ("What is the deadline for responding to a data subject access request?", "Is it safe to click links in unexpected emails?"),
    ("What does an international transfer cost?", "What does it cost to withdraw cash abroad with the debit card?"),
    ("How many failed sign-in attempts lock a staff account?", "Can staff use SMS codes as their second factor?"),
    ("When does an account become dormant?", "Is there a fee for a replacement card?"),
    ("How long are security logs kept?", "Who can read the security logs?"),  # the whole phrase again, not "the logs"
    ("How much compassionate leave is given when a parent dies?", "Sick leave rules?"),  # a topic, not a fragment
])
def test_self_contained_questions_are_searched_as_typed(previous, question):
    assert follow_up_reason(question, previous) is None
    assert rewrite_follow_up(question, previous) is None


def test_no_previous_turn_means_nothing_to_follow():
    assert not needs_previous_turn("and for international transfers?", "")
    assert not needs_previous_turn("   ", "What is the fee for domestic transfers?")


@pytest.mark.parametrize("previous, question, expected", [
    ("How often are high-risk customers reviewed?", "And medium-risk ones?", "How often are medium-risk customers reviewed?"),
    ("What is the mileage rate for using my own car on business?", "And for a motorbike?",
     "What is the mileage rate for a motorbike?"),
    # a clause after "what if" keeps its words, with the previous question as context
    ("What happens if I fail two phishing simulations?", "What if I fail three?",
     "What if I fail three (context: What happens if I fail two phishing simulations)?"),
])
def test_rewrites_of_follow_ups(previous, question, expected):
    assert rewrite_follow_up(question, previous) == expected


class _CountingLLM:
    is_llm = True

    def __init__(self):
        self.calls = 0

    def complete(self, messages, max_tokens):
        self.calls += 1
        return "What does CHAPS cost for an unauthorised card payment?"


def test_a_self_contained_question_reaches_no_rewriter(store, settings):
    memory = ConversationMemory(store, settings)
    conversation = memory.start("demo", "default")
    memory.add_turn(conversation, CARD, CARD, Answer(text="Within 13 months of the debit date [1]."))
    llm = _CountingLLM()
    context = memory.contextualize(conversation, "What does CHAPS cost?", llm=llm)
    assert (context.standalone, context.rewritten, context.method, llm.calls) == ("What does CHAPS cost?", False, "none", 0)
    assert context.history[0] == {"role": "user", "content": CARD}  # the generator still reads the conversation
    follow = memory.contextualize(conversation, "Can it be waived?", llm=llm)
    assert follow.rewritten and follow.method == "llm" and llm.calls == 1


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    """A real platform over the demo corpus's fee and refund policies (the documents the two questions reach)."""
    from backend.platform import Platform
    from backend.settings import Settings

    root = tmp_path_factory.mktemp("rewrite")
    docs = root / "docs"
    docs.mkdir()
    for name in ("fees-and-charges-2024.md", "fees-and-charges-2025.md", "refunds-and-chargebacks.md"):
        shutil.copy(DEMO / name, docs / name)
    platform = Platform(Settings(data_dir=root / "data"))
    platform.corpus.ingest([docs], collection="demo")
    yield platform.chat
    platform.close()


def test_chaps_after_a_card_question_is_searched_as_typed_and_answered_alone(chat):
    first = chat.ask(CARD, "demo", use_cache=False)
    assert "13 months" in first.text and first.conversation_id
    second = chat.ask("What does CHAPS cost?", "demo", conversation_id=first.conversation_id, use_cache=False)
    assert second.standalone_question == "What does CHAPS cost?"
    assert "£20.00" in second.text
    assert not any(word in second.text.lower() for word in ("unauthorised", "refund", "13 months"))
    assert [t.standalone for t in chat.memory.turns(first.conversation_id)] == [CARD, "What does CHAPS cost?"]
    follow = chat.ask("And for international transfers?", "demo", conversation_id=first.conversation_id,
                      use_cache=False)
    assert follow.standalone_question != "And for international transfers?"  # a real follow-up is still rewritten
    assert "CHAPS" in follow.standalone_question and "international transfers" in follow.standalone_question


def test_a_statement_about_the_askers_own_thing_stands_alone():
    from backend.chat.follow_up import needs_previous_turn

    previous = "What do three SWIFT transfers cost?"
    assert not needs_previous_turn("My SWIFT transfer was charged twice, please open a ticket.", previous)
    assert not needs_previous_turn("Our card was blocked abroad, what should we do?", previous)
    assert needs_previous_turn("My savings account?", previous)  # no verb: a fragment borrowing the question
