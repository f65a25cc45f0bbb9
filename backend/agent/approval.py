"""Approving or dismissing a write tool call an answer proposed: only by the user whose conversation holds it, once."""
from __future__ import annotations

import json
import threading

from backend.agent.step import caller_for
from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.models import Conflict, NotFound
from backend.tools.spec import NEEDS_APPROVAL, ToolCall

DISMISSED = "dismissed"  # a proposal the user turned down: it stays on the answer, and never runs
# One decision at a time in the process that owns the store (a double click must not open two tickets); module-wide,
# so the cheap ToolApprovals a page builds per click all share it.
_DECIDING = threading.Lock()


class ToolApprovals:
    """The second half of a write: the answer stored a proposed call (outcome needs_approval) with its message; the
    user who owns that conversation approves it (the executor checks role, scope, limits and arguments again, as
    that user) or dismisses it. Either is recorded on the stored answer, so a proposal is decided once."""

    def __init__(self, platform):  # backend.platform.Platform (not imported: it imports chat, which imports this)
        self.platform = platform

    def approve(self, message_id: int, index: int, identity: Identity, ctx: RequestContext) -> dict:
        """Run the proposed call as `identity`, approved. Returns the call as it ran (ToolCall.to_dict()); only an
        ok call replaces the proposal, so one refused for now (a rate limit) can be approved again later."""
        with _DECIDING:
            answer, conversation = self._proposal(message_id, index, identity, ctx)
            proposed = answer["tool_calls"][index]
            caller = caller_for(identity, ctx, conversation["collection"])
            call: ToolCall = self.platform.tools.call(proposed["tool"], proposed["arguments"], caller, approved=True,
                                                      call_id=proposed.get("call_id") or "")
            record = {**call.to_dict(), "approved_by": identity.user}
            if call.ok:
                answer["tool_calls"][index] = record
                self._store(message_id, answer)
            return record

    def dismiss(self, message_id: int, index: int, identity: Identity, ctx: RequestContext) -> dict:
        """Turn the proposal down: it is kept on the answer as dismissed, audited, and can no longer be approved."""
        with _DECIDING:
            answer, _ = self._proposal(message_id, index, identity, ctx)
            record = {**answer["tool_calls"][index], "outcome": DISMISSED,
                      "message": f"dismissed by {identity.user}; it did not run"}
            answer["tool_calls"][index] = record
            self._store(message_id, answer)
        self.platform.gateway.audit(identity.user, f"tool.{DISMISSED}", record["tool"],
                                    {"tenant": ctx.tenant, "arguments": record["arguments"], "message_id": message_id})
        return record

    def _proposal(self, message_id: int, index: int, identity: Identity, ctx: RequestContext) -> tuple[dict, dict]:
        """(the stored answer, its conversation) when the call is a pending proposal of this caller's own answer."""
        chat = self.platform.chat
        missing = NotFound(f"unknown message id {message_id}", field="message_id")
        if identity.user != ctx.user:  # the context must be the identity's own, as the gateway makes it
            raise missing
        conversation_id = chat.memory.answer_conversation(message_id)
        if conversation_id is None:
            raise missing
        try:  # someone else's conversation, or one in a collection no longer readable, does not exist for the caller
            conversation = chat.book.own(conversation_id, ctx)
        except NotFound:
            raise missing from None
        turn = next((t for t in chat.memory.turns(conversation_id) if t.message_id == message_id), None)
        answer = dict(turn.answer_data) if turn is not None else {}
        calls = answer.get("tool_calls") or []
        if not 0 <= index < len(calls):
            raise NotFound(f"call: answer {message_id} has no tool call {index}", field="call")
        if calls[index].get("outcome") != NEEDS_APPROVAL:
            raise Conflict(f"call: tool call {index} of answer {message_id} is {calls[index].get('outcome')}, "
                           "not waiting for approval", field="call")
        answer["tool_calls"] = [dict(c) for c in calls]
        return answer, conversation

    def _store(self, message_id: int, answer: dict) -> None:
        # The stored answer is the record the Chat page and the conversation export read back.
        self.platform.store.execute("UPDATE messages SET answer = ? WHERE id = ? AND role = 'assistant'",
                                    [json.dumps(answer, default=str), int(message_id)], lane="chat")
