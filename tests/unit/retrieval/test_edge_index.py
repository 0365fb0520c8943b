"""Qdrant Edge index: clearing while others read (a reindex job while the API serves); the light-payload map."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval import index_edge
from retrieval.bm25 import SparseVec
from retrieval.index import DENSE, LIGHT_KEYS, SPARSE, IndexPoint, SearchQuery
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
    index.warm()  # the map is built and kept while readers search and the writer clears and refills
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


def _payloads(n: int, rng: np.random.Generator) -> list[IndexPoint]:
    """Points with every light key and a heavy one (``text``) searches must not return."""
    return [IndexPoint(f"u{i}", rng.normal(size=8).astype(np.float32), SparseVec([i % 5 + 1], [1.0 + i % 3]),
                       {"unit_id": f"u{i}", "entry_id": f"e{i // 3}", "doc_id": None,
                        "kind": ("question", "answer")[i % 2], "source": f"s{i % 4}",
                        "product": "acme" if i % 3 == 0 else None, "text": f"text {i}"})
            for i in range(n)]


def _queries(rng: np.random.Generator) -> list[SearchQuery]:
    from core.models import Filters

    v = rng.normal(size=8).astype(np.float32)
    return [SearchQuery(DENSE, v, 12), SearchQuery(SPARSE, SparseVec([2, 3], [1.0, 0.5]), 12),
            SearchQuery(DENSE, v, 12, kinds=("answer",)), SearchQuery(DENSE, v, 12, Filters(product=["acme"])),
            SearchQuery(SPARSE, SparseVec([], []), 12)]


def _as_tuples(found: list[list[Any]]) -> list[list[tuple[str, float, dict[str, Any]]]]:
    return [[(h.unit_id, round(h.score, 5), h.payload) for h in hits] for hits in found]


def test_warm_searches_return_what_the_shard_would(tmp_path: Path) -> None:
    """Oracle: the same queries on the same shard before ``warm`` (payloads read by the shard) and after (light
    payloads from the map) return the same hits, scores and payloads, for every key selection."""
    rng = np.random.default_rng(1)
    index = EdgeIndex(tmp_path / "index", 8)
    index.upsert(_payloads(300, rng))
    batches = [_queries(rng) for _ in range(5)]
    selections: list[tuple[str, ...] | None] = [LIGHT_KEYS, ("unit_id", "entry_id"), None]
    expected = [_as_tuples(index.search_batch(q, keys)) for q in batches for keys in selections]
    assert all(any(found) for found in expected)
    index.warm()
    assert index._light is not None and len(index._light) == 300
    assert [_as_tuples(index.search_batch(q, keys)) for q in batches for keys in selections] == expected
    hits = index.search_batch(batches[0], LIGHT_KEYS)[0]
    assert all("text" not in h.payload and set(h.payload) <= set(LIGHT_KEYS) for h in hits)
    hits[0].payload["kind"] = "changed by a caller"  # callers get copies: the map is not theirs to change
    assert index.search_batch(batches[0], LIGHT_KEYS)[0][0].payload["kind"] != "changed by a caller"
    for payload in index._light.values():  # the searches read the map, not the shard
        payload["source"] = "map"
    assert {h.payload["source"] for h in index.search_batch(batches[0], LIGHT_KEYS)[0]} == {"map"}
    assert {h.payload["source"] for h in index.search_batch(batches[0], None)[0]} != {"map"}
    index.close()


def test_the_map_follows_upserts_edits_deletes_and_clear(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    points = _payloads(30, rng)
    index = EdgeIndex(tmp_path / "index", 8)
    index.upsert(points[:20])
    index.warm()
    index.upsert(points[20:])  # added after warm-up: found with their payloads
    probe = points[25].dense
    first = index.search_batch([SearchQuery(DENSE, probe, 1)])[0][0]
    assert first.unit_id == "u25" and first.payload["entry_id"] == "e8"
    moved = points[25]._replace(payload={**points[25].payload, "entry_id": "e99", "kind": "answer"})
    index.upsert([moved])  # an edit: the new payload is served at the next search
    first = index.search_batch([SearchQuery(DENSE, probe, 1)])[0][0]
    assert (first.unit_id, first.payload["entry_id"], first.payload["kind"]) == ("u25", "e99", "answer")
    index.delete(["u25"])
    assert "u25" not in {h.unit_id for h in index.search_batch([SearchQuery(DENSE, probe, 30)])[0]}
    index.clear()
    assert index.search_batch([SearchQuery(DENSE, probe, 30)]) == [[]]
    index.upsert(points[:3])
    assert {h.unit_id for h in index.search_batch([SearchQuery(DENSE, probe, 30)])[0]} == {"u0", "u1", "u2"}
    index.close()


def test_no_map_above_the_point_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_edge, "LIGHT_MAP_MAX_POINTS", 10)
    rng = np.random.default_rng(3)
    index = EdgeIndex(tmp_path / "index", 8)
    index.upsert(_payloads(11, rng))
    index.warm()
    assert index._light is None
    hits = index.search_batch([SearchQuery(DENSE, rng.normal(size=8).astype(np.float32), 11)])[0]
    assert len(hits) == 11 and all("text" not in h.payload for h in hits)
    index.close()
