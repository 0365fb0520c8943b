"""Qdrant Edge index: clearing while others read (a reindex job while the API serves)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from retrieval.bm25 import SparseVec
from retrieval.index import DENSE, SPARSE, IndexPoint, SearchQuery
from retrieval.index_edge import EdgeIndex


def _points(n: int, rng: np.random.Generator) -> list[IndexPoint]:
    return [IndexPoint(f"u{i}", rng.normal(size=8).astype(np.float32), SparseVec([i % 7 + 1], [1.0]),
                       {"unit_id": f"u{i}", "kind": "question" if i % 2 else "answer", "entry_id": f"e{i // 2}"})
            for i in range(n)]


def test_clear_keeps_the_shard_open_for_concurrent_reads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    index = EdgeIndex(tmp_path / "index", 8)
    points = _points(200, rng)
    index.upsert(points)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        query = [SearchQuery(DENSE, points[0].dense, 5), SearchQuery(SPARSE, SparseVec([1], [1.0]), 5),
                 SearchQuery(DENSE, points[0].dense, 5, kinds=("answer",))]
        while not stop.is_set():
            try:
                index.count()
                index.search_batch(query)
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for _ in range(20):
        index.clear()
        index.upsert(points)
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert index.count() == 200
    index.clear()
    assert index.count() == 0 and index.unit_ids() == set()
    # the keyword indexes survive a clear: filtered searches work on the refilled index
    index.upsert(points[:10])
    hits = index.search_batch([SearchQuery(DENSE, points[1].dense, 10, kinds=("question",))])[0]
    assert {h.unit_id for h in hits} == {f"u{i}" for i in range(1, 10, 2)}
    index.close()
