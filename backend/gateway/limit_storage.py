"""The rate limiter's in-process storage: the `limits` package's memory storage, its expired entries swept by one thread."""
from __future__ import annotations

import logging
import threading
import weakref

from limits.storage import MemoryStorage

logger = logging.getLogger(__name__)

# limits 5.8's MemoryStorage drops expired entries on a threading.Timer of 10 ms that each counted request
# restarts once the last has fired: a new OS thread per request spaced more than 10 ms apart, ~0.4 ms of a
# request's time on this machine (bench_gateway). These are its name-mangled hooks; the check keeps an upgrade
# that renames them working, only slower.
_SCHEDULE = "_MemoryStorage__schedule_expiry"
_EXPIRE = "_MemoryStorage__expire_events"
_HOOKS_PRESENT = hasattr(MemoryStorage, _SCHEDULE) and hasattr(MemoryStorage, _EXPIRE)


class SweptMemoryStorage(MemoryStorage):
    """`memory://` with one sweeper thread per storage, waking every `sweep_s` while counters exist and ending
    when none are left (an idle process holds no thread). Counting itself is the package's own code."""

    def __init__(self, uri: str | None = None, sweep_s: float = 1.0):
        self.sweep_s = sweep_s
        self._sweeper: threading.Thread | None = None
        self._sweeper_lock = threading.Lock()
        super().__init__(uri)
        if not _HOOKS_PRESENT:
            logger.warning("limits' MemoryStorage internals changed: its own expiry timer is used")

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (the base class's mangled name)
        if not _HOOKS_PRESENT:
            return super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        with self._sweeper_lock:
            if self._sweeper is None or not self._sweeper.is_alive():
                # The thread holds only a weak reference, so a dropped storage (a closed Platform) ends it.
                self._sweeper = threading.Thread(target=_sweep, args=(weakref.ref(self), self.sweep_s),
                                                 name="rate-limit-sweeper", daemon=True)
                self._sweeper.start()
        return None

    def has_counters(self) -> bool:
        # The package's sweep empties an expired key's list of entries but keeps the key.
        return bool(self.expirations) or any(self.events.values())


def _sweep(ref: weakref.ref[SweptMemoryStorage], sweep_s: float) -> None:
    stop = threading.Event()
    while not stop.wait(sweep_s):
        storage = ref()
        if storage is None:
            return
        getattr(storage, _EXPIRE)()
        if not storage.has_counters():
            return
        del storage
