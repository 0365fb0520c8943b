"""Per-key request limits by role, through the ``limits`` package (in memory, or Redis when configured)."""

from __future__ import annotations

import math
import threading
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, StorageTypes, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from core.caller import Caller, Role
from core.errors import BadInput, RateLimited
from core.settings import Settings


class SweptMemoryStorage(MemoryStorage):
    """``limits``' in-process storage with its expired entries swept once every ``SWEEP_S`` seconds.

    The stock storage starts a new 10 ms ``threading.Timer`` on a hit whenever the previous one has finished:
    under steady traffic, an operating-system thread started and joined per request (py-spy on `kb serve` at 60
    unique questions a second: ~4% of the server's samples in ``Thread.start`` and the timers' runs). Whether
    a hit is allowed is decided from the entries' timestamps, never from the sweep, which only frees the memory
    of expired entries; once a second is soon enough for that."""

    SWEEP_S = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the parent's private (name-mangled) hook
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_S, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
            self.timer.daemon = True
            self.timer.start()


def _storage(uri: str) -> StorageTypes:
    return SweptMemoryStorage() if uri in ("memory://", "memory:///") else storage_from_string(uri)


class RateLimiter:
    """One moving-window limit per role, counted per key id."""

    def __init__(self, limits_by_role: dict[str, str], storage_uri: str = "memory://") -> None:
        try:
            self._items: dict[Role, RateLimitItem] = {Role(role): parse(text) for role, text in limits_by_role.items()}
        except ValueError as exc:
            raise BadInput(f"KB_RATE_LIMITS: {exc}") from None
        self._limiter = MovingWindowRateLimiter(_storage(storage_uri))
        self.in_process = storage_uri.startswith("memory://")
        """Counting touches no network (an event loop may count)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        uri = settings.rate_limit_storage or getattr(settings, "redis_url", None) or "memory://"
        return cls(settings.rate_limits, str(uri))

    def check(self, caller: Caller) -> None:
        """Count one request of ``caller``; raise ``RateLimited`` (with the seconds to wait) past its limit."""
        item = self._items.get(caller.role)
        if item is None:
            return
        if not self._limiter.hit(item, "kb", caller.key_id):
            reset, _ = self._limiter.get_window_stats(item, "kb", caller.key_id)
            wait = max(1, math.ceil(reset - time.time()))
            raise RateLimited(f"over the {caller.role.value} limit of {item}: retry in {wait}s", wait)
