"""The micro-batcher hands each caller its own vectors, batches concurrent callers, and confines an
error to the batch it happened in; the query-embedding LRU returns the same vectors without re-encoding."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from retrieval.batching import BatchingEmbedder, EmbeddingLRU
from retrieval.embed import FakeEmbedder


class Recording(FakeEmbedder):
    """The fake embedder, recording every call; slow enough that concurrent callers queue up."""

    def __init__(self, delay_s: float = 0.02, fail_on: str | None = None) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.delay_s = delay_s
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        threading.Event().wait(self.delay_s)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return super().embed_queries(texts)


TEXTS = [f"question number {i} about refunds and orders" for i in range(40)]


def test_each_caller_gets_its_own_vectors_and_callers_are_batched() -> None:
    reference = FakeEmbedder().embed_queries(TEXTS)
    inner = Recording()
    batcher = BatchingEmbedder(inner, max_batch=8, max_wait_ms=20, workers=1)
    barrier = threading.Barrier(16)

    def one(i: int) -> np.ndarray:
        barrier.wait()
        return batcher.embed_queries([TEXTS[i]])[0]

    try:
        with ThreadPoolExecutor(16) as pool:
            out = list(pool.map(one, range(16)))
    finally:
        batcher.close()
    for i, vec in enumerate(out):
        np.testing.assert_allclose(vec, reference[i], rtol=0, atol=1e-6)
    assert sum(len(c) for c in inner.calls) == 16
    assert max(len(c) for c in inner.calls) > 1  # concurrent callers shared a call
    assert all(len(c) <= 8 for c in inner.calls)
    assert batcher.texts == 16 and batcher.batches == len(inner.calls)


def test_multi_text_requests_keep_their_rows_in_order() -> None:
    batcher = BatchingEmbedder(Recording(delay_s=0.0), max_batch=16, max_wait_ms=1, workers=2)
    try:
        out = batcher.embed_queries(TEXTS[:10])
    finally:
        batcher.close()
    np.testing.assert_allclose(out, FakeEmbedder().embed_queries(TEXTS[:10]), atol=1e-6)
    assert batcher.embed_queries([]).shape == (0, 64)


def test_an_error_fails_its_batch_only() -> None:
    inner = Recording(delay_s=0.05, fail_on="boom")
    batcher = BatchingEmbedder(inner, max_batch=64, max_wait_ms=30, workers=1)
    barrier = threading.Barrier(4)

    def one(text: str) -> str:
        barrier.wait()
        try:
            batcher.embed_queries([text])
        except RuntimeError as exc:
            return str(exc)
        return "ok"

    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, ["boom", "a", "b", "c"]))
        batch_of_boom = next(c for c in inner.calls if "boom" in c)
        for text, result in zip(["boom", "a", "b", "c"], results, strict=True):
            assert result == ("cannot encode 'boom'" if text in batch_of_boom else "ok")
        # the worker survived: the next call works
        np.testing.assert_allclose(batcher.embed_queries(["after"])[0], FakeEmbedder().embed_queries(["after"])[0],
                                   atol=1e-6)
    finally:
        batcher.close()


def test_after_close_calls_are_encoded_directly() -> None:
    inner = Recording(delay_s=0.0)
    batcher = BatchingEmbedder(inner, workers=2)
    batcher.warm_up()
    batcher.close()
    assert batcher.embed_queries(["x"]).shape == (1, 64)
    assert inner.calls == [["x"]]


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        BatchingEmbedder(FakeEmbedder(), max_batch=0)


def test_embedding_lru_encodes_each_text_once_and_evicts_the_oldest() -> None:
    inner = Recording(delay_s=0.0)
    lru = EmbeddingLRU(inner, size=2)
    first = lru.embed_queries(["a", "b", "a"])
    assert inner.calls == [["a", "b"]]
    np.testing.assert_allclose(first[0], first[2])
    lru.embed_queries(["a"])
    assert inner.calls == [["a", "b"]] and (lru.hits, lru.lookups) == (1, 4)  # the second "a" from the LRU
    lru.embed_queries(["c"])  # evicts "b" (least recently used)
    lru.embed_queries(["b"])
    assert inner.calls == [["a", "b"], ["c"], ["b"]]


def test_a_lone_caller_does_not_wait_for_company() -> None:
    batcher = BatchingEmbedder(Recording(delay_s=0.0), max_batch=16, max_wait_ms=2000, workers=1)
    try:
        batcher.warm_up()
        started = time.perf_counter()
        for text in TEXTS[:3]:
            batcher.embed_queries([text])
        assert time.perf_counter() - started < 1.0  # not 3 x 2 s
    finally:
        batcher.close()


def test_bulk_calls_bypass_the_queue_and_the_lru() -> None:
    inner = Recording(delay_s=0.0)
    lru = EmbeddingLRU(BatchingEmbedder(inner, max_batch=4, workers=1), size=1000)
    texts = [f"training text {i}" for i in range(100)]
    out = lru.embed_queries(texts)
    np.testing.assert_allclose(out, FakeEmbedder().embed_queries(texts), atol=1e-6)
    assert inner.calls == [texts] and lru.lookups == 0  # one direct call, nothing cached
    lru.close()


def test_serving_embedder_takes_its_shape_from_the_settings() -> None:
    from core.settings import Settings
    from retrieval.batching import close_embedder, serving_embedder

    emb = serving_embedder(FakeEmbedder(), Settings(embed_workers=3, embed_threads=2, embed_max_batch=8,
                                                    query_cache_size=5))
    assert isinstance(emb, EmbeddingLRU) and emb.size == 5
    batcher = emb.inner
    assert isinstance(batcher, BatchingEmbedder)
    assert (batcher.n_workers, batcher.omp_threads, batcher.max_batch) == (3, 2, 8)
    close_embedder(batcher)
    assert not isinstance(serving_embedder(FakeEmbedder(), Settings(embed_workers=0, query_cache_size=0)),
                          (EmbeddingLRU, BatchingEmbedder))
