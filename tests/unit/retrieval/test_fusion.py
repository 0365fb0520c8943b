"""Candidates, fusion and ranking metrics: exact, hand-computed values."""

from __future__ import annotations

import math

import pytest

from retrieval.candidates import build_candidates
from retrieval.fusion import LinearFusion, RRFFusion, fusion_from_dict, rank_by, rrf_term
from retrieval.fusion_fit import fit_on_candidates
from retrieval.index import IndexHit
from retrieval.metrics import hit_at, reciprocal_rank, summarize


def hit(unit: str, score: float, kind: str = "question", entry: str | None = None, doc: str | None = None) -> IndexHit:
    return IndexHit(unit, score, {"unit_id": unit, "kind": kind, "entry_id": entry, "doc_id": doc})


def test_rrf_term() -> None:
    assert rrf_term(1, 60) == 1 / 61
    assert rrf_term(None, 60) == 0.0


def test_candidates_group_faq_units_and_compute_features() -> None:
    dense = [hit("e1:q:a", 0.95, entry="e1"), hit("e2:q:b", 0.90, entry="e2"), hit("e1:a:c", 0.88, "answer", "e1"),
             hit("d1:c:1", 0.85, "chunk", doc="d1")]
    bm25 = [hit("d1:c:1", 8.0, "chunk", doc="d1"), hit("e1:a:c", 4.0, "answer", "e1")]
    cands = build_candidates(dense, bm25, k=60)
    assert [c.key for c in cands] == ["entry:e1", "entry:e2", "chunk:d1:c:1"]
    e1, e2, d1 = (c.features for c in cands)
    assert e1["dense_q"] == 0.95 and e1["dense_p"] == 0.88 and e1["dense"] == 0.95
    assert e1["bm25_p_norm"] == 0.5 and e1["bm25_q_norm"] == 0.0 and e1["bm25_norm"] == 0.5
    assert e1["rrf_dense"] == 1 / 61 and e1["rrf_bm25"] == 1 / 62
    assert e2["rrf_dense"] == 1 / 62 and e2["in_bm25"] == 0.0 and e2["rrf_bm25"] == 0.0
    # e2 has no answer match in the dense list: bounded by the list's lowest score
    assert e2["dense_p"] == 0.85
    assert d1["rrf_dense"] == 1 / 63 and d1["rrf_bm25"] == 1 / 61 and d1["bm25_norm"] == 1.0
    assert d1["is_faq"] == 0.0 and e1["is_faq"] == 1.0
    assert d1["dense_gap"] == pytest.approx(0.85 - 0.95)


def test_second_phrasing_and_phrasings_near_the_question() -> None:
    """``dense_q2``: the similarity of the entry's second closest phrasing in the dense list (the list's lowest
    score bounds it when only one is there); ``q_hits``: how many of its phrasings are in the list."""
    dense = [hit("e1:q:a", 0.95, entry="e1"), hit("e1:q:b", 0.91, entry="e1"), hit("e2:q:c", 0.90, entry="e2"),
             hit("e1:q:d", 0.89, entry="e1"), hit("e1:a:e", 0.88, "answer", "e1"),
             hit("d1:c:1", 0.80, "chunk", doc="d1")]
    e1, e2, d1 = (c.features for c in build_candidates(dense, [], k=60))
    assert (e1["dense_q2"], e1["q_hits"]) == (0.91, 3.0)  # the answer unit is not a phrasing
    assert (e2["dense_q2"], e2["q_hits"]) == (0.80, 1.0)
    assert (d1["dense_q2"], d1["q_hits"]) == (0.0, 0.0)


def test_passage_list_gives_every_passage_a_score_and_a_rank() -> None:
    """In the mixed dense list an entry's phrasings crowd its passage out; the passage-only list fills
    ``dense_p``, its rank and its gap to the best passage, and adds entries found only there."""
    dense = [hit("e1:q:a", 0.95, entry="e1"), hit("e2:q:b", 0.90, entry="e2")]
    passages = [hit("e2:a:b", 0.80, "answer", "e2"), hit("e1:a:a", 0.70, "answer", "e1"),
                hit("e3:a:c", 0.60, "answer", "e3")]
    cands = {c.key: c.features for c in build_candidates(dense, [], k=60, passages=passages)}
    assert list(cands) == ["entry:e1", "entry:e2", "entry:e3"]
    e1, e2, e3 = cands["entry:e1"], cands["entry:e2"], cands["entry:e3"]
    assert e1["dense_p"] == 0.70 and e2["dense_p"] == 0.80 and e3["dense_p"] == 0.60
    assert e2["rrf_passage"] == 1 / 61 and e1["rrf_passage"] == 1 / 62 and e3["rrf_passage"] == 1 / 63
    assert e1["dense_p_gap"] == pytest.approx(-0.10) and e2["dense_p_gap"] == 0.0
    assert e3["in_dense"] == 0.0 and e3["dense_q"] == 0.90  # bounded by the dense list's lowest score
    # without the passage list, an entry whose passage is not in the dense list gets the dense floor
    plain = {c.key: c.features for c in build_candidates(dense, [], k=60)}
    assert plain["entry:e1"]["dense_p"] == 0.90 and plain["entry:e1"]["rrf_passage"] == 0.0


