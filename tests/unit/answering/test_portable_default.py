"""The package default's signals, and ``Calibration.outcome`` (the decision on signals alone)."""

from __future__ import annotations

import math

import pytest

from answering.calibration import Calibration, default_calibration
from answering.confidence import ProbabilityModel
from answering.records import Decision
from answering.signals import LEVEL_SIGNALS, PORTABLE_SIGNALS, SIGNALS


def test_portable_signals_are_every_signal_but_the_levels() -> None:
    assert set(PORTABLE_SIGNALS) | set(LEVEL_SIGNALS) == set(SIGNALS)
    assert not set(PORTABLE_SIGNALS) & set(LEVEL_SIGNALS)
    assert {"margin", "dense_lead", "bm25_lead", "agree", "en_lead", "dq_rel", "share5"} <= set(PORTABLE_SIGNALS)
    assert {"top", "dense_q", "dense_p", "dense_en", "cohesion"} <= set(LEVEL_SIGNALS)


def test_the_shipped_default_reads_portable_signals_only() -> None:
    cal = default_calibration()
    assert cal is not None and cal.set_model is not None
    assert set(cal.answer_model.features) <= set(PORTABLE_SIGNALS)
    assert set(cal.set_model.features) <= set(PORTABLE_SIGNALS)
    # a level signal changes nothing: the same question with every similarity raised gets the same confidence
    row = dict.fromkeys(SIGNALS, 0.0) | {"margin": 0.2, "dense_lead": 0.05, "agree": 1.0, "top": 0.5}
    higher = row | dict.fromkeys(LEVEL_SIGNALS, 0.99)
    assert cal.confidence(higher) == cal.confidence(row)


def _cal() -> Calibration:
    return Calibration(answer_model=ProbabilityModel(features=("margin",), coef=(10.0,), intercept=-5.0),
                       set_model=ProbabilityModel(features=("set_drop",), coef=(10.0,), intercept=-2.0),
                       answer_threshold=0.9, clarify_threshold=0.7, segment_thresholds={"source:easy": 0.5})


def _p(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_outcome_answers_clarifies_and_hands_off() -> None:
    cal = _cal()
    sure = {"margin": 0.8, "set_drop": 0.0}  # p_top = sigmoid(3) = 0.953
    decision, confidence, p_set = cal.outcome(sure, (), offered=3)
    assert (decision, p_set) == (Decision.answer, None) and confidence == pytest.approx(_p(3.0))
    unsure = {"margin": 0.3, "set_drop": 0.4}  # p_top = sigmoid(-2) = 0.119, p_set = sigmoid(2) = 0.881
    decision, confidence, p_set = cal.outcome(unsure, (), offered=3)
    assert decision == Decision.clarify and p_set == pytest.approx(_p(2.0))
    # one choice only: nothing to clarify among
    assert cal.outcome(unsure, (), offered=1)[0] == Decision.handoff
    # the gate scales both probabilities: 0.881 * 0.5 < 0.7
    assert cal.outcome(unsure, (), offered=3, gate=0.5)[0] == Decision.handoff
    # a segment's own threshold: p_top = sigmoid(0.5) = 0.62 answers in ``source:easy`` only
    middle = {"margin": 0.55, "set_drop": 0.0}
    assert cal.outcome(middle, ("source:easy",), offered=3)[0] == Decision.answer
    assert cal.outcome(middle, ("source:other",), offered=3)[0] == Decision.handoff


def test_outcome_without_a_set_model_hands_off_what_it_does_not_answer() -> None:
    cal = _cal().model_copy(update={"set_model": None, "clarify_threshold": None})
    assert cal.outcome({"margin": 0.3, "set_drop": 0.4}, (), offered=3) == (Decision.handoff, pytest.approx(_p(-2.0)),
                                                                             None)
