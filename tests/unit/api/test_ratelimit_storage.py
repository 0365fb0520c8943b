"""The in-process rate-limit storage: the same limits as ``limits``' own, without a thread per request."""

from __future__ import annotations

import threading

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.ratelimit import SweptMemoryStorage

started: list[threading.Timer] = []


class _CountingTimer(threading.Timer):
    def start(self) -> None:
        started.append(self)
        super().start()


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[threading.Timer]:
    started.clear()
    monkeypatch.setattr(threading, "Timer", _CountingTimer)
    return started


def _hammer(storage: MemoryStorage, hits: int) -> list[bool]:
    """``hits`` requests of one key against 5 per second, 2 ms apart (a timer of 10 ms ends between them)."""
    limiter = MovingWindowRateLimiter(storage)
    item = parse("5/second")
    out = []
    for _ in range(hits):
        out.append(limiter.hit(item, "kb", "key"))
        threading.Event().wait(0.002)
    return out


def test_swept_storage_starts_one_sweeper_not_one_thread_per_request(counting: list[threading.Timer]) -> None:
    stock = _hammer(MemoryStorage(), 60)
    stock_threads = len(counting)
    counting.clear()
    swept = _hammer(SweptMemoryStorage(), 60)
    # the stock storage restarts its 10 ms timer after nearly every request; ours sweeps once a second
    assert stock_threads > 10
    assert len(counting) <= 2
    # and the limit is the same: the first 5 of each second pass (60 requests in ~0.15 s: 5 pass)
    assert sum(stock) == sum(swept) == 5
    assert swept[:5] == [True] * 5 and not any(swept[5:])


def test_swept_storage_frees_expired_entries() -> None:
    storage = SweptMemoryStorage()
    storage.SWEEP_S = 0.05
    limiter = MovingWindowRateLimiter(storage)
    assert limiter.hit(parse("2/second"), "kb", "a")
    assert len(storage.events["LIMITER/kb/a/2/1/second"]) == 1
    storage.timer.join(1.0)
    threading.Event().wait(1.1)  # a's entry has expired; b's hit schedules the next sweep
    assert limiter.hit(parse("2/second"), "kb", "b")
    storage.timer.join(1.0)
    assert storage.events["LIMITER/kb/a/2/1/second"] == []
    assert len(storage.events["LIMITER/kb/b/2/1/second"]) == 1