def test_weighted_rrf_order() -> None:
    feats = [{"rrf_dense": 1 / 61, "rrf_bm25": 0.0, "rrf_passage": 1 / 65},
             {"rrf_dense": 1 / 62, "rrf_bm25": 1 / 61, "rrf_passage": 0.0},
             {"rrf_dense": 0.0, "rrf_bm25": 0.0, "rrf_passage": 1 / 61}]
    assert rank_by(feats, RRFFusion(k=60)) == [1, 0, 2]
    assert rank_by(feats, RRFFusion(k=60, dense_weight=1.0, bm25_weight=0.0)) == [0, 1, 2]
    assert rank_by(feats, RRFFusion(k=60, dense_weight=0.0, bm25_weight=0.0, passage_weight=1.0)) == [2, 0, 1]
    # an RRF model stored before the passage ranking existed still loads, with the passage weight 0
    assert fusion_from_dict({"kind": "rrf", "k": 60, "dense_weight": 1.0, "bm25_weight": 0.5}).passage_weight == 0.0


def test_linear_fusion_is_logistic() -> None:
    model = LinearFusion(features=("dense", "bm25_norm"), coef=(2.0, 1.0), intercept=-1.0)
    assert model.score({"dense": 0.5, "bm25_norm": 1.0}) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert fusion_from_dict(model.model_dump()) == model
    with pytest.raises(ValueError):
        fusion_from_dict({"kind": "magic"})


def test_metrics_exact() -> None:
    ranked = ["a", "a", "b", "c"]
    assert hit_at(ranked, {"b"}, 1) == 0.0 and hit_at(ranked, {"b"}, 2) == 1.0
    assert reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)  # duplicates of "a" count once
    assert summarize([(["x", "y"], {"y"}), (["z"], {"q"})]) == {"hit@1": 0.0, "hit@5": 0.5, "mrr@10": 0.25, "n": 2}


def test_fit_prefers_dense_when_bm25_is_noise() -> None:
    pool = []
    for i in range(12):
        gold = f"g{i}"
        dense = [hit(f"{gold}:q", 0.95, entry=gold), hit(f"n{i}:q", 0.90, entry=f"n{i}")]
        bm25 = [hit(f"n{i}:q", 9.0, entry=f"n{i}"), hit(f"{gold}:q", 1.0, entry=gold)]
        pool.append((build_candidates(dense, bm25), frozenset({gold})))
    result = fit_on_candidates(pool)
    assert result.scores[result.model_name]["hit@1"] == 1.0
    assert result.scores["rrf dense=0 bm25=1"]["hit@1"] == 0.0


def test_english_list_gives_its_own_similarity_rank_and_gap() -> None:
    """The English embedder's list: its best score per entry, its rank, the gap to its best; a candidate
    missing from it gets the list's lowest score; without a list every English feature is 0."""
    dense = [hit("e1:q:a", 0.95, entry="e1"), hit("e2:q:b", 0.90, entry="e2")]
    english = [hit("e2:q:b", 0.70, entry="e2"), hit("e2:a:b", 0.65, "answer", "e2"), hit("e3:q:c", 0.40, entry="e3")]
    cands = {c.key: c.features for c in build_candidates(dense, [], k=60, english=english)}
    assert list(cands) == ["entry:e1", "entry:e2", "entry:e3"]
    e1, e2, e3 = cands["entry:e1"], cands["entry:e2"], cands["entry:e3"]
    assert e2["dense_en"] == 0.70 and e2["rrf_en"] == 1 / 61 and e2["dense_en_gap"] == 0.0
    assert e3["dense_en"] == 0.40 and e3["rrf_en"] == 1 / 62 and e3["dense_en_gap"] == pytest.approx(-0.30)
    assert e1["dense_en"] == 0.40 and e1["rrf_en"] == 0.0  # bounded by the list's lowest score
    assert e1["has_en"] == e2["has_en"] == 1.0
    assert e3["in_dense"] == 0.0  # found by the English list alone, still a candidate
    plain = build_candidates(dense, [], k=60)[0].features
    assert (plain["dense_en"], plain["dense_en_gap"], plain["rrf_en"], plain["has_en"]) == (0.0, 0.0, 0.0, 0.0)


def test_rrf_english_weight() -> None:
    feats = [{"rrf_dense": 1 / 61, "rrf_bm25": 0.0, "rrf_en": 0.0},
             {"rrf_dense": 1 / 62, "rrf_bm25": 0.0, "rrf_en": 1 / 61}]
    assert rank_by(feats, RRFFusion(k=60)) == [0, 1]
    assert rank_by(feats, RRFFusion(k=60, english_weight=1.0)) == [1, 0]
    assert fusion_from_dict({"kind": "rrf", "k": 60}).english_weight == 0.0
