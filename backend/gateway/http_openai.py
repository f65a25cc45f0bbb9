"""The OpenAI-compatible routes under /v1: chat completions (plain and SSE-streamed) over a collection, and models."""
from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from backend.commands.ask import answer_json
from backend.gateway.api_models import ChatCompletionRequest
from backend.gateway.gate import JSON, Caller, Gate
from backend.gateway.http_errors import field_of, read_json, renamed
from backend.models import Answer, GroundworkError, InputError, NotFound

# The chat service's names for what the OpenAI body calls `model` (a collection) and `messages` (the question).
_FIELDS = {"collection": "model", "question": "messages", "history": "messages"}


def _question_and_history(body: ChatCompletionRequest) -> tuple[str, list[dict]]:
    """The last message is the question (it must be the user's); earlier user and assistant turns are the history."""
    last = body.messages[-1]
    if last.role != "user":
        raise InputError(f"messages: the last message must be the user's question, not {last.role!r}", field="messages")
    history = [{"role": m.role, "content": m.text()} for m in body.messages[:-1] if m.role in ("user", "assistant")]
    return last.text(), history


def _citations(answer: Answer) -> list[dict]:
    return answer_json(answer)["citations"]


def _usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.tokens_in, "completion_tokens": answer.tokens_out,
            "total_tokens": answer.tokens_in + answer.tokens_out}


def _completion_id(answer: Answer | None = None) -> str:
    return f"chatcmpl-{(answer.trace_id if answer and answer.trace_id else uuid.uuid4().hex)}"


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


class OpenAIRoutes:
    """/v1/chat/completions and /v1/models, as the official `openai` client calls them."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def models(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/v1/models")
        rows = await run_in_threadpool(caller.platform.corpus.collections, caller.ctx)
        return JSON({"object": "list", "data": [
            {"id": r["name"], "object": "model", "owned_by": r["tenant"],
             "created": int(r["created_at"].timestamp()) if r["created_at"] else 0} for r in rows]})

    async def chat_completions(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/v1/chat/completions", scope="ask")
        body = await read_json(request, ChatCompletionRequest)
        try:
            question, history = _question_and_history(body)
            if body.stream:
                return await self._streamed(caller, body, question, history)
            answer = await self.gate.answering(lambda: self._answer(caller, body.model, question, history))
        except InputError as exc:
            raise renamed(exc, _FIELDS) from exc
        return JSON({
            "id": _completion_id(answer), "object": "chat.completion", "created": int(time.time()), "model": body.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.text, "citations": _citations(answer)}}],
            "usage": _usage(answer),
        })

    @staticmethod
    def _answer(caller: Caller, collection: str, question: str, history: list[dict]) -> Answer:
        # The one metered entry point: quota before any model call, usage after (the gate counted the rate).
        return caller.chat.ask(caller.identity, question, collection, route=None, ctx=caller.ctx, history=history)

    async def _streamed(self, caller: Caller, body: ChatCompletionRequest, question: str,
                        history: list[dict]) -> Response:
        def start():
            # Quota and bad input fail here, before the 200 and the first event; usage is recorded when the answer
            # is complete, in the answering thread, even if the client hangs up mid-stream.
            return caller.chat.ask_stream(caller.identity, question, body.model, route=None, ctx=caller.ctx,
                                          history=history)

        stream = await run_in_threadpool(start)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(self._events(stream, body.model, include_usage), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @staticmethod
    def _events(stream, model: str, include_usage: bool) -> Iterator[str]:
        """OpenAI's chunk events: the role, the text as it is released, the finish with citations, [DONE]."""
        completion_id, created = _completion_id(), int(time.time())

        def chunk(delta: dict, finish_reason: str | None = None, **extra) -> str:
            return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra})

        yield chunk({"role": "assistant", "content": ""})
        try:
            for text in stream:
                yield chunk({"content": text})
        except GroundworkError as exc:  # the status is sent already: the error travels as an event
            field = field_of(exc) if isinstance(exc, InputError) else None
            yield _sse({"error": {"message": str(exc), "field": _FIELDS.get(field or "", field),
                                  "type": "not_found" if isinstance(exc, NotFound) else "server_error"}})
            yield _sse("[DONE]")
            return
        answer = stream.answer
        yield chunk({"citations": _citations(answer)}, "stop")
        if include_usage:
            yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [], "usage": _usage(answer)})
        yield _sse("[DONE]")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/models", self.models, methods=["GET"]),
            Route("/chat/completions", self.chat_completions, methods=["POST"]),
        ]
