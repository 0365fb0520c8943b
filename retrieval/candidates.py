"""Group index hits into answerable candidates and compute their fusion features (pure).

A candidate is an FAQ entry (all of its question/answer points together) or one document chunk.
Grouping matters: an FAQ entry can match through its question, an alternative phrasing or its
answer, and should appear once, with the question match and the answer match as separate features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.fusion import rrf_term
from retrieval.index import IndexHit


@dataclass
class Candidate:
    key: str
    is_faq: bool
    payload: dict[str, Any]
    matched: dict[str, Any] | None = None
    dense_q: float | None = None
    dense_q_scores: list[float] = field(default_factory=list)
    dense_p: float | None = None
    bm25_q: float | None = None
    bm25_p: float | None = None
    rank_dense: int | None = None
    rank_bm25: int | None = None
    rank_passage: int | None = None
    dense_en: float | None = None
    rank_en: int | None = None
    features: dict[str, float] = field(default_factory=dict)


def candidate_key(payload: dict[str, Any]) -> str:
    return f"entry:{payload['entry_id']}" if payload.get("entry_id") else f"chunk:{payload['unit_id']}"


def _merge(best: float | None, score: float) -> float:
    return score if best is None else max(best, score)


def build_candidates(dense: Sequence[IndexHit], bm25: Sequence[IndexHit], k: int = 60,
                     passages: Sequence[IndexHit] = (), english: Sequence[IndexHit] = ()) -> list[Candidate]:
    """Candidates in order of first appearance (dense first), with features filled in.

    ``passages`` is a dense search over answer and chunk units alone: in the mixed dense list an entry's
    phrasings crowd out the passages, so without it ``dense_p`` would be missing for most candidates (the
    whole-entry match is what a plain one-vector-per-entry pipeline ranks by, and it is a strong signal).
    ``english`` is the English embedder's search over all units (English questions only)."""
    by_key: dict[str, Candidate] = {}
    order: list[str] = []

    def get(hit: IndexHit) -> Candidate:
        key = candidate_key(hit.payload)
        if key not in by_key:
            by_key[key] = Candidate(key=key, is_faq=bool(hit.payload.get("entry_id")), payload=hit.payload)
            order.append(key)
        return by_key[key]

    for rank_list, name in ((dense, "dense"), (bm25, "bm25"), (passages, "passage"), (english, "english")):
        seen: set[str] = set()
        for hit in rank_list:
            cand = get(hit)
            is_question = hit.payload.get("kind") == "question"
            if name == "english":
                cand.dense_en = _merge(cand.dense_en, hit.score)
                if cand.key not in seen:
                    seen.add(cand.key)
                    cand.rank_en = len(seen)
                continue
            if name == "passage":
                cand.dense_p = _merge(cand.dense_p, hit.score)
                cand.matched = cand.matched or hit.payload
            elif name == "dense":
                if is_question:
                    cand.dense_q = _merge(cand.dense_q, hit.score)
                    cand.dense_q_scores.append(hit.score)
                else:
                    cand.dense_p = _merge(cand.dense_p, hit.score)
                if cand.matched is None or is_question:
                    cand.matched = cand.matched or hit.payload
            else:
                if is_question:
                    cand.bm25_q = _merge(cand.bm25_q, hit.score)
                else:
                    cand.bm25_p = _merge(cand.bm25_p, hit.score)
            if cand.key not in seen:
                seen.add(cand.key)
                if name == "dense":
                    cand.rank_dense = len(seen)
                elif name == "bm25":
                    cand.rank_bm25 = len(seen)
                else:
                    cand.rank_passage = len(seen)

    cands = [by_key[key] for key in order]
    _fill_features(cands, dense, bm25, k, passages)
    _fill_english(cands, english, k)
    return cands


def _fill_english(cands: list[Candidate], english: Sequence[IndexHit], k: int) -> None:
    """The English embedder's features: its similarity (the list's lowest score as the bound for a candidate
    missing from it), the gap to its best, its RRF term; all 0 with ``has_en`` 0 when there is no list."""
    floor = min((h.score for h in english), default=0.0)
    top = max((h.score for h in english), default=0.0)
    has = 1.0 if english else 0.0
    for c in cands:
        score = c.dense_en if c.dense_en is not None else floor
        c.features.update({"dense_en": score, "dense_en_gap": score - top, "rrf_en": rrf_term(c.rank_en, k),
                           "has_en": has})


def _fill_features(cands: list[Candidate], dense: Sequence[IndexHit], bm25: Sequence[IndexHit], k: int,
                   passages: Sequence[IndexHit]) -> None:
    # A candidate missing from the dense list scored at most the list's lowest score: use that bound.
    dense_floor = min((h.score for h in dense), default=0.0)
    top_dense = max((h.score for h in dense), default=0.0)
    passage_floor = min((h.score for h in passages), default=dense_floor)
    top_passage = max((h.score for h in passages), default=top_dense)
    top_bm25 = max((h.score for h in bm25), default=0.0) or 1.0
    for c in cands:
        dq = c.dense_q if c.dense_q is not None else (dense_floor if c.is_faq else 0.0)
        dp = c.dense_p if c.dense_p is not None else min(dense_floor, passage_floor)
        best_dense = max(c.dense_q or dense_floor, c.dense_p or dense_floor)
        bq = (c.bm25_q or 0.0) / top_bm25
        bp = (c.bm25_p or 0.0) / top_bm25
        second_q = sorted(c.dense_q_scores, reverse=True)[1] if len(c.dense_q_scores) > 1 else dense_floor
        c.features = {
            "dense": best_dense,
            "dense_gap": best_dense - top_dense,
            "dense_q": dq,
            "dense_p": dp,
            "dense_q2": second_q if c.is_faq else 0.0,
            "q_hits": float(len(c.dense_q_scores)),
            "bm25_norm": max(bq, bp),
            "bm25_q_norm": bq,
            "bm25_p_norm": bp,
            "rrf_dense": rrf_term(c.rank_dense, k),
            "rrf_bm25": rrf_term(c.rank_bm25, k),
            "rrf_passage": rrf_term(c.rank_passage, k),
            "dense_p_gap": dp - top_passage,
            "in_dense": 1.0 if c.rank_dense is not None else 0.0,
            "in_bm25": 1.0 if c.rank_bm25 is not None else 0.0,
            "is_faq": 1.0 if c.is_faq else 0.0,
        }
