"""The ask log off the request path: a queue and one background thread that writes batches.

A request only enqueues its row. The thread writes every ``flush_rows`` rows or ``flush_ms`` milliseconds,
whichever comes first, in one transaction (``store.asks.log_many``). ``flush()`` writes what is queued
before returning (feedback and resolutions call it, so the ask they refer to is there); ``close()``
drains the queue and stops the thread, so a clean shutdown loses nothing. A failed batch is logged with
its size and retried once row by row; rows that still fail are counted in ``dropped``."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from core.store import Store

log = logging.getLogger(__name__)

AskLogRow = tuple[str, str, str, float, str | None, tuple[str, ...]]
"""(request_id, question, decision, confidence, top_id, entry ids cited or offered)"""

_FLUSH = object()
_STOP = object()


def _is_flush(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and item[0] is _FLUSH


class AskLogWriter:
    def __init__(self, store: Store, flush_rows: int = 200, flush_ms: float = 200.0,
                 observer: Callable[[int, float], None] | None = None) -> None:
        self.store = store
        self.flush_rows = max(1, flush_rows)
        self.flush_s = max(0.001, flush_ms / 1000.0)
        self.observer = observer
        """Called after each written batch with (rows, seconds): the metrics hook."""
        self.logged = 0
        self.written = 0
        self.dropped = 0
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="ask-log-writer", daemon=True)
                self._thread.start()

    def log(self, request_id: str, question: str, decision: str, confidence: float, top_id: str | None,
            offered: Sequence[str] = ()) -> None:
        row: AskLogRow = (request_id, question, str(decision), float(confidence), top_id, tuple(offered))
        if self._closed:  # after close (e.g. a straggling request): written at once, not lost
            with self._lock:
                self.logged += 1
            self._write([row])
            return
        self.start()
        with self._lock:
            self.logged += 1
        self._queue.put(row)

    @property
    def pending(self) -> int:
        """Rows logged and not yet written (queued or in the batch being gathered)."""
        return max(0, self.logged - self.written - self.dropped)

    def flush(self, timeout_s: float = 10.0) -> None:
        """Return once every row queued before this call is written."""
        if self._thread is None or self._closed:
            return
        done = threading.Event()
        self._queue.put((_FLUSH, done))
        if not done.wait(timeout_s):
            log.warning("ask log: flush did not finish within %.1f s", timeout_s)

    def close(self) -> None:
        """Write everything queued, then stop the thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)
        leftover: list[AskLogRow] = []
        while True:  # rows that raced with the stop marker
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple) and not _is_flush(item):
                leftover.append(item)  # type: ignore[arg-type]
            elif _is_flush(item):
                item[1].set()  # type: ignore[index]
        self._write(leftover)

    # -- thread -------------------------------------------------------------------------------
    def _write(self, rows: Sequence[AskLogRow]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        try:
            self.store.asks.log_many(rows)
            self.written += len(rows)
        except Exception as exc:  # a database error must not kill the writer: retried row by row below
            log.error("ask log: batch of %d rows failed (%s); retrying one by one", len(rows), exc)
            for row in rows:
                try:
                    self.store.asks.log_many([row])
                    self.written += 1
                except Exception as row_exc:  # e.g. a duplicate request id: that row is dropped and counted
                    self.dropped += 1
                    log.error("ask log: row %s dropped: %s", row[0], row_exc)
        if self.observer is not None:
            self.observer(len(rows), time.perf_counter() - started)

    def _run(self) -> None:
        batch: list[AskLogRow] = []
        deadline = time.monotonic() + self.flush_s
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._write(batch)
                return
            if _is_flush(item):
                self._write(batch)
                batch = []
                item[1].set()  # type: ignore[index]
                deadline = time.monotonic() + self.flush_s
                continue
            if item is not None:
                batch.append(item)  # type: ignore[arg-type]
            if len(batch) >= self.flush_rows or (batch and time.monotonic() >= deadline) or item is None:
                self._write(batch)
                batch = []
                deadline = time.monotonic() + self.flush_s
