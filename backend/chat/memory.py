"""Conversation memory in DuckDB: turns, follow-up rewriting into standalone questions, summaries past the budget."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field

from backend.chat.follow_up import needs_previous_turn
from backend.chat.rewrite import rewrite_follow_up, strip_question
from backend.context import SYSTEM
from backend.generation.prompts import rewrite_messages, summary_messages
from backend.models import Answer, GroundworkError, InputError, NotFound
from backend.settings import Settings
from backend.store.rows import Scope, scope_condition
from backend.text.sentences import count_tokens, split_sentences

logger = logging.getLogger(__name__)

COMPRESS_AT = 0.7  # summarise once the verbatim history passes 70% of its token budget
SUMMARY_SHARE = 0.3  # the summary itself may use at most 30% of the budget
@dataclass
class Turn:
    turn: int
    question: str  # redacted, as asked
    standalone: str  # redacted, standalone
    answer: str  # redacted answer text
    answer_data: dict = field(default_factory=dict)
    user_message_id: int | None = None
    message_id: int | None = None  # the assistant message
    tokens: int = 0


# ConversationMemory.list (a method) shadows `list` in the annotations of the methods after it.
Turns = list[Turn]
Messages = list[dict]  # chat messages: {"role": ..., "content": ...}


@dataclass
class Contextualized:
    standalone: str
    rewritten: bool
    summary: str
    history: list[dict]  # recent turns as chat messages, within the budget
    history_tokens: int
    method: str = "none"  # none | rules | llm


class ConversationMemory:
    """Conversations and messages (all redacted) with the context each new question needs."""

    def __init__(self, store, settings: Settings):
        self.store = store
        self.settings = settings
        self.budget = settings.memory_token_budget
        self.keep_turns = settings.memory_turns

    # --- conversations ---------------------------------------------------------------------
    def start(self, collection: str, tenant: str, title: str = "", user: str | None = None) -> str:
        """A new conversation, owned by `user` (the caller's user name; None for none)."""
        conversation_id = uuid.uuid4().hex
        self.store.execute(
            "INSERT INTO conversations (id, collection, tenant, title, user_name) VALUES (?, ?, ?, ?, ?)",
            [conversation_id, collection, tenant, title[:120], user], lane="chat")
        return conversation_id

    def get(self, conversation_id: str) -> dict | None:
        rows = self.store.query_dicts("SELECT * FROM conversations WHERE id = ?", [conversation_id])
        return rows[0] if rows else None

    def require(self, conversation_id: str, collection: str | None = None, user: str | None = None) -> dict:
        """The conversation, or NotFound; with `user` (other than the system caller), only one that user started:
        another user's conversation does not exist for them."""
        conversation = self.get(conversation_id)
        if conversation is not None and user is not None and user != SYSTEM and conversation.get("user_name") != user:
            conversation = None
        if conversation is None:
            raise NotFound(f"session {conversation_id!r} does not exist", field="conversation_id")
        if collection is not None and conversation["collection"] != collection:
            raise InputError(
                f"session {conversation_id!r} belongs to collection {conversation['collection']!r}, not {collection!r}"
            )
        return conversation

    def list(self, collection: str | None = None, tenant: str | None = None, limit: int = 50,
             user: str | None = None, offset: int = 0, collections: Scope = None,
             contains: str | None = None) -> list[dict]:
        """Newest first; with `user`, only the conversations that user started; with `collections` (a scope), only
        those of these collections (an empty list: none); with `contains`, only those whose title or a question or
        answer holds that text (any case)."""
        scope, scope_params = scope_condition(collections, "c.collection")
        needle = contains.lower() if contains else None
        sql = ("SELECT c.id, c.collection, c.tenant, c.title, c.user_name, c.created_at, c.updated_at, "
               "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user') AS turns "
               "FROM conversations c WHERE (? IS NULL OR c.collection = ?) AND (? IS NULL OR c.tenant = ?) "
               f"AND (? IS NULL OR c.user_name = ?) AND {scope or 'TRUE'} "
               "AND (? IS NULL OR contains(lower(c.title), ?) OR EXISTS (SELECT 1 FROM messages t "
               "WHERE t.conversation_id = c.id AND contains(lower(t.content), ?))) "
               "ORDER BY c.updated_at DESC, c.created_at DESC, c.id LIMIT ? OFFSET ?")
        return self.store.query_dicts(sql, [collection, collection, tenant, tenant, user, user, *scope_params,
                                            needle, needle, needle, limit, offset])

    def rename(self, conversation_id: str, title: str) -> None:
        """A new title (already checked and redacted); the conversation's place in the list does not move."""
        self.store.execute("UPDATE conversations SET title = ? WHERE id = ?", [title, conversation_id], lane="chat")

    def delete(self, conversation_id: str) -> dict[str, int]:
        """The conversation, its messages and their ratings, in one transaction: all gone or none."""
        with self.store.transaction("chat") as cur:
            feedback = cur.execute("DELETE FROM feedback WHERE conversation_id = ? RETURNING id",
                                   [conversation_id]).fetchall()
            messages = cur.execute("DELETE FROM messages WHERE conversation_id = ? RETURNING id",
                                   [conversation_id]).fetchall()
            cur.execute("DELETE FROM conversations WHERE id = ?", [conversation_id])
        return {"messages": len(messages), "feedback": len(feedback)}

    def answer_conversation(self, message_id: int) -> str | None:
        """The conversation of an assistant message (what feedback rates), or None when there is no such answer."""
        rows = self.store.query("SELECT conversation_id FROM messages WHERE id = ? AND role = 'assistant'",
                                [int(message_id)])
        return rows[0][0] if rows else None

    # --- turns -----------------------------------------------------------------------------
    def turns(self, conversation_id: str) -> Turns:
        rows = self.store.query_dicts(
            "SELECT id, turn, role, content, standalone_question, answer, tokens FROM messages "
            "WHERE conversation_id = ? ORDER BY turn, role DESC",  # 'user' before 'assistant'
            [conversation_id],
        )
        turns: dict[int, Turn] = {}
        for row in rows:
            turn = turns.setdefault(row["turn"], Turn(row["turn"], "", "", ""))
            if row["role"] == "user":
                turn.question, turn.standalone = row["content"], row["standalone_question"] or row["content"]
                turn.user_message_id = row["id"]
            else:
                turn.answer, turn.message_id = row["content"], row["id"]
                turn.answer_data = json.loads(row["answer"]) if row["answer"] else {}
            turn.tokens += int(row["tokens"] or 0)
        return [turns[n] for n in sorted(turns)]

    def add_turn(self, conversation_id: str, question: str, standalone: str, answer: Answer) -> tuple[int, int]:
        """Store a turn (question and answer already redacted); returns (user message id, assistant message id)."""
        with self.store.transaction("chat") as cur:
            turn = cur.execute(
                "SELECT coalesce(max(turn), 0) + 1 FROM messages WHERE conversation_id = ?", [conversation_id]
            ).fetchone()[0]
            user_id = cur.execute(
                "INSERT INTO messages (conversation_id, turn, role, content, standalone_question, tokens) "
                "VALUES (?, ?, 'user', ?, ?, ?) RETURNING id",
                [conversation_id, turn, question, standalone, count_tokens(question)],
            ).fetchone()[0]
            assistant_id = cur.execute(
                "INSERT INTO messages (conversation_id, turn, role, content, answer, tokens, trace_id) "
                "VALUES (?, ?, 'assistant', ?, ?, ?, ?) RETURNING id",
                [conversation_id, turn, answer.text, json.dumps(answer.to_dict(), default=str),
                 count_tokens(answer.text), answer.trace_id or None],
            ).fetchone()[0]
            cur.execute(
                "UPDATE conversations SET updated_at = current_timestamp, "
                "title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                [question[:120], conversation_id],
            )
        return int(user_id), int(assistant_id)

    def record_feedback(self, message_id: int, score: int, comment: str = "") -> None:
        """Thumbs up (1) or down (0) on an assistant message; the comment must already be redacted."""
        if score not in (0, 1):
            raise InputError(f"feedback score must be 0 or 1, got {score!r}")
        rows = self.store.query_dicts(
            "SELECT m.conversation_id, m.trace_id, c.collection FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ? AND m.role = 'assistant'",
            [message_id],
        )
        if not rows:
            raise InputError(f"message {message_id} is not an answer that can be rated")
        row = rows[0]
        with self.store.transaction("chat") as cur:  # one rating per message: a new click replaces the old one
            cur.execute("DELETE FROM feedback WHERE message_id = ?", [message_id])
            cur.execute(
                "INSERT INTO feedback (message_id, conversation_id, collection, trace_id, score, comment) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [message_id, row["conversation_id"], row["collection"], row["trace_id"], score, comment[:2000]],
            )

    def feedback_for(self, conversation_id: str) -> dict[int, dict]:
        rows = self.store.query_dicts(
            "SELECT message_id, score, comment FROM feedback WHERE conversation_id = ?", [conversation_id]
        )
        return {row["message_id"]: row for row in rows}

    # --- context for a new question --------------------------------------------------------
    def contextualize(self, conversation_id: str | None, question: str, llm=None) -> Contextualized:
        """The standalone form of `question` and the history a generator may read, within the budget."""
        if not conversation_id:
            return Contextualized(question, False, "", [], 0)
        conversation = self.get(conversation_id) or {}
        turns = self.turns(conversation_id)
        return self._contextualize(turns, conversation.get("summary", ""), conversation.get("summarized_turns", 0),
                                   question, llm)

    def contextualize_messages(self, messages: Messages, question: str, llm=None) -> Contextualized:
        """The same from the caller's own transcript (user and assistant messages, oldest first, already
        redacted), for a stateless caller such as the OpenAI-compatible API; nothing is read or stored."""
        return self._contextualize(turns_from_messages(messages), "", 0, question, llm)

    def _contextualize(self, turns: Turns, summary: str, summarized: int, question: str, llm) -> Contextualized:
        history, used = self._history(turns[summarized:], summary)
        if not turns or not needs_previous_turn(question, turns[-1].standalone):
            return Contextualized(question, False, summary, history, used)  # searched as typed, by either rewriter
        standalone, method = None, "none"
        if llm is not None:
            standalone = self._rewrite_with_llm(llm, question, turns[-3:])
            method = "llm" if standalone else method
        if standalone is None:
            standalone = rewrite_follow_up(question, turns[-1].standalone)
            method = "rules" if standalone else "none"
        rewritten = bool(standalone and standalone.strip() != question.strip())
        return Contextualized(standalone or question, rewritten, summary, history, used, method if rewritten else "none")

    def _history(self, turns: Turns, summary: str) -> tuple[Messages, int]:
        """The newest turns, verbatim, that fit in the budget left after the summary."""
        room = self.budget - count_tokens(summary)
        picked: list[dict] = []
        used = 0
        for turn in reversed(turns[-self.keep_turns:]):
            cost = count_tokens(turn.question) + count_tokens(turn.answer)
            if used + cost > room:
                break
            picked[:0] = [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}]
            used += cost
        return picked, used + count_tokens(summary)

    def _rewrite_with_llm(self, llm, question: str, turns: Turns) -> str | None:
        history = "\n".join(f"User: {t.standalone}\nAssistant: {t.answer}" for t in turns)
        try:
            text = llm.complete(rewrite_messages(question, history), max_tokens=80)
        except GroundworkError as exc:
            logger.info("LLM rewrite unavailable (%s); using the deterministic rewrite", exc)
            return None
        text = text.strip().strip('"').splitlines()[0].strip() if text.strip() else ""
        return text or None

    # --- summaries --------------------------------------------------------------------------
    def maybe_summarise(self, conversation_id: str, llm=None) -> bool:
        """Fold older turns into the summary once the unsummarised history passes 70% of the budget.
        The newest turns stay verbatim. Returns True when a summary was written."""
        conversation = self.get(conversation_id)
        if conversation is None:
            return False
        turns = self.turns(conversation_id)
        done = conversation["summarized_turns"]
        pending = turns[done:]
        used = count_tokens(conversation["summary"]) + sum(count_tokens(t.question) + count_tokens(t.answer) for t in pending)
        if used <= COMPRESS_AT * self.budget or len(pending) <= 1:
            return False
        keep = max(1, min(self.keep_turns // 2, len(pending) - 1))
        fold = pending[:-keep]
        summary = self._summarise(conversation["summary"], fold, llm)
        self.store.execute(
            "UPDATE conversations SET summary = ?, summarized_turns = ? WHERE id = ?",
            [summary, done + len(fold), conversation_id], lane="chat")
        return True

    def _summarise(self, summary: str, turns: Turns, llm) -> str:
        limit = int(self.budget * SUMMARY_SHARE)
        lines = "\n".join(f"User: {t.standalone}\nAssistant: {t.answer}" for t in turns)
        if llm is not None:
            try:
                text = llm.complete(summary_messages(summary, lines, max_words=int(limit * 0.6)), max_tokens=limit)
                if text:
                    return self._fit(text, limit)
            except GroundworkError as exc:
                logger.info("LLM summary unavailable (%s); summarising deterministically", exc)
        # Deterministic: one line per turn, the question and the first sentence of its answer.
        new = []
        for t in turns:
            first = split_sentences(t.answer)
            new.append(f"Asked: {strip_question(t.standalone)}. Answer: {first[0].text if first else t.answer}")
        return self._fit("\n".join([s for s in [summary, *new] if s]), limit)

    @staticmethod
    def _fit(text: str, limit: int) -> str:
        """Drop the oldest lines until the summary fits its share of the budget."""
        lines = [line for line in text.splitlines() if line.strip()]
        while len(lines) > 1 and count_tokens("\n".join(lines)) > limit:
            lines.pop(0)
        joined = "\n".join(lines)
        return joined if count_tokens(joined) <= limit else joined[: limit * 4]


def turns_from_messages(messages: Messages) -> Turns:
    """Chat messages as turns: each user message with the assistant reply that follows it (if any)."""
    turns: Turns = []
    for message in messages:
        role, content = message.get("role"), str(message.get("content") or "")
        if role == "user" or (role == "assistant" and (not turns or turns[-1].answer)):
            turns.append(Turn(len(turns) + 1, "", "", ""))
        if role == "user":
            turns[-1].question = turns[-1].standalone = content
        elif role == "assistant":
            turns[-1].answer = content
    return turns
