"""What every API route does first: find the platform, authenticate the bearer key, apply its rate limit and
scope, build its RequestContext; around generation, check and record the tenant's quota. JSON responses."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.context import RequestContext
from backend.gateway.http_errors import ApiError
from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.metered import MeteredChat
from backend.models import Answer

if TYPE_CHECKING:
    from backend.platform import Platform

PlatformProvider = Callable[[], "Platform | None"]
T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        # Every table's naive timestamps are UTC (backend/clock.py): sent with the offset, as RFC 3339 date-times.
        return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars from DuckDB or FAISS
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class JSON(JSONResponse):
    """JSON with DuckDB's datetimes as RFC 3339 strings."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Caller:
    """One authorised request: the platform, who asks, and the context every backend call of it takes."""

    platform: Platform
    identity: Identity
    ctx: RequestContext

    @property
    def chat(self) -> MeteredChat:
        """The chat service behind the gateway's quota, for this caller (its rate limit was counted at the gate)."""
        return MeteredChat(self.platform.gateway, self.platform.chat)


class Gate:
    """Authentication, rate limits, scopes and quotas for the routes: each a call into `platform.gateway`."""

    def __init__(self, provider: PlatformProvider):
        self._provider = provider
        self._answering: anyio.CapacityLimiter | None = None

    async def answering(self, work: Callable[[], T]) -> T:
        """`work` (one answer: retrieval, generation) on a worker thread, at most settings.api_answer_concurrency
        at once and the rest queued in arrival order. On a CPU the answers share the cores and the GIL: twenty
        interleaved answers each take twenty times as long, while a queue lets each run at full speed."""
        if self._answering is None:  # built on the event loop, on first use
            self._answering = anyio.CapacityLimiter(self.platform().settings.api_answer_concurrency)
        return await anyio.to_thread.run_sync(work, limiter=self._answering)

    def platform(self) -> Platform:
        platform = self._provider()
        if platform is None:
            raise ApiError(503, "the server is starting or stopping; try again in a moment")
        return platform

    async def caller(self, request: Request, route: str, scope: str | None = None) -> Caller:
        """Who sent `Authorization: Bearer <key>`, within its rate limit for `route`, holding `scope` if one is needed."""
        platform = self.platform()
        kind, _, raw = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not raw.strip():
            raise Unauthorized("authorization: send an API key as 'Authorization: Bearer <key>'")
        if platform.gateway.authorises_in_memory(raw):  # the usual case: microseconds, no I/O
            return self._authorise(platform, raw.strip(), route, scope)
        return await run_in_threadpool(self._authorise, platform, raw.strip(), route, scope)

    @staticmethod
    def _authorise(platform: Platform, raw: str, route: str, scope: str | None) -> Caller:
        gateway = platform.gateway  # one thread hop for the three lookups when they touch DuckDB or Redis
        identity = gateway.authenticate_key(raw)
        gateway.check_rate(identity, route)
        if scope is not None:
            gateway.require_scope(identity, scope)
        return Caller(platform, identity, gateway.context_for(identity))

    @staticmethod
    def ask(caller: Caller, question, collection: str | None = None, conversation_id: str | None = None,
            **options) -> Answer:
        """An answer within the tenant's quota (QuotaExceeded, 429, before any model call), its usage recorded."""
        return caller.chat.ask(caller.identity, question, collection, conversation_id, route=None, ctx=caller.ctx,
                               **options)
