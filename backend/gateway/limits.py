"""Rate limits: requests per minute per API key, per user and per route, counted by the `limits` package."""
from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItemPerMinute
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from backend.gateway.identity import Identity, RateLimited
from backend.gateway.limit_storage import SweptMemoryStorage
from backend.settings import Settings

_NAMESPACE = "groundwork"  # a Redis shared with other apps keeps our counters apart


class RateLimits:
    """Thread-safe (the limits storages lock per counter). The storage is opened on first use, so building a
    Platform never connects to Redis; `memory://` counts in this process only, a Redis URI across processes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._per_caller = RateLimitItemPerMinute(settings.rate_limit_per_minute, namespace=_NAMESPACE)
        self._per_route = RateLimitItemPerMinute(settings.route_limit_per_minute, namespace=_NAMESPACE)
        self._limiter: MovingWindowRateLimiter | None = None
        self._tool_items: dict[int, RateLimitItemPerMinute] = {}
        self._lock = threading.Lock()

    @property
    def in_memory(self) -> bool:
        """Counters in this process (no I/O to count a request), not in a shared store such as Redis."""
        return self.settings.rate_limit_storage.strip().lower().startswith("memory://")

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            with self._lock:
                if self._limiter is None:
                    # The moving window counts the last 60 s exactly (no burst of 2x at a fixed window's edge),
                    # and its reset time is when the oldest counted request leaves the window: the Retry-After.
                    uri = self.settings.rate_limit_storage
                    try:
                        storage = SweptMemoryStorage(uri) if self.in_memory else storage_from_string(uri)
                    except ConfigurationError as exc:  # unknown scheme, or its client (e.g. redis) not installed
                        raise ValueError(f"GROUNDWORK_RATE_LIMIT_STORAGE {uri!r}: {exc}") from None
                    self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    def check(self, identity: Identity, route: str) -> None:
        """Count one request of this caller on this route, or RateLimited (nothing counted) when the key, the
        user or the route has used its requests of the last minute."""
        buckets = [(self._per_caller, ("user", identity.user), f"user {identity.user!r}"),
                   (self._per_route, ("route", route), f"route {route}")]
        if identity.key_id is not None:
            buckets.insert(0, (self._per_caller, ("key", str(identity.key_id)), f"API key #{identity.key_id}"))
        limiter = self.limiter
        # Test every bucket before counting any, so a refused request does not use up the others' budget.
        for item, ids, who in buckets:
            if not limiter.test(item, *ids):
                raise self._limited(item, ids, who)
        for item, ids, who in buckets:
            if not limiter.hit(item, *ids):  # another thread took the last one between test and hit
                raise self._limited(item, ids, who)

    def check_tool(self, identity: Identity, tool: str, per_minute: int) -> None:
        """Count one call of `tool` by this user, or RateLimited (nothing counted) past `per_minute`."""
        item = self._tool_items.get(per_minute)
        if item is None:
            item = self._tool_items.setdefault(per_minute, RateLimitItemPerMinute(per_minute, namespace=_NAMESPACE))
        ids = ("tool", tool, identity.user)
        if not self.limiter.hit(item, *ids):
            raise self._limited(item, ids, f"tool {tool} by user {identity.user!r}")

    def _limited(self, item: RateLimitItemPerMinute, ids: tuple[str, ...], who: str) -> RateLimited:
        reset = self.limiter.get_window_stats(item, *ids).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        return RateLimited(f"rate limit: {item.amount} requests per minute for {who}; retry in {retry_after} s",
                           retry_after=retry_after)

    def reset(self) -> None:
        """Forget every counter (tests, and an admin lifting a burst's penalty)."""
        self.limiter.storage.reset()
