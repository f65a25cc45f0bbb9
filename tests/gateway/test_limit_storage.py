"""The limiter's memory storage: the package's counting, expired entries swept by one thread, not one thread per request."""
from __future__ import annotations

import threading
import time

from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

from backend.gateway.limit_storage import SweptMemoryStorage


def _wait_until(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_requests_spaced_apart_share_one_sweeper_thread():
    storage = SweptMemoryStorage(sweep_s=0.5)
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(100)
    started = []
    original = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        original(thread)

    threading.Thread.start = counting_start  # type: ignore[method-assign]
    try:
        for _ in range(5):
            assert limiter.hit(item, "key", "1")
            time.sleep(0.02)  # past the package's own 10 ms timer, which each request would otherwise restart
    finally:
        threading.Thread.start = original  # type: ignore[method-assign]
    assert started == ["rate-limit-sweeper"]


def test_expired_entries_are_swept_and_the_limit_frees_up():
    storage = SweptMemoryStorage(sweep_s=0.05)
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2)
    assert limiter.hit(item, "k") and limiter.hit(item, "k")
    assert not limiter.hit(item, "k")  # the package's counting, unchanged
    assert _wait_until(lambda: not storage.has_counters(), 3.0)  # a second later the sweeper dropped them
    assert limiter.hit(item, "k")


def test_the_sweeper_ends_when_no_counter_is_left():
    storage = SweptMemoryStorage(sweep_s=0.05)
    MovingWindowRateLimiter(storage).hit(RateLimitItemPerSecond(5), "k")
    sweeper = storage._sweeper
    assert sweeper is not None and sweeper.is_alive()
    sweeper.join(timeout=3.0)
    assert not sweeper.is_alive() and not storage.has_counters()
