"""The `Server-Timing` header: each API response says how long the chat core took and how long the gateway took around it."""
from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORE = "core"  # the chat service's own call (ChatService.ask): what an in-process caller pays too
GATEWAY = "gateway"  # everything else the server did for the request: auth, limits, quota, body, JSON, usage

# One mutable dict per request; worker threads (run_in_threadpool) run in a copy of the context, which still
# holds the same dict, so the core's time measured there reaches the middleware.
_timings: ContextVar[dict[str, float] | None] = ContextVar("server_timings", default=None)


@contextmanager
def measure(name: str = CORE) -> Iterator[None]:
    """Add the block's wall time to the current request's `name` figure (nothing outside an API request)."""
    timings = _timings.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + (time.perf_counter() - started) * 1000


def header_value(total_ms: float, timings: dict[str, float]) -> str:
    """'core;dur=91.2, gateway;dur=1.3' (RFC-style Server-Timing metrics, milliseconds)."""
    core = sum(timings.values())
    parts = [f"{name};dur={value:.3f}" for name, value in sorted(timings.items())]
    parts.append(f"{GATEWAY};dur={max(0.0, total_ms - core):.3f}")
    return ", ".join(parts)


class ServerTiming:
    """ASGI middleware: times the request from its arrival at the API to its response headers.

    Streamed responses (SSE) send their headers before the answer exists, so they carry the gateway's time only
    up to then; the benchmark reads the figure from the non-streamed /api/v1/ask.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timings: dict[str, float] = {}
        token = _timings.set(timings)

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", header_value(total, timings).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            _timings.reset(token)
