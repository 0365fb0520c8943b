"""The package default calibration: fitted on the pooled dev splits of several sets, and checked on sets it was
not fitted on.

A knowledge base with no labelled questions of its own, where ``kb calibrate --auto`` cannot run (a knowledge
base holding documents, or entries with one phrasing each), is decided by the package default
(``answering/default_calibration.json``). Its figures on the sets it was fitted on say little of such a
knowledge base; ``leave_one_set_out`` fits it again without each set and reports that set's test questions under
it, the figure a knowledge base it has never seen can expect.

Used by ``python -m eval.bench_answering --write-default`` (``package_default_loso`` per set in answering.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from answering.calibration import Calibration, fit_calibration, mix_weights
from answering.records import Decision
from answering.signals import PORTABLE_SIGNALS, without_english

POOL_SHARE = 0.2
"""The share of out-of-scope questions each set's dev split is weighted to in the pooled fit."""


@dataclass
class Scored:
    """Questions as the fitter scores them (``KnowledgeBase.fitter.score_rows``), with which are answerable."""

    rows: list[dict[str, float]]
    correct: list[bool]
    in_set: list[bool]
    segments: list[tuple[str, ...]]
    answerable: list[bool]


@dataclass
class PooledSet:
    """One set's dev and test questions, scored under the package fusion."""

    name: str
    dev: Scored
    test: Scored


def fit_default(pool: Sequence[PooledSet], z: float, features: Sequence[str] = PORTABLE_SIGNALS) -> Calibration:
    """One logistic answer and set model on the pooled dev splits (each set's questions weighted to the same
    total, out-of-scope questions to ``POOL_SHARE`` of each), reading ``features`` (by default the portable
    ones). Every English question is also given as a knowledge base without the English embedder sees it (its
    signals 0): the default serves both, and fitted only on questions that had them, an English question without
    them would lie outside everything it was fitted on."""
    rows: list[dict[str, float]] = []
    correct: list[bool] = []
    in_set: list[bool] = []
    weights: list[float] = []
    for part in pool:
        d = part.dev
        mixed = 0 < sum(d.answerable) < len(d.answerable)
        w = mix_weights(d.answerable, POOL_SHARE) if mixed else None
        scale = 1000.0 / len(d.rows)
        row_w = [x * scale for x in (w or [1.0] * len(d.rows))]
        english = [i for i, row in enumerate(d.rows) if row.get("has_en")]
        rows += d.rows + [without_english(d.rows[i]) for i in english]
        correct += d.correct + [d.correct[i] for i in english]
        in_set += d.in_set + [d.in_set[i] for i in english]
        weights += row_w + [row_w[i] for i in english]
    names = ", ".join(p.name for p in pool)
    return fit_calibration(rows, correct, 0.9, fitted_on=f"package default: dev splits of {names} (package fusion)",
                           weights=weights, in_set=in_set, allow_boosted=False, z=z, features=features)


def figures(cal: Calibration, scored: Scored) -> dict[str, Any]:
    """The answering benchmark's figures (``eval.bench_answering.outcomes``) from scored questions: each decided
    by ``Calibration.outcome``, a clarification possible where the ranking has a second entry (as
    ``fit_calibration`` counts it), the gold among the choices as ``in_set`` says."""
    n_pos = sum(scored.answerable)
    n_neg = len(scored.answerable) - n_pos
    answered = right = clarified = clarified_gold = handed_off_neg = 0
    for row, is_right, gold_in, segments, answerable in zip(
            scored.rows, scored.correct, scored.in_set, scored.segments, scored.answerable, strict=True):
        decision, _, _ = cal.outcome(row, segments, 2 if row.get("second", 0.0) > 0 else 1)
        if decision == Decision.answer:
            answered += 1
            right += is_right
        elif decision == Decision.clarify:
            clarified += 1
            clarified_gold += gold_in
        elif not answerable:
            handed_off_neg += 1
    return {
        "self_served": round((right + clarified_gold) / max(n_pos, 1), 4),
        "answered_correct": round(right / max(n_pos, 1), 4),
        "clarified_gold": round(clarified_gold / max(n_pos, 1), 4),
        "clarify_rate": round(clarified / max(len(scored.rows), 1), 4),
        "precision": round(right / answered, 4) if answered else None,
        "answered_share": round(answered / max(len(scored.rows), 1), 4),
        "oos_handoff_recall": round(handed_off_neg / n_neg, 4) if n_neg else None,
        "n_test": len(scored.rows), "n_test_answerable": n_pos,
    }


def leave_one_set_out(pool: Sequence[PooledSet], z: float, features: Sequence[str] = PORTABLE_SIGNALS,
                      ) -> dict[str, dict[str, Any]]:
    """Per set: its test questions under the package default fitted on the other sets' dev splits."""
    out: dict[str, dict[str, Any]] = {}
    for held in pool:
        others = [p for p in pool if p.name != held.name]
        if not others:
            continue
        cal = fit_default(others, z, features)
        out[held.name] = {**figures(cal, held.test), "fitted_on": [p.name for p in others],
                          "answer_threshold": round(cal.answer_threshold, 4),
                          "clarify_threshold": None if cal.clarify_threshold is None
                          else round(cal.clarify_threshold, 4)}
    return out
