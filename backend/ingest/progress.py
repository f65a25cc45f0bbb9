"""Per-file ingest steps ("reading", "OCR" page i of n, ...) reported to the listener set for the current context."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

StepCallback = Callable[[str, "int | None", "int | None"], None]

# A context variable, not a global: each upload runs in its own thread (and each test in its own context), so one
# listener never hears another file's steps.
_listener: ContextVar[StepCallback | None] = ContextVar("ingest_step_listener", default=None)
_log = logging.getLogger(__name__)


def report_step(step: str, done: int | None = None, total: int | None = None) -> None:
    """Tell the current listener that `step` is under way (`done` of `total` when it counts); no-op without one."""
    listener = _listener.get()
    if listener is None:
        return
    try:
        listener(step, done, total)
    except Exception:  # noqa: BLE001 - a broken progress display must not fail the file being read
        _log.exception("ingest progress listener failed on step %r", step)


@contextmanager
def reporting(callback: StepCallback | None) -> Iterator[None]:
    """Within the block, report_step in this thread/context calls `callback(step, done, total)`."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)
