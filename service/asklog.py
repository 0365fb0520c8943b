"""The ask log off the request path: a queue and one background thread that writes batches.

A request only enqueues its row; the thread is not woken per row (a wake-up per request cost a thread
switch and a GIL hand-off on the request path) but every ``flush_ms`` milliseconds, or at once when
``flush_rows`` rows wait, and writes what is queued in transactions of up to ``flush_rows`` rows
(``store.asks.log_many``). ``flush()`` writes what is queued
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
        self._wake = threading.Event()
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
        if self._queue.qsize() >= self.flush_rows:
            self._wake.set()

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
        self._wake.set()
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
            self._wake.set()
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
        while True:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            batch: list[AskLogRow] = []
            flushed: list[threading.Event] = []
            stop = False
            while True:  # everything queued now; rows queued before a flush marker are written before it is set
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                elif _is_flush(item):
                    flushed.append(item[1])  # type: ignore[index]
                else:
                    batch.append(item)  # type: ignore[arg-type]
            for start in range(0, len(batch), self.flush_rows):
                self._write(batch[start:start + self.flush_rows])
            for done in flushed:
                done.set()
            if stop:
                return
