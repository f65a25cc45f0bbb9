"""Gateway writes made behind the request: coalesced in memory, committed to DuckDB by a background thread."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Generic, Hashable, TypeVar

from backend.store.db import Store

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
logger = logging.getLogger(__name__)
# A writer thread that failed this many flushes in a row stops, keeping what it holds: the next put, flush()
# or close() tries again (a store that was closed under it would otherwise be retried every interval forever).
_MAX_FAILURES = 3


class WriteBehind(Generic[K, V]):
    """Pending writes by key, merged (`merge(older, newer)`) until a flush commits them in one gateway transaction.

    A thread started by the first `put` flushes at least every `interval_s` and ends once nothing is pending,
    so an idle Gateway holds no thread. `flush()` writes now (callers do it before reading the rows back);
    `close()` stops the thread and flushes, and later puts are written at once. A failed flush keeps its batch
    (merged back in front of newer puts) and raises, so nothing is dropped while the process lives; what the
    process holds when it dies is lost, at most the last interval's writes. Thread-safe.
    """

    def __init__(self, store: Store, write: Callable[[Any, dict[K, V]], None], merge: Callable[[V, V], V],
                 *, interval_s: float = 1.0, name: str = "gateway-write-behind", lane: str = "gateway"):
        self.store = store
        self.interval_s = interval_s
        self.name = name
        self.lane = lane
        self._write = write
        self._merge = merge
        self._pending: dict[K, V] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: batches commit in the order they were taken
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, key: K, value: V) -> None:
        with self._lock:
            older = self._pending.get(key)
            self._pending[key] = value if older is None else self._merge(older, value)
            write_now = self._closed
            if not write_now and self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        if write_now:
            self.flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Commit everything pending now; on failure it stays pending and the error is raised."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return
            try:
                with self.store.transaction(self.lane) as cur:
                    self._write(cur, batch)
            except BaseException:
                with self._lock:
                    newer, self._pending = self._pending, batch
                    for key, value in newer.items():
                        older = self._pending.get(key)
                        self._pending[key] = value if older is None else self._merge(older, value)
                raise

    def close(self) -> None:
        """Stop the thread and write what is pending (call before the store closes)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        failures = 0
        while True:
            self._wake.wait(self.interval_s)
            try:
                self.flush()
                failures = 0
            except Exception:
                failures += 1
                logger.warning("%s: could not write %d pending rows (attempt %d); they stay queued", self.name,
                               self.pending(), failures, exc_info=True)
            with self._lock:
                if self._closed or not self._pending or failures >= _MAX_FAILURES:
                    self._thread = None
                    return
