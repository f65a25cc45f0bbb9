"""/api/v1 the caller's own conversations (listed, searched, read, renamed, deleted, exported) and feedback on their answers."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.chat.memory import Turn
from backend.commands.ask import answer_json
from backend.gateway.api_models import FeedbackRequest
from backend.gateway.api_models_history import ConversationSearchQuery, ExportQuery, RenameConversationRequest
from backend.gateway.gate import JSON, Gate
from backend.gateway.http_errors import read_json, read_query
from backend.models import Answer

_SUMMARY_FIELDS = ("id", "collection", "tenant", "title", "created_at", "updated_at", "turns")
# A user's message has every key an answer has (null), so each message is one shape.
_NO_ANSWER = {"citations": None, "grounded": None, "found": None, "trace_id": None, "feedback": None}


def _summary(row: dict) -> dict:
    return {key: row[key] for key in _SUMMARY_FIELDS}


def _messages(turns: list[Turn], ratings: dict[int, dict]) -> list[dict]:
    """Each turn as the user's message and the answer it got, the answer with its citations and the caller's rating."""
    messages: list[dict] = []
    for turn in turns:
        messages.append({**_NO_ANSWER, "id": turn.user_message_id, "turn": turn.turn, "role": "user",
                         "content": turn.question, "standalone_question": turn.standalone})
        if turn.message_id is None:
            continue
        answer = answer_json(Answer.from_dict({**turn.answer_data, "text": turn.answer}))
        rating = ratings.get(turn.message_id)
        messages.append({"id": turn.message_id, "turn": turn.turn, "role": "assistant", "content": turn.answer,
                         "standalone_question": None, "citations": answer["citations"], "grounded": answer["grounded"],
                         "found": answer["found"], "trace_id": answer["trace_id"],
                         "feedback": {"rating": rating["score"], "comment": rating["comment"]} if rating else None})
    return messages


class ConversationRoutes:
    """/api/v1: conversations, conversations/{id} (and its export), feedback. Every read and change is of the caller's
    own (ChatService, by ctx)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def conversations(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/conversations")
        query = read_query(request, ConversationSearchQuery)
        rows = await run_in_threadpool(caller.platform.chat.search_conversations, caller.ctx, query.q,
                                       query.collection or None, query.limit, query.offset)
        return JSON({"limit": query.limit, "offset": query.offset, "conversations": [_summary(r) for r in rows]})

    async def conversation(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/conversations/{id}")
        found = await run_in_threadpool(caller.platform.chat.conversation, request.path_params["id"], caller.ctx)
        return JSON({**_summary({**found["conversation"], "turns": len(found["turns"])}),
                     "messages": _messages(found["turns"], found["feedback"])})

    async def rename(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "PATCH /api/v1/conversations/{id}", scope="ask")
        body = await read_json(request, RenameConversationRequest)
        row = await run_in_threadpool(caller.platform.chat.rename_conversation, request.path_params["id"], body.title,
                                      caller.ctx)
        return JSON(_summary(row))

    async def delete(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "DELETE /api/v1/conversations/{id}", scope="ask")
        return JSON(await run_in_threadpool(caller.platform.chat.delete_conversation, request.path_params["id"],
                                            caller.ctx))

    async def export(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/conversations/{id}/export")
        query = read_query(request, ExportQuery)
        exported = await run_in_threadpool(caller.platform.chat.export_conversation, request.path_params["id"],
                                           query.format, caller.ctx)  # audited as the caller
        media = "application/json" if query.format == "json" else "text/markdown; charset=utf-8"
        return Response(exported.data, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{exported.file_name}"'})

    async def feedback(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/feedback", scope="ask")
        body = await read_json(request, FeedbackRequest)
        saved = await run_in_threadpool(caller.platform.chat.feedback, body.message_id, body.rating, body.comment or "",
                                        caller.ctx)
        return JSON(saved)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/conversations", self.conversations, methods=["GET"]),
            Route("/conversations/{id}", self.conversation, methods=["GET"]),
            Route("/conversations/{id}", self.rename, methods=["PATCH"]),
            Route("/conversations/{id}", self.delete, methods=["DELETE"]),
            Route("/conversations/{id}/export", self.export, methods=["GET"]),
            Route("/feedback", self.feedback, methods=["POST"]),
        ]
