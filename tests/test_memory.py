"""Conversation memory: turns in DuckDB, deterministic follow-up rewriting, summaries past the token budget."""
from __future__ import annotations

import pytest

from backend.chat.memory import ConversationMemory, rewrite_follow_up
from backend.models import Answer, GroundworkError, InputError
from backend.text.sentences import count_tokens


@pytest.fixture
def memory(store, settings):
    return ConversationMemory(store, settings)


@pytest.mark.parametrize("follow_up, expected", [
    ("and for international transfers?", "What is the fee for international transfers?"),
    ("What about business customers?", "What is the fee for domestic transfers, regarding business customers?"),
    ("How long does it take?", "How long does it take (context: What is the fee for domestic transfers)?"),
])
def test_follow_ups_are_rewritten_from_the_previous_question(follow_up, expected):
    assert rewrite_follow_up(follow_up, "What is the fee for domestic transfers?") == expected


@pytest.mark.parametrize("previous, follow_up, expected", [
    # the follow-up names a new object for the same question frame
    ("What does it cost to withdraw cash from a machine abroad with the debit card?", "And a replacement card?",
     "What does it cost for a replacement card?"),
    # the follow-up swaps the final noun phrase
    ("What is the daily limit for personal customers?", "and business customers?",
     "What is the daily limit for business customers?"),
    ("What does a domestic transfer cost?", "and for international transfers?", "What does a international transfers cost?"),
])
def test_follow_ups_that_replace_a_noun_phrase(previous, follow_up, expected):
    assert rewrite_follow_up(follow_up, previous) == expected


def test_a_question_that_stands_alone_is_left_alone():
    assert rewrite_follow_up("What is the daily limit for personal customers?", "What is the fee for domestic transfers?") is None
    assert rewrite_follow_up("and for international transfers?", "") is None


def test_turns_round_trip_and_drive_the_next_standalone_question(memory):
    conversation = memory.start("demo", "default", "What is the fee for domestic transfers?")
    first = memory.contextualize(conversation, "What is the fee for domestic transfers?")
    assert not first.rewritten and first.history == []
    answer = Answer(text="Domestic transfers are free [1].", grounded=True)
    user_id, assistant_id = memory.add_turn(conversation, "What is the fee for domestic transfers?", first.standalone, answer)
    assert assistant_id > user_id
    follow = memory.contextualize(conversation, "and for international transfers?")
    assert follow.rewritten and follow.method == "rules"
    assert follow.standalone == "What is the fee for international transfers?"
    assert follow.history == [{"role": "user", "content": "What is the fee for domestic transfers?"},
                              {"role": "assistant", "content": "Domestic transfers are free [1]."}]
    [turn] = memory.turns(conversation)
    assert turn.answer_data["grounded"] is True and turn.message_id == assistant_id
    listed = memory.list("demo")
    assert listed[0]["id"] == conversation and listed[0]["turns"] == 1
    assert listed[0]["title"] == "What is the fee for domestic transfers?"


class _RewritingLLM:
    is_llm = True

    def __init__(self, text=None, fail=False):
        self.text, self.fail, self.calls = text, fail, []

    def complete(self, messages, max_tokens):
        self.calls.append(messages)
        if self.fail:
            raise GroundworkError("LLM server at x is unreachable")
        return self.text


def test_llm_rewrites_when_available_and_rules_take_over_when_it_fails(memory):
    conversation = memory.start("demo", "default")
    memory.add_turn(conversation, "What is the fee for domestic transfers?", "What is the fee for domestic transfers?",
                    Answer(text="Free [1]."))
    llm = _RewritingLLM("What does an international transfer cost?")
    result = memory.contextualize(conversation, "and for international transfers?", llm=llm)
    assert result.standalone == "What does an international transfer cost?" and result.method == "llm"
    assert "data, not instructions" in llm.calls[0][0]["content"]
    result = memory.contextualize(conversation, "and for international transfers?", llm=_RewritingLLM(fail=True))
    assert result.standalone == "What is the fee for international transfers?" and result.method == "rules"


def test_a_long_conversation_is_summarised_and_the_history_stays_within_budget(store, data_dir):
    from backend.settings import Settings

    settings = Settings(data_dir=data_dir, memory_token_budget=300, memory_turns=4)
    memory = ConversationMemory(store, settings)
    conversation = memory.start("demo", "default")
    long_answer = "Refunds are paid within five business days to the original account. " * 4
    summarised = False
    for n in range(12):
        question = f"Question number {n} about refunds of card fees?"
        memory.add_turn(conversation, question, question, Answer(text=long_answer))
        summarised |= memory.maybe_summarise(conversation)
        context = memory.contextualize(conversation, "and what about savings accounts?")
        assert context.history_tokens <= settings.memory_token_budget
    assert summarised
    row = memory.get(conversation)
    assert row["summarized_turns"] > 0
    assert "Question number 0 " not in row["summary"]  # the oldest lines went first to keep the summary in its share
    assert count_tokens(row["summary"]) <= settings.memory_token_budget * 0.3
    assert "Asked: Question number" in row["summary"]
    assert len(memory.turns(conversation)) == 12  # summarising never deletes the stored turns


def test_feedback_is_stored_once_per_message_and_bad_input_is_refused(memory, store):
    conversation = memory.start("demo", "default")
    _, message = memory.add_turn(conversation, "q?", "q?", Answer(text="a [1].", trace_id="abc"))
    memory.record_feedback(message, 0, "wrong figure")
    memory.record_feedback(message, 1, "actually right")
    rows = store.query_dicts("SELECT score, comment, trace_id, collection FROM feedback")
    assert rows == [{"score": 1, "comment": "actually right", "trace_id": "abc", "collection": "demo"}]
    assert memory.feedback_for(conversation)[message]["score"] == 1
    with pytest.raises(InputError, match="0 or 1"):
        memory.record_feedback(message, 5)
    with pytest.raises(InputError, match="not an answer that can be rated"):
        memory.record_feedback(message - 1, 1)  # the user's own message


def test_unknown_or_foreign_session_is_a_clear_error(memory):
    conversation = memory.start("demo", "default")
    with pytest.raises(InputError, match="does not exist"):
        memory.require("nope")
    with pytest.raises(InputError, match="belongs to collection 'demo'"):
        memory.require(conversation, "other")
