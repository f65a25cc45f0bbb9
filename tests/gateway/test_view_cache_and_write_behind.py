"""The two parts behind the gateway's cheap requests: ViewCache (bounded, expiring, never re-filled by a read that
raced a change) and WriteBehind (merged writes, kept on failure, flushed on close)."""
from __future__ import annotations

import pytest

from backend.gateway.caches import ViewCache
from backend.gateway.write_behind import WriteBehind


class Ticker:
    """Monotonic seconds the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl_and_the_oldest_unused_go_first():
    ticker = Ticker()
    cache: ViewCache[str, int] = ViewCache(max_entries=2, ttl_s=60, now=ticker)
    for key, value in (("a", 1), ("b", 2)):
        assert cache.put(key, value, cache.generation())
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3, cache.generation())
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)
    ticker.now = 59.9
    assert cache.get("a") == 1
    ticker.now = 60.0
    assert cache.get("a") is None and cache.get("c") is None and len(cache) == 0


def test_a_row_read_before_a_clear_is_not_stored_after_it():
    cache: ViewCache[str, str] = ViewCache()
    seen = cache.generation()  # a reader starts its query...
    cache.put("k", "fresh", cache.generation())
    cache.clear()  # ...a change commits and clears...
    assert not cache.put("k", "stale", seen)  # ...and the reader's older row is not kept
    assert cache.get("k") is None
    assert cache.put("k", "new", cache.generation()) and cache.get("k") == "new"


def test_a_cache_needs_sane_bounds():
    with pytest.raises(ValueError, match="max_entries >= 1 and ttl_s > 0"):
        ViewCache(max_entries=0)


def _sums(store) -> dict[str, int]:
    return dict(store.query("SELECT k, v FROM wb ORDER BY k"))


def _writer(store, fail: list[bool]) -> WriteBehind[str, int]:
    store.execute("CREATE TABLE IF NOT EXISTS wb (k VARCHAR PRIMARY KEY, v BIGINT)")

    def write(cur, batch: dict[str, int]) -> None:
        for key, value in batch.items():
            cur.execute("INSERT INTO wb VALUES (?, ?) ON CONFLICT DO UPDATE SET v = wb.v + excluded.v", [key, value])
        if fail and fail.pop():
            raise RuntimeError("disk full")

    # A long interval: these tests flush by hand, so the background thread never races them.
    return WriteBehind(store, write, lambda older, newer: older + newer, interval_s=3600)


def test_puts_merge_by_key_and_a_flush_writes_them_in_one_go(store):
    writes = _writer(store, [])
    for key, value in (("a", 1), ("b", 10), ("a", 2)):
        writes.put(key, value)
    assert writes.pending() == 2 and _sums(store) == {}
    writes.flush()
    assert writes.pending() == 0 and _sums(store) == {"a": 3, "b": 10}
    writes.close()


def test_a_failed_flush_keeps_its_batch_and_rolls_back(store):
    writes = _writer(store, [True])
    writes.put("a", 1)
    with pytest.raises(RuntimeError, match="disk full"):
        writes.flush()
    assert _sums(store) == {}  # the transaction rolled back: nothing half-written
    writes.put("a", 5)  # newer puts merge with the kept batch
    writes.flush()
    assert _sums(store) == {"a": 6}
    writes.close()


def test_close_writes_what_is_pending_and_later_puts_are_written_at_once(store):
    writes = _writer(store, [])
    writes.put("a", 1)
    writes.close()
    assert _sums(store) == {"a": 1}
    writes.put("a", 2)
    assert _sums(store) == {"a": 3} and writes.pending() == 0
