"""Calibration and decisions: exact, hand-computed expectations."""

from __future__ import annotations

import pytest

from answering.calibration import (
    SIGNALS,
    Calibration,
    coverage_precision,
    fit_calibration,
    signals,
    threshold_for_precision,
)
from answering.decision import best_extract, decide
from core.errors import BadInput
from core.models import SearchHit
from ingest.sentences import split_sentences
from retrieval.tokenize import Tokenizer, TokenizerConfig


def faq_hit(entry: str, score: float, **features: float) -> SearchHit:
    return SearchHit(entry_id=entry, chunk_id=f"{entry}:q", kind="question", text=f"answer {entry}", score=score,
                     question=f"question {entry}", answer=f"answer {entry}", features={"is_faq": 1.0, **features})


def test_threshold_for_precision() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, False, True, False]
    # cumulative precision: 1/1, 2/2, 2/3, 3/4, 3/5
    assert threshold_for_precision(scores, correct, 0.75) == 0.6
    assert threshold_for_precision(scores, correct, 0.9) == 0.8
    assert threshold_for_precision(scores, correct, 0.5) == 0.5
    # unreachable -> above every score: nothing is answered
    assert threshold_for_precision([0.4, 0.3], [False, False], 0.9) > 0.4


def test_threshold_does_not_cut_between_equal_scores() -> None:
    assert threshold_for_precision([0.9, 0.5, 0.5], [True, True, False], 0.9) == 0.9


def test_coverage_precision() -> None:
    assert coverage_precision([0.9, 0.8, 0.2], [True, False, True], 0.5) == (2 / 3, 0.5)


def test_signals_of_a_ranked_list() -> None:
    hits = [faq_hit("a", 0.8, dense=0.95, dense_q=0.95, in_dense=1, in_bm25=1, bm25_norm=1.0),
            faq_hit("a", 0.7), faq_hit("b", 0.5, dense=0.9)]
    s = signals(hits)
    assert s["top"] == 0.8 and s["second"] == 0.5 and s["margin"] == pytest.approx(0.3)
    assert s["dense_gap2"] == pytest.approx(0.05) and s["in_both"] == 1.0 and s["is_faq"] == 1.0
    assert signals([]) == {**dict.fromkeys(SIGNALS, 0.0), "seeking": 1.0}


def test_fit_calibration_separates_and_derives_threshold() -> None:
    rows, correct = [], []
    for i in range(40):
        good = i % 2 == 0
        rows.append({**dict.fromkeys(SIGNALS, 0.0), "top": 0.9 if good else 0.3, "margin": 0.1 * (i % 5)})
        correct.append(good)
    cal = fit_calibration(rows, correct, target_precision=0.9)
    assert cal.confidence(rows[0]) > 0.9 > 0.1 > cal.confidence(rows[1])
    # the lowest threshold that keeps out-of-fold precision >= 0.9: all 20 right ones plus at most 2 wrong
    assert cal.dev_precision is not None and cal.dev_precision >= 0.9
    assert cal.dev_coverage is not None and 0.5 <= cal.dev_coverage <= 0.55
    with pytest.raises(BadInput):
        fit_calibration(rows[:5], correct[:5])


def test_decisions() -> None:
    tok = Tokenizer(TokenizerConfig())
    cal = Calibration(coef=tuple(1.0 if s == "top" else 0.0 for s in SIGNALS), intercept=0.0, answer_threshold=0.7)
    # confident -> answer with the stored answer and a citation
    answer, decision, _, cites, related = decide("q", [faq_hit("a", 2.0), faq_hit("b", 0.1)], cal, 0.5, tok)
    assert (answer, decision) == ("answer a", "answer") and cites[0].entry_id == "a"
    assert [r.entry_id for r in related] == ["b"]
    # two close, different entries, not confident -> clarify with both as choices
    _, decision, _, _, related = decide("q", [faq_hit("a", 0.6), faq_hit("b", 0.58)], cal, 0.5, tok)
    assert decision == "clarify" and [r.entry_id for r in related] == ["a", "b"]
    # nothing good -> handoff
    answer, decision, _, _, _ = decide("q", [faq_hit("a", -3.0)], cal, 0.5, tok)
    assert (answer, decision) == (None, "handoff")
    assert decide("q", [], cal, 0.5, tok)[1] == "handoff"


