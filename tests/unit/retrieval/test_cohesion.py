"""Entry cohesion: the leave-one-out nearest-phrasing similarity, read from both index backends and cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval.bm25 import SparseVec
from retrieval.cohesion import EntryCohesion, leave_one_out_cohesion
from retrieval.index import IndexPoint, VectorIndex
from retrieval.index_edge import EdgeIndex
from retrieval.index_qdrant import QdrantServerIndex


def test_leave_one_out_cohesion_exact() -> None:
    # [1,0] and [.8,.6] are each other's nearest (0.8); [0,1]'s nearest is [.8,.6] (0.6)
    three = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    assert leave_one_out_cohesion(three) == pytest.approx((0.8 + 0.8 + 0.6) / 3)
    # unnormalised rows are normalised first
    assert leave_one_out_cohesion(np.array([[2.0, 0.0], [0.0, 3.0]])) == pytest.approx(0.0)
    assert leave_one_out_cohesion(np.array([[1.0, 1.0], [2.0, 2.0]])) == pytest.approx(1.0)
    assert leave_one_out_cohesion(np.array([[1.0, 0.0]])) is None
    assert leave_one_out_cohesion(np.zeros((0, 3))) is None


def test_leave_one_out_cohesion_against_sklearn_neighbours() -> None:
    """Oracle: scikit-learn's brute-force cosine neighbours (the nearest other row is the second neighbour)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    for n in (2, 5, 17):
        x = rng.normal(size=(n, 12))
        distances, _ = NearestNeighbors(n_neighbors=2, metric="cosine", algorithm="brute").fit(x).kneighbors(x)
        assert leave_one_out_cohesion(x) == pytest.approx(float(np.mean(1.0 - distances[:, 1])), abs=1e-9)


def _point(unit: str, entry: str, kind: str, vector: list[float], source: str = "faq") -> IndexPoint:
    return IndexPoint(unit, np.asarray(vector, dtype=np.float32), SparseVec([1], [1.0]),
                      {"unit_id": unit, "entry_id": entry, "kind": kind, "source": source, "text": unit})


@pytest.fixture(params=["edge", "qdrant"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    made: VectorIndex = (EdgeIndex(tmp_path / "index", 2) if request.param == "edge"
                         else QdrantServerIndex.connect(":memory:", "test", 2))
    yield made
    made.close()


def test_entry_cohesion_from_the_index_phrasings_only_cached_until_cleared(index: VectorIndex) -> None:
    index.upsert([_point("a1", "a", "question", [1.0, 0.0]), _point("a2", "a", "question", [0.8, 0.6]),
                  _point("a3", "a", "question", [0.0, 1.0]),
                  _point("a:answer", "a", "answer", [0.79, 0.61]),  # an answer unit is not a phrasing
                  _point("b1", "b", "question", [1.0, 0.0])])
    found = index.entry_vectors("a")
    assert sorted(p["unit_id"] for p, _ in found) == ["a1", "a2", "a3"]
    cohesion = EntryCohesion(index)
    assert cohesion.of("a") == pytest.approx((0.8 + 0.8 + 0.6) / 3, abs=1e-6)
    assert cohesion.of("b") is None and cohesion.of("missing") is None  # one phrasing, none
    # leaving a phrasing out (a leave-one-out refit) is computed afresh and not cached
    assert cohesion.of("a", exclude=lambda p: p["unit_id"] == "a3") == pytest.approx(0.8, abs=1e-6)
    index.upsert([_point("a4", "a", "question", [0.6, 0.8], source="learned")])
    assert cohesion.of("a") == pytest.approx((0.8 + 0.8 + 0.6) / 3, abs=1e-6)  # cached until the next change
    cohesion.clear()
    # nearest: a1 .8 (a2), a2 .96 (a4), a3 .8 (a4), a4 .96 (a2)
    assert cohesion.of("a") == pytest.approx((0.8 + 0.96 + 0.8 + 0.96) / 4, abs=1e-6) == pytest.approx(0.88)


def test_cache_is_bounded(index: VectorIndex) -> None:
    index.upsert([_point(f"e{i}:{j}", f"e{i}", "question", [1.0, float(j)]) for i in range(5) for j in range(2)])
    cohesion = EntryCohesion(index, limit=3)
    for i in range(5):
        assert cohesion.of(f"e{i}") is not None
    assert len(cohesion._cache) <= 3


def test_load_all_reads_every_entry_in_one_scroll(index: VectorIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    index.upsert([_point("a1", "a", "question", [1.0, 0.0]), _point("a2", "a", "question", [0.8, 0.6]),
                  _point("a3", "a", "question", [0.0, 1.0]), _point("a:answer", "a", "answer", [0.79, 0.61]),
                  _point("b1", "b", "question", [1.0, 0.0]),
                  _point("c1", "c", "question", [0.0, 1.0]), _point("c2", "c", "question", [0.6, 0.8])])
    assert sorted(e for e, _ in index.phrasing_vectors()) == ["a", "a", "a", "b", "c", "c"]
    cohesion = EntryCohesion(index)
    assert cohesion.load_all() == 3
    # from the cache alone: a per-entry read now fails the test
    monkeypatch.setattr(index, "entry_vectors", lambda entry_id: pytest.fail(f"read {entry_id} again"))
    assert cohesion.of("a") == pytest.approx((0.8 + 0.8 + 0.6) / 3, abs=1e-6)
    assert cohesion.of("b") is None
    assert cohesion.of("c") == pytest.approx(0.8, abs=1e-6)
    # too many phrasings to hold at once: nothing installed, entries are read one by one
    assert EntryCohesion(index).load_all(max_phrasings=5) == -1


def test_reload_recomputes_in_the_background_and_close_stops_it(index: VectorIndex) -> None:
    index.upsert([_point("a1", "a", "question", [1.0, 0.0]), _point("a2", "a", "question", [0.8, 0.6])])
    cohesion = EntryCohesion(index)
    assert cohesion.load_all() == 1 and cohesion.of("a") == pytest.approx(0.8, abs=1e-6)
    index.upsert([_point("a3", "a", "question", [0.6, 0.8])])
    cohesion.reload()
    cohesion.wait(timeout=30)
    # a1 .8 (a2), a2 .96 (a3), a3 .96 (a2)
    assert cohesion._cache == {"a": pytest.approx((0.8 + 0.96 + 0.96) / 3, abs=1e-6)}
    cohesion.close()
    cohesion.reload()  # after close: cleared, nothing started
    assert cohesion._worker is None and cohesion._cache == {}


def test_a_load_begun_before_a_change_installs_nothing(index: VectorIndex) -> None:
    index.upsert([_point("a1", "a", "question", [1.0, 0.0]), _point("a2", "a", "question", [0.8, 0.6])])
    cohesion = EntryCohesion(index)
    scroll = index.phrasing_vectors

    def changing() -> Iterator[tuple[str, np.ndarray]]:
        first = True
        for item in scroll():
            if first:
                cohesion.clear()  # an ingest bumps the generation while the scroll runs
                first = False
            yield item

    cohesion.index = type("Wrapped", (), {"phrasing_vectors": staticmethod(changing)})()  # type: ignore[assignment]
    assert cohesion.load_all() == 1
    assert cohesion._cache == {}
