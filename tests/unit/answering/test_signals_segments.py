"""The new answer signals, segment thresholds, the probability models and the clarify decision: exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from answering.calibration import (
    MIN_RESIDUAL,
    SIGNALS,
    Calibration,
    fit_calibration,
    global_threshold,
    threshold_for_precision,
)
from answering.confidence import ProbabilityModel, fit_probability
from answering.decision import decide
from answering.segments import residual, segment_keys, segment_thresholds, threshold_for
from answering.signals import choices, signals, split_set_probability
from core.models import SearchHit
from retrieval.tokenize import Tokenizer, TokenizerConfig


def hit(entry: str, score: float, source: str = "faq", category: str | None = None, **features: float) -> SearchHit:
    return SearchHit(entry_id=entry, chunk_id=f"{entry}:q", kind="question", text=f"answer {entry}", score=score,
                     question=f"question {entry}", answer=f"answer {entry}", source=source,
                     metadata={"category": category}, features={"is_faq": 1.0, **features})


def test_agreement_and_leads_between_the_two_rankings() -> None:
    hits = [hit("a", 0.8, dense=0.90, in_dense=1, bm25_norm=0.6, in_bm25=1),
            hit("b", 0.5, dense=0.85, in_dense=1, bm25_norm=1.0, in_bm25=1),
            hit("c", 0.3, dense=0.70, in_dense=1)]
    s = signals(hits, "how do I top up")
    assert s["dense_lead"] == pytest.approx(0.05) and s["dense_first"] == 1.0
    assert s["bm25_lead"] == pytest.approx(-0.4) and s["bm25_first"] == 0.0 and s["agree"] == 0.0
    # when the top hit leads both rankings the two agree
    agree = signals([hit("a", 0.8, dense=0.9, in_dense=1, bm25_norm=1.0, in_bm25=1), hits[2]], "q")
    assert agree["agree"] == 1.0 and agree["bm25_lead"] == pytest.approx(1.0)


def test_english_embedder_agreement() -> None:
    """Whether the English embedder ranks the top entry first too, and by how much; all 0 without its list."""
    hits = [hit("a", 0.8, dense_en=0.62, has_en=1), hit("b", 0.5, dense_en=0.70, has_en=1),
            hit("c", 0.3, dense_en=0.40, has_en=1)]
    s = signals(hits, "card declined")
    assert (s["has_en"], s["en_first"], s["dense_en"]) == (1.0, 0.0, 0.62)
    assert s["en_lead"] == pytest.approx(-0.08)
    first = signals([hit("a", 0.8, dense_en=0.9, has_en=1), hits[1]], "card declined")
    assert first["en_first"] == 1.0 and first["en_lead"] == pytest.approx(0.2)
    none = signals([hit("a", 0.8), hit("b", 0.5)], "卡被拒了")
    assert (none["has_en"], none["en_first"], none["en_lead"], none["dense_en"]) == (0.0, 0.0, 0.0, 0.0)
    from answering.signals import without_english

    off = without_english(s)  # the same question where the English embedder is off
    assert {k for k in s if off[k] != s[k]} == {"has_en", "dense_en", "en_lead"}  # en_first was already 0
    assert off["has_en"] == off["en_first"] == off["en_lead"] == off["dense_en"] == 0.0 and off["top"] == s["top"]


def test_phrasing_signals_and_the_match_against_the_entry_cohesion() -> None:
    s = signals([hit("a", 0.8, dense_q=0.86, dense_q2=0.84, q_hits=3, cohesion=0.90), hit("b", 0.5)], "q")
    assert (s["dense_q2"], s["has_coh"], s["cohesion"]) == (0.84, 1.0, 0.90)
    assert s["q_hits"] == pytest.approx(math.log1p(3)) and s["dq_rel"] == pytest.approx(-0.04)
    # an entry with one phrasing has no cohesion: the three are 0, the flag says so
    one = signals([hit("a", 0.8, dense_q=0.86, dense_q2=0.7, q_hits=1), hit("b", 0.5)], "q")
    assert (one["has_coh"], one["cohesion"], one["dq_rel"], one["dense_q2"]) == (0.0, 0.0, 0.0, 0.7)
    # a document chunk first: none of them
    chunk = SearchHit(doc_id="d", chunk_id="d:1", kind="chunk", text="t", score=0.9,
                      features={"dense_q2": 0.5, "q_hits": 2.0, "cohesion": 0.9})
    doc = signals([chunk], "q")
    assert doc["dense_q2"] == doc["q_hits"] == doc["has_coh"] == doc["dq_rel"] == 0.0


def test_gap_structure_and_set_signals() -> None:
    hits = [hit("a", 0.6, dense_q=0.8), hit("a", 0.55), hit("b", 0.58, dense_q=0.9), hit("c", 0.2), hit("d", 0.1)]
    s = signals(hits, "q")
    # the second hit of entry a is not a competitor: distinct entries are a 0.6, b 0.58, c 0.2, d 0.1
    assert (s["top"], s["second"], s["third"]) == (0.6, 0.58, 0.2)
    assert s["margin"] == pytest.approx(0.02) and s["gap23"] == pytest.approx(0.38)
    assert s["share5"] == pytest.approx(0.6 / 1.48) and s["n_close"] == 1.0
    assert s["set_sum"] == pytest.approx(1.38) and s["set_drop"] == pytest.approx(0.1)
    assert s["set_dense"] == 0.9
    assert [h.entry_id for h in choices(hits)] == ["a", "b", "c"]


def test_question_signals_length_language_and_seeking() -> None:
    assert signals([], "reset my card pin")["q_len"] == pytest.approx(math.log1p(4))
    zh = signals([], "退货多久到账")
    assert zh["is_zh"] == 1.0 and zh["q_len"] == pytest.approx(math.log1p(6))
    assert signals([], "q")["seeking"] == 1.0 and signals([], "q", seeking=0.25)["seeking"] == 0.25


def test_choice_probabilities_share_the_rest_of_the_set_probability() -> None:
    assert split_set_probability(0.5, 0.9, [0.6, 0.3, 0.1]) == pytest.approx([0.5, 0.3, 0.1])
    assert split_set_probability(0.7, 0.6, [0.6, 0.2]) == pytest.approx([0.7, 0.0])  # never below P(top)
    assert split_set_probability(0.5, 0.9, []) == []


def test_segment_with_enough_labels_gets_its_own_threshold_and_a_small_one_falls_back() -> None:
    # segment "x": 100 questions, reliable (right above 0.5); segment "y": 100 questions, right only above 0.8;
    # segment "z": 5 questions (too few, falls back to the global threshold)
    scores, correct, segs = [], [], []
    for i in range(100):
        v = i / 100
        scores += [v, v]
        correct += [v >= 0.5, v >= 0.8]
        segs += [("source:x", "lang:en"), ("source:y", "lang:en")]
    scores += [0.95, 0.9, 0.6, 0.55, 0.3]
    correct += [True, True, False, False, False]
    segs += [("source:z", "lang:zh")] * 5
    w = [1.0] * len(scores)
    th = segment_thresholds(scores, correct, w, segs, target=0.9, min_segment=80)
    # x: from 0.45 up, 50 right of 55 (0.909); from 0.44, 50 of 56 (0.893). y: from 0.78, 20 of 22 (0.909)
    assert th["source:x"] == 0.45 and th["source:y"] == 0.78
    assert "source:z" not in th and "lang:zh" not in th
    assert "lang:en" not in th  # every English question has a source threshold: none left to fit it on
    assert threshold_for(th, ("source:x", "lang:en"), 0.7) == 0.45
    assert threshold_for(th, ("source:z", "lang:zh"), 0.7) == 0.7  # too few labels: the global one


def test_a_broad_segment_is_fitted_on_the_questions_no_specific_one_decides() -> None:
    # 200 Chinese questions of a well-labelled source, right from 0.1 up; 100 Chinese questions spread over five
    # small sources (20 each, too few for a threshold of their own), right only from 0.8 up
    scores, correct, segs = [], [], []
    for i in range(200):
        v = i / 200
        scores.append(v)
        correct.append(v >= 0.1)
        segs.append(("source:easy", "lang:zh"))
    for i in range(100):
        v = i / 100
        scores.append(v)
        correct.append(v >= 0.8)
        segs.append((f"source:small{i % 5}", "lang:zh"))
    w = [1.0] * len(scores)
    th = segment_thresholds(scores, correct, w, segs, target=0.9, min_segment=80)
    # easy: from 0.0 up, 180 right of 200 (0.9). The small sources' 100 questions: from 0.78, 20 of 22 (0.909)
    assert th == {"source:easy": 0.0, "lang:zh": 0.78}
    assert threshold_for(th, ("source:small3", "lang:zh"), 0.5) == 0.78
    # fitted on all 300 Chinese questions, the threshold would have let the small sources answer from 0.72 up
    # (20 right of 28 there, 0.71): the easy source's questions above it carried the precision
    assert threshold_for_precision(scores, correct, 0.9, w) == 0.715
    assert residual(th, segs) == []
    assert residual({"source:easy": 0.0}, segs) == list(range(200, 300))


def test_global_threshold_fitted_on_the_questions_no_segment_decides() -> None:
    rng = np.random.default_rng(0)
    rows, correct, segs = [], [], []
    for i in range(600):
        reliable = i < 400
        top = float(rng.uniform())
        right = bool(top > 0.2) if reliable else bool(rng.uniform() < top * top)
        rows.append({**dict.fromkeys(SIGNALS, 0.0), "top": top})
        correct.append(right)
        segs.append(("source:good",) if reliable else (f"source:tiny{i % 4}",))
    cal = fit_calibration(rows, correct, 0.9, segments=segs, min_segment=80, allow_boosted=False)
    assert set(cal.segment_thresholds) == {"source:good"}
    rest = range(400, 600)
    answered = [i for i in rest if cal.confidence(rows[i]) >= cal.threshold(segs[i])]
    assert cal.threshold(("source:tiny1",)) == cal.answer_threshold > cal.segment_thresholds["source:good"]
    assert answered and sum(correct[i] for i in answered) / len(answered) >= 0.85
    # the same calibration without segments: one threshold for all, set by the reliable source's questions
    flat = fit_calibration(rows, correct, 0.9, allow_boosted=False)
    lax = [i for i in rest if flat.confidence(rows[i]) >= flat.answer_threshold]
    assert sum(correct[i] for i in lax) / len(lax) < 0.8


def test_global_threshold_from_the_residual_questions() -> None:
    # 200 questions a segment threshold decides and 30 left to the global one (indices 200..229)
    scores = [i / 200 for i in range(200)] + [i / 30 for i in range(30)]
    rest = list(range(200, 230))
    w = [1.0] * 230
    hard_rest = [s >= 0.1 for s in scores[:200]] + [s >= 0.8 for s in scores[200:]]
    # all 230: from 0.105 (185 right of 205); the 30 alone: from 0.8 (6 of 6). 30 < 80 rows: the higher
    assert threshold_for_precision(scores, hard_rest, 0.9, w) == 0.105
    assert global_threshold(scores, hard_rest, w, rest, 0.9, 80, 0.0) == 0.8
    easy_rest = [s >= 0.8 for s in scores[:200]] + [s >= 0.1 for s in scores[200:]]
    # all 230: from 0.775; the 30 alone: from 0.0 (27 of 30). Too few to lower it; with 20 rows enough, their own
    assert global_threshold(scores, easy_rest, w, rest, 0.9, 80, 0.0) == 0.775
    assert global_threshold(scores, easy_rest, w, rest, 0.9, 20, 0.0) == 0.0
    # enough of them, but all wrong and unsure (none above 0.2): nothing says how sure is sure enough among
    # them, and their threshold (just above 0.2) would answer surer ones blindly; every question's instead
    low = scores[:200] + [s * 0.2 for s in scores[200:]]
    assert global_threshold(low, easy_rest[:200] + [False] * 30, w, rest, 0.9, 20, 0.0) == 0.78
    # fewer than MIN_RESIDUAL left, or nothing claimed by a segment: every question's threshold
    assert global_threshold(scores, hard_rest, w, rest[:MIN_RESIDUAL - 1], 0.9, 80, 0.0) == 0.105
    assert global_threshold(scores, hard_rest, w, list(range(230)), 0.9, 80, 0.0) == 0.105


def test_segment_keys_most_specific_first() -> None:
    assert segment_keys("退货", [hit("a", 0.9, source="faq.jsonl", category="returns")]) == (
        "category:returns", "source:faq.jsonl", "lang:zh")
    assert segment_keys("refund", []) == ("lang:en",)


def test_fit_calibration_uses_segment_thresholds() -> None:
    rng = np.random.default_rng(0)
    rows, correct, segs = [], [], []
    for i in range(400):
        good_segment = i % 2 == 0
        top = float(rng.uniform())
        right = bool(rng.uniform() < (top if good_segment else top * 0.5))
        rows.append({**dict.fromkeys(SIGNALS, 0.0), "top": top})
        correct.append(right)
        segs.append(("source:good",) if good_segment else ("source:bad",))
    cal = fit_calibration(rows, correct, 0.9, segments=segs, min_segment=80, allow_boosted=False)
    assert cal.segment_thresholds["source:bad"] > cal.segment_thresholds["source:good"]
    assert cal.threshold(("source:good",)) == cal.segment_thresholds["source:good"]
    assert cal.threshold(("source:other",)) == cal.answer_threshold


def test_logistic_with_few_labels_boosted_when_interactions_matter() -> None:
    rng = np.random.default_rng(1)
    n = 1200
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    y = (a > 0.5) ^ (b > 0.5)  # an interaction no linear model can use
    rows = [{"x": float(u), "z": float(v)} for u, v in zip(a, b, strict=True)]
    few, few_oof = fit_probability(rows[:60], y[:60].tolist(), ("x", "z"))
    assert few.kind == "logistic" and len(few_oof) == 60
    model, oof = fit_probability(rows, y.tolist(), ("x", "z"))
    assert model.kind == "boosted"
    assert float(np.mean((oof >= 0.5) == y)) > 0.9
    # JSON round trip keeps the fitted estimator
    again = ProbabilityModel.model_validate_json(model.model_dump_json())
    assert again.probability({"x": 0.9, "z": 0.1}) > 0.8 > 0.2 > again.probability({"x": 0.9, "z": 0.9})


def test_clarify_offers_the_choices_with_probabilities() -> None:
    tok = Tokenizer(TokenizerConfig())
    names = ("top",)
    cal = Calibration(answer_model=ProbabilityModel(features=names, coef=(10.0,), intercept=-8.0),
                      set_model=ProbabilityModel(features=("set_sum",), coef=(10.0,), intercept=-5.0),
                      answer_threshold=0.9, clarify_threshold=0.8)
    hits = [hit("a", 0.6), hit("b", 0.4), hit("c", 0.2), hit("d", 0.05)]
    answer, decision, confidence, cites, related = decide("q", hits, cal, 0.5, tok)
    p_top = 1 / (1 + math.exp(-(10 * 0.6 - 8)))
    p_set = 1 / (1 + math.exp(-(10 * 1.2 - 5)))
    assert (answer, decision, cites) == (None, "clarify", [])
    assert confidence == pytest.approx(p_top)
    assert [r.entry_id for r in related] == ["a", "b", "c"]
    assert [r.probability for r in related] == pytest.approx(
        [round(p_top, 4), round((p_set - p_top) * 0.4 / 0.6, 4), round((p_set - p_top) * 0.2 / 0.6, 4)], abs=1e-4)
    # a set the model doubts is handed off
    low = [hit("a", 0.3), hit("b", 0.05), hit("c", 0.01)]
    assert decide("q", low, cal, 0.5, tok)[1] == "handoff"
    # a confident top is answered
    assert decide("q", [hit("a", 1.2), hit("b", 0.1)], cal, 0.5, tok)[1] == "answer"


def test_legacy_calibration_still_loads() -> None:
    legacy = {"coef": [1.0] + [0.0] * 8, "intercept": 0.5, "answer_threshold": 0.7}
    cal = Calibration.model_validate(legacy)
    assert cal.answer_model.features[0] == "top" and cal.set_model is None
    assert cal.confidence({**dict.fromkeys(SIGNALS, 0.0), "top": 1.0}) == pytest.approx(1 / (1 + math.exp(-1.5)))


def test_segment_margin_grows_as_the_segment_shrinks() -> None:
    # two segments with the same pattern (12 right, 1 wrong, by falling score), one 20x the size of the other:
    # with no margin both get the lowest score as threshold; with one, the small segment gives up more
    def pattern(n: int, key: str) -> tuple[list[float], list[bool], list[tuple[str]]]:
        scores = [1.0 - i / (n + 1) for i in range(n)]
        return scores, [i % 13 != 12 for i in range(n)], [(key,)] * n

    s1, c1, k1 = pattern(100, "source:small")
    s2, c2, k2 = pattern(2000, "source:large")
    scores, correct, keys = s1 + s2, c1 + c2, k1 + k2
    weights = [1.0] * len(scores)
    flat = segment_thresholds(scores, correct, weights, keys, 0.9, 80)
    assert flat == {"source:small": s1[-1], "source:large": s2[-1]}
    safe = segment_thresholds(scores, correct, weights, keys, 0.9, 80, z=1.5)
    share_small = sum(s >= safe["source:small"] for s in s1) / len(s1)
    share_large = sum(s >= safe["source:large"] for s in s2) / len(s2)
    assert share_small < share_large == 1.0  # a precision of 0.92 on 100 questions may be 0.9 or less; on 2,000, hardly


def test_fitter_precision_confidence_is_a_margin_in_standard_errors() -> None:
    from answering.fitting import CalibrationFitter

    def fitter(confidence: float) -> CalibrationFitter:
        return CalibrationFitter(None, None, lambda h, v: h, 0.9, None, precision_confidence=confidence)  # type: ignore[arg-type]

    assert fitter(0.5).z == 0.0
    assert fitter(0.8).z == pytest.approx(0.8416, abs=1e-4)