def test_document_extract_is_span_exact() -> None:
    tok = Tokenizer(TokenizerConfig())
    text = "Guide > Batteries\nThe lock uses four AA batteries. Replace them when the LED blinks red. Enjoy."
    start, end, extract = best_extract("when should I replace the batteries", text, tok, max_sentences=1)
    assert extract == "Replace them when the LED blinks red." and text[start:end].strip() == extract
    assert split_sentences("退货。好的！Then go. Done") == ["退货。", "好的！", "Then go.", "Done"]


def test_mix_weights_give_unanswerable_questions_their_share() -> None:
    from answering.calibration import mix_weights

    answerable = [True, True, True, False]
    w = mix_weights(answerable, 0.5)
    assert w is not None and w == [0.5 / 0.75] * 3 + [0.5 / 0.25]
    assert sum(x for x, a in zip(w, answerable, strict=True) if not a) / sum(w) == 0.5
    assert mix_weights(answerable, None) is None
    with pytest.raises(BadInput):
        mix_weights([True, True], 0.2)


def test_weighted_threshold_answers_less_when_unanswerable_questions_weigh_more() -> None:
    scores = [0.9, 0.8, 0.7, 0.6]
    correct = [True, True, False, True]  # the 0.7 one is an unanswerable question that got answered
    assert threshold_for_precision(scores, correct, 0.75) == 0.6  # 3/4 right
    weights = [1.0, 1.0, 3.0, 1.0]  # unanswerable questions are 3x as common in real traffic
    assert threshold_for_precision(scores, correct, 0.75, weights) == 0.8
    assert coverage_precision(scores, correct, 0.6, weights) == (1.0, 0.5)


def test_clarify_budget_keeps_the_out_of_scope_clarifications_within_the_hand_off_target() -> None:
    from answering.calibration import clarify_budget

    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]  # ten out-of-scope questions, weight 1
    ones = [1.0] * 10
    # 90% must be handed off: one may be clarified (the 0.9), the next one may not
    t = clarify_budget(scores, 0.0, 10.0, 0.9, ones)
    assert 0.8 < t <= 0.9 and sum(s >= t for s in scores) == 1
    # one is already answered: the budget is spent, none may be clarified
    t = clarify_budget(scores, 1.0, 10.0, 0.9, ones)
    assert t > 0.9
    # 70%: three may be clarified
    t = clarify_budget(scores, 0.0, 10.0, 0.7, ones)
    assert sum(s >= t for s in scores) == 3
    # weights count: the same questions at weight 2 against a mass of 40 allow two
    assert sum(s >= clarify_budget(scores, 0.0, 40.0, 0.9, [2.0] * 10) for s in scores) == 2
    # none out of scope among the candidates for clarification: no bound
    assert clarify_budget([], 0.0, 10.0, 0.9, []) == float("-inf")


