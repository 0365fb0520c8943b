"""Calibrated answer confidence and the thresholds that turn it into decisions.

The top candidate's fused score alone is a poor confidence (on real user questions against a small
FAQ, even its 10% most confident answers were only 65% right). The confidence is therefore a small
logistic model over several signals of the ranked list (top score, the margin to the runner-up,
question-match and answer-match similarity, BM25 agreement), fitted on labelled questions where the
label is "the top candidate is a correct answer" (unanswerable questions count as wrong answers).
The answer threshold is the lowest confidence at which the answered questions of the calibration set
reach the target precision, not a hand-picked number."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from core.errors import BadInput
from core.models import SearchHit

SIGNALS: tuple[str, ...] = (
    "top", "second", "margin", "dense_q", "dense_p", "dense_gap2", "bm25_norm", "in_both", "is_faq",
)


def signals(hits: Sequence[SearchHit]) -> dict[str, float]:
    """Features of a ranked hit list that predict whether its top hit answers the question."""
    if not hits:
        return dict.fromkeys(SIGNALS, 0.0)
    top = hits[0]
    second = next((h for h in hits[1:] if h.target_id != top.target_id), None)
    f = top.features
    f2 = second.features if second else {}
    return {
        "top": float(top.score),
        "second": float(second.score) if second else 0.0,
        "margin": float(top.score - (second.score if second else 0.0)),
        "dense_q": float(f.get("dense_q", 0.0)),
        "dense_p": float(f.get("dense_p", 0.0)),
        "dense_gap2": float(f.get("dense", 0.0) - f2.get("dense", 0.0)) if f2 else 0.1,
        "bm25_norm": float(f.get("bm25_norm", 0.0)),
        "in_both": float(f.get("in_dense", 0.0) * f.get("in_bm25", 0.0)),
        "is_faq": float(f.get("is_faq", 0.0)),
    }


class Calibration(BaseModel):
    """A logistic model over ``SIGNALS`` plus the thresholds derived from the target precision."""

    coef: tuple[float, ...]
    intercept: float
    answer_threshold: float
    clarify_margin: float = 0.05
    target_precision: float = 0.9
    fitted_on: str = ""
    n: int = 0
    dev_precision: float | None = None
    dev_coverage: float | None = None

    def confidence(self, sig: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * sig[name] for name, c in zip(SIGNALS, self.coef, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def default_calibration() -> Calibration | None:
    """The calibration shipped with the package (fitted on the sample corpus's dev split), if any."""
    from importlib import resources

    path = resources.files("api").joinpath("default_calibration.json")
    if not path.is_file():
        return None
    return Calibration.model_validate_json(path.read_text(encoding="utf-8"))


def threshold_for_precision(scores: Sequence[float], correct: Sequence[bool], target: float,
                            weights: Sequence[float] | None = None) -> float:
    """The lowest threshold t such that the items with score >= t have precision >= target.

    Scans thresholds from the highest score down, keeping the last one whose cumulative precision
    still meets the target. If no threshold reaches it, returns a threshold above every score (so
    nothing is answered automatically), which is the safe choice when a wrong answer costs more than
    a hand-off. ``weights`` make some items count more (e.g. unanswerable questions up to their share
    of real traffic)."""
    if len(scores) != len(correct) or (weights is not None and len(weights) != len(scores)):
        raise BadInput("scores, labels and weights differ in length")
    w = list(weights) if weights is not None else [1.0] * len(scores)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = math.inf
    right = total = 0.0
    for n, i in enumerate(order, start=1):
        right += w[i] * bool(correct[i])
        total += w[i]
        # only cut between distinct scores
        if n < len(order) and scores[order[n]] == scores[i]:
            continue
        if total > 0 and right / total >= target:
            best = scores[i]
    return float(best if best != math.inf else (max(scores, default=1.0) + 1e-6))


def coverage_precision(scores: Sequence[float], correct: Sequence[bool], threshold: float,
                       weights: Sequence[float] | None = None) -> tuple[float, float]:
    """(share of items answered, precision of the answered ones) at a threshold, optionally weighted."""
    if not scores:
        return 0.0, 0.0
    w = list(weights) if weights is not None else [1.0] * len(scores)
    answered = [(c, wi) for s, c, wi in zip(scores, correct, w, strict=True) if s >= threshold]
    mass = sum(wi for _, wi in answered)
    return mass / sum(w), (sum(wi for c, wi in answered if c) / mass if answered else 1.0)


def mix_weights(answerable: Sequence[bool], unanswerable_share: float | None) -> list[float] | None:
    """Weights that make the unanswerable questions count as ``unanswerable_share`` of all: precision
    depends on the mix, and a calibration set rarely has the mix of real traffic (clinc150's validation
    split has 3% out-of-scope questions, its test split 18%). None: take the set as it is."""
    if unanswerable_share is None:
        return None
    n_unans = sum(not a for a in answerable)
    if n_unans == 0 or n_unans == len(answerable):
        raise BadInput("an unanswerable share needs both answerable and unanswerable calibration questions")
    share = n_unans / len(answerable)
    return [(1 - unanswerable_share) / (1 - share) if a else unanswerable_share / share for a in answerable]


def fit_calibration(
    rows: Sequence[Mapping[str, float]], correct: Sequence[bool], target_precision: float = 0.9, c_value: float = 1.0,
    fitted_on: str = "", weights: Sequence[float] | None = None,
) -> Calibration:
    """Fit the confidence model and derive the answer threshold (on the same labelled rows; ``weights``
    reweight them for the threshold, see ``mix_weights``)."""
    from sklearn.linear_model import LogisticRegression

    if len(rows) < 10 or len(set(correct)) < 2:
        raise BadInput(f"calibration needs at least 10 labelled questions with both right and wrong answers "
                       f"(got {len(rows)}, {sum(correct)} right)")
    x = np.asarray([[r[s] for s in SIGNALS] for r in rows], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c_value, max_iter=2000)
    lr.fit((x - mean) / scale, np.asarray(correct, dtype=int))
    coef = lr.coef_[0] / scale
    intercept = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / scale))
    cal = Calibration(coef=tuple(float(c) for c in coef), intercept=intercept, answer_threshold=1.0,
                      target_precision=target_precision, fitted_on=fitted_on, n=len(rows))
    # The threshold is chosen on out-of-fold confidences: in-sample ones would be optimistic.
    scores = _out_of_fold(x, np.asarray(correct, dtype=int), c_value)
    threshold = threshold_for_precision(scores, correct, target_precision, weights)
    coverage, precision = coverage_precision(scores, correct, threshold, weights)
    return cal.model_copy(update={"answer_threshold": threshold, "dev_precision": round(precision, 4),
                                  "dev_coverage": round(coverage, 4)})


def _out_of_fold(x: np.ndarray, y: np.ndarray, c_value: float, folds: int = 5) -> list[float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    n_splits = int(min(folds, np.bincount(y).min()))
    if n_splits < 2:
        raise BadInput("calibration needs at least 2 right and 2 wrong answers")
    out = np.zeros(len(y))
    for train, test in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0).split(x, y):
        mean, scale = x[train].mean(axis=0), x[train].std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=c_value, max_iter=2000).fit((x[train] - mean) / scale, y[train])
        out[test] = lr.predict_proba((x[test] - mean) / scale)[:, 1]
    return [float(v) for v in out]
