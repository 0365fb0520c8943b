"""The package default's pooled fit and its leave-one-set-out check (``eval.package_default``)."""

from __future__ import annotations

import random

from answering.calibration import Calibration
from answering.confidence import ProbabilityModel
from answering.signals import PORTABLE_SIGNALS, SIGNALS
from eval.package_default import PooledSet, Scored, figures, fit_default, leave_one_set_out


def _scored(seed: int, n: int = 200, level: float = 0.0) -> Scored:
    """Questions whose ``margin`` tells right from wrong, and whose ``top`` (a level) sits at ``level``: the
    right ones higher within a set, every one of them higher in a set with a higher level."""
    rng = random.Random(seed)
    rows, correct, in_set, answerable = [], [], [], []
    for i in range(n):
        oos = i % 10 == 0
        right = not oos and rng.random() < 0.7
        margin = (0.6 if right else 0.1) + rng.gauss(0, 0.08)
        row = dict.fromkeys(SIGNALS, 0.0) | {"margin": margin, "set_drop": margin / 2, "second": 0.3,
                                             "top": level + (0.2 if right else 0.0) + rng.gauss(0, 0.05)}
        rows.append(row)
        correct.append(right)
        in_set.append(right or (not oos and rng.random() < 0.5))
        answerable.append(not oos)
    return Scored(rows, correct, in_set, [()] * n, answerable)


def test_figures_count_each_outcome() -> None:
    cal = Calibration(answer_model=ProbabilityModel(features=("margin",), coef=(20.0,), intercept=-10.0),
                      set_model=ProbabilityModel(features=("set_drop",), coef=(20.0,), intercept=-4.0),
                      answer_threshold=0.9, clarify_threshold=0.6)
    base = dict.fromkeys(SIGNALS, 0.0) | {"second": 0.3}
    rows = [base | {"margin": 0.8},                     # answered, right
            base | {"margin": 0.8},                     # answered, wrong
            base | {"margin": 0.2, "set_drop": 0.4},    # clarified, the gold among the choices
            base | {"margin": 0.2, "set_drop": 0.4},    # clarified, out of scope
            base | {"margin": 0.2, "set_drop": 0.0},    # handed off, out of scope
            base | {"margin": 0.2, "set_drop": 0.4, "second": 0.0}]  # one choice: handed off
    scored = Scored(rows, [True, False, False, False, False, False], [True, True, True, False, False, True],
                    [()] * 6, [True, True, True, False, False, True])
    f = figures(cal, scored)
    assert (f["n_test"], f["n_test_answerable"]) == (6, 4)
    assert f["answered_correct"] == 0.25 and f["clarified_gold"] == 0.25 and f["self_served"] == 0.5
    assert f["precision"] == 0.5 and f["clarify_rate"] == round(2 / 6, 4)
    assert f["oos_handoff_recall"] == 0.5


def test_leave_one_set_out_fits_without_the_set_it_reports() -> None:
    pool = [PooledSet(name, _scored(i), _scored(100 + i)) for i, name in enumerate(("a", "b", "c"))]
    default = fit_default(pool, z=0.0)
    assert set(default.answer_model.features) <= set(PORTABLE_SIGNALS)
    assert "a, b, c" in default.fitted_on
    out = leave_one_set_out(pool, z=0.0)
    assert sorted(out) == ["a", "b", "c"]
    assert out["a"]["fitted_on"] == ["b", "c"] and out["c"]["fitted_on"] == ["a", "b"]
    for figs in out.values():
        assert figs["n_test"] == 200 and figs["precision"] is not None and figs["precision"] >= 0.9


def test_a_set_at_another_level_is_decided_as_the_others() -> None:
    """The level (``top``) differs between sets; the default does not read it, so a set fitted on nowhere
    else, with every level higher, keeps the precision of the others instead of being answered wholesale."""
    pool = [PooledSet(n, _scored(i), _scored(100 + i)) for i, n in enumerate(("a", "b"))]
    shifted = _scored(7, level=0.8)
    default = fit_default(pool, z=0.0)
    f = figures(default, shifted)
    assert f["precision"] is not None and f["precision"] >= 0.9
    assert f["oos_handoff_recall"] is not None and f["oos_handoff_recall"] >= 0.9
