"""The background ask-log writer: batches by size and time, flushes on demand, loses nothing on close."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from service.asklog import AskLogWriter


class Asks:
    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[tuple[Any, ...]]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def log_many(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.lock:
            if self.fail_first and len(rows) > 1:
                self.fail_first = False
                raise RuntimeError("database is locked")
            if any(r[0] == "dup" for r in rows):
                raise RuntimeError("duplicate request id")
            self.batches.append(list(rows))

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        return [r for b in self.batches for r in b]


def writer(asks: Asks, rows: int = 3, ms: float = 10_000) -> AskLogWriter:
    return AskLogWriter(SimpleNamespace(asks=asks), flush_rows=rows, flush_ms=ms)  # type: ignore[arg-type]


def test_close_writes_everything_queued() -> None:
    asks = Asks()
    w = writer(asks, rows=1000)
    for i in range(250):
        w.log(f"r{i}", f"q{i}", "answer", 0.5, None)
    w.close()
    assert [r[0] for r in asks.rows] == [f"r{i}" for i in range(250)]
    assert w.written == 250 and w.pending == 0
    w.log("late", "q", "handoff", 0.1, None)  # after close: written at once
    assert asks.rows[-1] == ("late", "q", "handoff", 0.1, None, ())
    w.close()  # idempotent


def test_batches_by_size_and_flush_on_demand() -> None:
    asks = Asks()
    w = writer(asks, rows=3)
    for i in range(7):
        w.log(f"r{i}", "q", "answer", 0.9, "e1")
    w.flush()
    assert len(asks.rows) == 7
    assert [len(b) for b in asks.batches][:2] == [3, 3]
    w.close()


def test_batches_by_time() -> None:
    asks = Asks()
    w = writer(asks, rows=1000, ms=20)
    w.log("r1", "q", "answer", 0.9, None)
    for _ in range(200):
        if asks.rows:
            break
        threading.Event().wait(0.01)
    assert [r[0] for r in asks.rows] == ["r1"]
    w.close()


def test_a_failed_batch_is_retried_row_by_row_and_bad_rows_counted() -> None:
    asks = Asks(fail_first=True)
    w = writer(asks, rows=1000)
    for rid in ("a", "dup", "b"):
        w.log(rid, "q", "answer", 0.9, None)
    w.close()
    assert [r[0] for r in asks.rows] == ["a", "b"]
    assert (w.written, w.dropped) == (2, 1)
