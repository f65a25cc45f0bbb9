"""A bounded, expiring in-memory view of gateway rows, cleared by the Gateway's own writes so it is never stale."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ViewCache(Generic[K, V]):
    """Rows read from DuckDB, kept for `ttl_s` seconds and at most `max_entries` (least recently used dropped).

    Safe because this process's Gateway makes every change to what is cached and calls `clear()` once the change
    has committed. A reader that fetched a row before such a change must not store it after the clear (that would
    bring the old row back): `put` takes the `generation()` seen before the fetch and stores nothing if a clear
    happened since. The time limit is only a safety net; correctness comes from the clears. Thread-safe.
    """

    def __init__(self, max_entries: int = 10_000, ttl_s: float = 60.0, now: Callable[[], float] = time.monotonic):
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError(f"a cache needs max_entries >= 1 and ttl_s > 0 (got {max_entries}, {ttl_s})")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._now = now
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value stored for `key` if it is younger than ttl_s, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._now() - entry[0] >= self.ttl_s:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def generation(self) -> int:
        """Take this before reading the row you will `put`."""
        with self._lock:
            return self._generation

    def put(self, key: K, value: V, generation: int) -> bool:
        """Store `value` unless the cache was cleared after `generation` was taken; True when stored."""
        with self._lock:
            if generation != self._generation:
                return False
            self._entries[key] = (self._now(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return True

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
