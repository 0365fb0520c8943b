"""The main index and the English embedder's index behind one interface (two real Edge shards)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.bm25 import SparseVec
from retrieval.embed_english import is_english
from retrieval.index import DENSE, ENGLISH, SPARSE, IndexPoint, SearchQuery
from retrieval.index_edge import EdgeIndex
from retrieval.index_paired import PairedIndex


def _vec(i: int, dim: int) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i % dim] = 1.0
    return v


def _point(i: int, english: bool) -> IndexPoint:
    payload = {"unit_id": f"u{i}", "entry_id": f"e{i}", "kind": "question", "text": f"text {i}", "category": "c"}
    return IndexPoint(f"u{i}", _vec(i, 8), SparseVec([i + 1], [1.0]), payload, _vec(i + 1, 4) if english else None)


@pytest.fixture
def paired(tmp_path: Path) -> PairedIndex:
    index = PairedIndex(EdgeIndex(tmp_path / "main", 8), EdgeIndex(tmp_path / "en", 4))
    yield index
    index.close()


def test_english_points_go_to_their_own_index_with_a_light_payload(paired: PairedIndex) -> None:
    paired.upsert([_point(0, True), _point(1, False), _point(2, True)])
    assert paired.count() == 3 and paired.english_count() == 2
    found = paired.search_batch([SearchQuery(DENSE, _vec(1, 8), 1), SearchQuery(ENGLISH, _vec(3, 4), 1),
                                 SearchQuery(SPARSE, SparseVec([1], [1.0]), 1)])
    assert [[h.unit_id for h in hits] for hits in found] == [["u1"], ["u2"], ["u0"]]
    assert "text" not in found[1][0].payload and found[1][0].payload["entry_id"] == "e2"
    # whole payloads asked for: English hits get the main index's (leave-one-out refits read the text)
    full = paired.search_batch([SearchQuery(ENGLISH, _vec(3, 4), 1)], None)
    assert full[0][0].payload["text"] == "text 2"
    # filters apply to the English index too
    assert paired.search_batch([SearchQuery(ENGLISH, _vec(3, 4), 3, {"category": ["other"]})]) == [[]]


def test_deletes_and_edits_keep_the_two_indexes_in_step(paired: PairedIndex) -> None:
    paired.upsert([_point(0, True), _point(1, True)])
    paired.delete(["u0"])
    assert paired.count() == 1 and paired.english_count() == 1
    paired.upsert([_point(1, False)])  # its text is no longer English: its English point goes
    assert paired.count() == 1 and paired.english_count() == 0
    paired.upsert([_point(2, True)])
    paired.clear()
    assert paired.count() == 0 and paired.english_count() == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("How do I reset my password?", True), ("怎么退货", False), ("iPhone 退货", False), ("12345 !!", False),
    ("PIN", True), ("", False),
])
def test_is_english(text: str, expected: bool) -> None:
    assert is_english(text) is expected