def test_the_hand_off_target_raises_the_clarify_threshold_only() -> None:
    """Answerable questions whose right entry is often among the choices, and out-of-scope questions that
    look like them: bounded by precision alone, many out-of-scope questions are clarified; with a hand-off
    target of 90%, at most 10% are answered or clarified, and the answer threshold does not move."""
    import numpy as np

    from answering.calibration import SIGNALS, fit_calibration

    rng = np.random.default_rng(3)
    rows, correct, in_set, unanswerable = [], [], [], []
    for n in range(1200):
        oos = n % 5 == 0
        top = float(rng.uniform(0, 0.6) if oos else rng.uniform())
        set_sum = float(rng.uniform(0.5, 1.5) if oos else rng.uniform(0, 2))
        rows.append({**dict.fromkeys(SIGNALS, 0.0), "top": top, "set_sum": set_sum, "second": 0.5, "seeking": 1.0})
        u = rng.uniform()
        correct.append(not oos and u < top)
        in_set.append(not oos and u < min(1.0, top + set_sum / 2))
        unanswerable.append(oos)
    loose = fit_calibration(rows, correct, 0.9, in_set=in_set, allow_boosted=False, clarify_precision=0.6)
    bound = fit_calibration(rows, correct, 0.9, in_set=in_set, allow_boosted=False, clarify_precision=0.6,
                            unanswerable=unanswerable, handoff_recall=0.9)
    assert bound.answer_threshold == loose.answer_threshold
    assert loose.clarify_threshold is not None and bound.clarify_threshold is not None

    def leaked(cal: object) -> float:
        out = [r for r, u in zip(rows, unanswerable, strict=True) if u]
        reached = [cal.confidence(r) >= cal.answer_threshold  # type: ignore[attr-defined]
                   or cal.set_confidence(r) >= cal.clarify_threshold for r in out]  # type: ignore[attr-defined]
        return sum(reached) / len(out)

    assert leaked(loose) > 0.2  # the bound is not idle in this set
    assert bound.clarify_threshold > loose.clarify_threshold and leaked(bound) <= 0.1 + 0.03


def _wilson_lower_by_root(right: float, n: float, z: float) -> float:
    """The Wilson lower bound found as the root of its defining equation (not the closed form the code uses):
    the p0 below p-hat at which p-hat lies z standard errors (under p0) above it."""
    from scipy.optimize import brentq

    p_hat = right / n
    if p_hat == 0:
        return 0.0
    return float(brentq(lambda p0: (p_hat - p0) / (p0 * (1 - p0) / n) ** 0.5 - z, 1e-12, p_hat))


@pytest.mark.parametrize(("right", "n", "z"), [(9, 10, 1.0), (90, 100, 0.8416), (450, 500, 1.6449), (3, 4, 2.0)])
def test_precision_lower_bound_is_wilson(right: int, n: int, z: float) -> None:
    from answering.calibration import precision_lower_bound

    assert precision_lower_bound(right, n, n, z) == pytest.approx(_wilson_lower_by_root(right, n, z), abs=1e-9)
    assert precision_lower_bound(right, n, n, 0.0) == right / n


def test_precision_lower_bound_uses_the_effective_sample_size() -> None:
    from answering.calibration import precision_lower_bound

    # 10 questions of weight 1 and 10 of weight 9 (Kish: n_eff = 100**2 / (10 + 810) = 12.2): the bound is that of
    # 12.2 questions, not 20 or 100
    right, total, total_sq = 90.0, 100.0, 10 * 1.0 + 10 * 81.0
    n_eff = total * total / total_sq
    assert precision_lower_bound(right, total, total_sq, 1.0) == pytest.approx(
        _wilson_lower_by_root(0.9 * n_eff, n_eff, 1.0), abs=1e-9)


def test_threshold_with_a_margin_needs_more_questions_behind_it() -> None:
    from answering.calibration import precision_lower_bound

    # 40 right then 1 wrong, repeating: the sample precision is >= 0.95 at every cut, but only deep cuts have
    # enough questions behind them for the lower bound to reach 0.9
    scores = [1.0 - i / 1000 for i in range(400)]
    correct = [i % 41 != 40 for i in range(400)]
    assert threshold_for_precision(scores, correct, 0.9) == scores[-1]
    z = 1.6449
    expected = next(scores[k] for k in range(len(scores) - 1, -1, -1)
                    if _wilson_lower_by_root(sum(correct[: k + 1]), k + 1, z) >= 0.9)
    assert threshold_for_precision(scores, correct, 0.9, z=z) == pytest.approx(expected)
    # and the first cuts (few questions) never qualify: 10 of 10 right is not enough evidence for 0.9 at z=1.64
    assert precision_lower_bound(10, 10, 10, z) < 0.9
    assert threshold_for_precision(scores[:10], correct[:10], 0.9, z=z) > scores[0]
