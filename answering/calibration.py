"""Calibrated answer confidence and the thresholds that turn it into answer / clarify / hand-off.

Two probability models over the signals of the ranked list (``answering.signals``):

* the answer model: P(the top entry is right);
* the set model: P(the right entry is among the first ``CHOICES`` entries), for clarifications.

Both are fitted on labelled questions (unanswerable ones count as wrong for both), as a logistic model or
calibrated gradient boosting, whichever predicts better out of fold (``answering.confidence``). The
thresholds come from the target precision on out-of-fold probabilities, never hand-picked:

* answer when P(top right) reaches the answer threshold of the question's segment (Mondrian-style: a
  segment -- category, source or language -- with enough labelled questions gets its own threshold, so an
  unreliable segment does not cut the others; see ``answering.segments``), else the global one;
* else clarify when P(right one among the choices) reaches the clarify threshold (chosen so that the
  clarifications, too, reach the target precision);
* else hand off."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, model_validator

from core.errors import BadInput

from .confidence import ProbabilityModel, fit_probability
from .records import Decision
from .segments import residual, segment_thresholds, threshold_for
from .signals import CHOICES, LEGACY_SIGNALS, SIGNALS, signals

__all__ = ["CHOICES", "SIGNALS", "Calibration", "coverage_precision", "default_calibration", "fit_calibration",
           "mix_weights", "precision_lower_bound", "signals", "threshold_for_precision"]


class Calibration(BaseModel):
    """The answer and set models plus the thresholds derived from the target precision."""

    answer_model: ProbabilityModel
    set_model: ProbabilityModel | None = None
    answer_threshold: float
    clarify_threshold: float | None = None
    segment_thresholds: dict[str, float] = {}
    uses_seeking: bool = False
    clarify_margin: float = 0.05
    target_precision: float = 0.9
    fitted_on: str = ""
    n: int = 0
    dev_precision: float | None = None
    dev_coverage: float | None = None
    dev_clarify_rate: float | None = None
    dev_self_served: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        """A first-generation calibration (``coef`` and ``intercept`` over the signals) still loads."""
        if isinstance(data, dict) and "coef" in data and "answer_model" not in data:
            data = dict(data)
            coef = tuple(data.pop("coef"))
            names = LEGACY_SIGNALS if len(coef) == len(LEGACY_SIGNALS) else SIGNALS[: len(coef)]
            data["answer_model"] = ProbabilityModel(features=names, coef=coef, intercept=data.pop("intercept", 0.0))
        return data

    def confidence(self, sig: Mapping[str, float]) -> float:
        """P(the top entry is right)."""
        return self.answer_model.probability(sig)

    def set_confidence(self, sig: Mapping[str, float], confidence: float | None = None) -> float | None:
        """P(the right entry is among the first ``CHOICES``), or None without a set model (``confidence``: this
        question's ``confidence``, when the caller has it: a boosted model's prediction is not free)."""
        if self.set_model is None:
            return None
        return max(self.set_model.probability(sig), self.confidence(sig) if confidence is None else confidence)

    def threshold(self, segments: Sequence[str] = ()) -> float:
        """The answer threshold for a question in these segments (most specific first)."""
        return threshold_for(self.segment_thresholds, segments, self.answer_threshold)

    def outcome(self, sig: Mapping[str, float], segments: Sequence[str], offered: int, gate: float = 1.0,
                ) -> tuple[Decision, float, float | None]:
        """(decision, confidence, P(right one among the choices) or None when not computed) for one question's
        signals, its segments and how many choices a clarification could offer. ``gate`` scales both
        probabilities (a dialogue turn that may not ask for knowledge at all). Without a set model or clarify
        threshold nothing is clarified here (``answering.decision`` then falls back on the score margins)."""
        p_top = self.confidence(sig)
        confidence = p_top * gate
        if confidence >= self.threshold(segments):
            return Decision.answer, confidence, None
        p_set = self.set_confidence(sig, p_top)
        if p_set is None or self.clarify_threshold is None:
            return Decision.handoff, confidence, None
        p_set *= gate
        clarify = offered >= 2 and p_set >= self.clarify_threshold
        return (Decision.clarify if clarify else Decision.handoff), confidence, p_set


def default_calibration() -> Calibration | None:
    """The calibration shipped with the package (fitted on the dev splits of several public sets), if any."""
    from importlib import resources

    path = resources.files("answering").joinpath("default_calibration.json")
    if not path.is_file():
        return None
    return Calibration.model_validate_json(path.read_text(encoding="utf-8"))


def precision_lower_bound(right: float, total: float, total_sq: float, z: float) -> float:
    """Wilson lower bound of a (weighted) precision ``right / total``, on the effective sample size
    ``total**2 / total_sq`` (Kish): what the precision of new questions answered at this threshold is, at
    worst, with one-sided confidence ``Phi(z)``. ``z = 0``: the point estimate."""
    if total <= 0:
        return 0.0
    p = right / total
    if z <= 0:
        return p
    n = total * total / total_sq
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return (centre - spread) / (1 + z2 / n)


def threshold_for_precision(scores: Sequence[float], correct: Sequence[bool], target: float,
                            weights: Sequence[float] | None = None, z: float = 0.0) -> float:
    """The lowest threshold t such that the items with score >= t have precision >= target.

    Scans thresholds from the highest score down, keeping the last one whose cumulative precision
    still meets the target. If no threshold reaches it, returns a threshold above every score (so
    nothing is answered automatically), which is the safe choice when a wrong answer costs more than
    a hand-off. ``weights`` make some items count more (e.g. unanswerable questions up to their share
    of real traffic).

    ``z`` > 0 asks the Wilson lower bound of that precision (``precision_lower_bound``) to reach the
    target instead of the point estimate. The lowest threshold whose sample precision just touches the
    target is, on new questions, below it about half of the time (the threshold is chosen where the sample
    happened to be lucky, and the fewer the questions above it, the luckier); the bound asks for more margin
    where fewer questions back it (a small segment, a short dev split)."""
    if len(scores) != len(correct) or (weights is not None and len(weights) != len(scores)):
        raise BadInput("scores, labels and weights differ in length")
    w = list(weights) if weights is not None else [1.0] * len(scores)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best = math.inf
    right = total = total_sq = 0.0
    for n, i in enumerate(order, start=1):
        right += w[i] * bool(correct[i])
        total += w[i]
        total_sq += w[i] * w[i]
        # only cut between distinct scores
        if n < len(order) and scores[order[n]] == scores[i]:
            continue
        if total > 0 and precision_lower_bound(right, total, total_sq, z) >= target:
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


def clarify_budget(unanswerable_scores: Sequence[float], answered_mass: float, unanswerable_mass: float,
                   handoff_recall: float, weights: Sequence[float]) -> float:
    """The lowest clarify threshold at which the unanswerable questions answered (``answered_mass``, by the
    answer threshold) plus those clarified stay within ``1 - handoff_recall`` of ``unanswerable_mass``.

    A clarification of an out-of-scope question is not a wrong answer, but it is not the hand-off the customer
    needs either; calibration sets hold few such questions (clinc150's validation split: 3%), so the precision
    of clarifications, weighted to the traffic mix, says little about them. This bounds them directly. When
    the answers alone exceed the budget, nothing is clarified that an out-of-scope question would reach."""
    if unanswerable_mass <= 0 or not unanswerable_scores:
        return -math.inf
    allowed = (1.0 - handoff_recall) * unanswerable_mass - answered_mass
    spent = 0.0
    threshold = -math.inf
    for score, weight in sorted(zip(unanswerable_scores, weights, strict=True), key=lambda x: -x[0]):
        spent += weight
        if spent > allowed + 1e-12:
            # this one must not be clarified: the threshold goes just above it
            threshold = math.nextafter(score, math.inf)
            break
    return threshold


MIN_RESIDUAL = 10
"""Fewer questions left to the global threshold than this say nothing of their own (see ``global_threshold``)."""


def global_threshold(p: Sequence[float], correct: Sequence[bool], w: Sequence[float], rest: Sequence[int],
                     target: float, min_rows: int, z: float) -> float:
    """The threshold of the questions no segment threshold decides (``rest``; see ``answering.segments``):
    fitted on them when there are ``min_rows`` of them and some threshold reaches the target among them; from
    ``MIN_RESIDUAL`` on, otherwise, the higher of theirs and the one of every question (too few to stand
    alone, or all too unsure to be answered, but enough to say that the others carried the precision); below
    that, or when no segment has a threshold, the one of every question."""
    everyone = threshold_for_precision(p, correct, target, w, z)
    if len(rest) < MIN_RESIDUAL or len(rest) == len(p):
        return everyone
    scores = [p[i] for i in rest]
    own = threshold_for_precision(scores, [bool(correct[i]) for i in rest], target, [w[i] for i in rest], z)
    # none reached: ``own`` is just above their highest score, which says nothing of higher ones
    reached = own <= max(scores)
    return own if len(rest) >= min_rows and reached else max(own, everyone)


def fit_calibration(
    rows: Sequence[Mapping[str, float]], correct: Sequence[bool], target_precision: float = 0.9, c_value: float = 1.0,
    fitted_on: str = "", weights: Sequence[float] | None = None, in_set: Sequence[bool] | None = None,
    segments: Sequence[Sequence[str]] | None = None, min_segment: int = 80, allow_boosted: bool = True,
    clarify_precision: float | None = None, unanswerable: Sequence[bool] | None = None,
    handoff_recall: float | None = None, z: float = 0.0, features: Sequence[str] | None = None,
) -> Calibration:
    """Fit the answer model (label: the top entry is right) and, given ``in_set`` (the right entry is among the
    first ``CHOICES``), the set model; derive the answer threshold (global and per segment, from each row's
    ``segments`` keys) and the clarify threshold from out-of-fold probabilities. ``weights`` reweight rows
    for the thresholds (see ``mix_weights``). ``clarify_precision``: how often the right entry must be among the
    choices (default: ``target_precision``). ``handoff_recall``: the weighted share of the ``unanswerable`` rows
    (questions with no right entry) that must end in a hand-off; the clarify threshold is raised until it holds
    (see ``clarify_budget``). ``z``: every threshold (global, per segment, clarify) asks the precision's
    lower confidence bound to reach its target, not the point estimate (``threshold_for_precision``).
    ``features``: the signals both models use (default: all of ``SIGNALS`` the rows have)."""
    if len(rows) < 10 or len(set(correct)) < 2:
        raise BadInput(f"calibration needs at least 10 labelled questions with both right and wrong answers "
                       f"(got {len(rows)}, {sum(correct)} right)")
    if features is None:
        features = SIGNALS if all(all(s in r for s in SIGNALS) for r in rows[:5]) else LEGACY_SIGNALS
    answer_model, oof = fit_probability(rows, correct, features, c_value, allow_boosted=allow_boosted)
    w = list(weights) if weights is not None else [1.0] * len(rows)
    p = [float(v) for v in oof]
    keys = segments or [()] * len(rows)
    by_segment = segment_thresholds(p, correct, w, keys, target_precision, min_segment, z)
    threshold = global_threshold(p, correct, w, residual(by_segment, keys), target_precision, min_segment, z)
    row_threshold = [threshold_for(by_segment, seg, threshold) for seg in keys]
    answered = [pi >= t for pi, t in zip(p, row_threshold, strict=True)]
    set_model, clarify_threshold = None, None
    clarified = [False] * len(rows)
    if in_set is not None and len(set(in_set)) == 2 and sum(in_set) >= 2 and len(in_set) - sum(in_set) >= 2:
        set_model, oof_set = fit_probability(rows, in_set, features, c_value, allow_boosted=allow_boosted)
        rest = [i for i, a in enumerate(answered) if not a and rows[i].get("second", 0.0) > 0]
        if rest:
            ps = [max(float(oof_set[i]), p[i]) for i in rest]
            clarify_threshold = threshold_for_precision(
                ps, [in_set[i] for i in rest], clarify_precision or target_precision, [w[i] for i in rest], z)
            if unanswerable is not None and handoff_recall is not None:
                clarify_threshold = max(clarify_threshold, clarify_budget(
                    [pi for pi, i in zip(ps, rest, strict=True) if unanswerable[i]],
                    sum(w[i] for i, a in enumerate(answered) if a and unanswerable[i]),
                    sum(w[i] for i, u in enumerate(unanswerable) if u), handoff_recall,
                    [w[i] for i in rest if unanswerable[i]]))
            for i, pi in zip(rest, ps, strict=True):
                clarified[i] = pi >= clarify_threshold
    mass = sum(w)
    ans_mass = sum(wi for wi, a in zip(w, answered, strict=True) if a)
    right = sum(wi for wi, a, c in zip(w, answered, correct, strict=True) if a and c)
    answerable = in_set if in_set is not None else correct
    served = right + sum(wi for wi, c, s in zip(w, clarified, in_set or [False] * len(w), strict=True) if c and s)
    pos_mass = sum(wi for wi, g in zip(w, answerable, strict=True) if g) or 1.0
    return Calibration(
        answer_model=answer_model, set_model=set_model, answer_threshold=threshold,
        clarify_threshold=clarify_threshold, segment_thresholds=by_segment,
        uses_seeking=len({r.get("seeking", 1.0) for r in rows}) > 1, target_precision=target_precision,
        fitted_on=fitted_on, n=len(rows), dev_precision=round(right / ans_mass, 4) if ans_mass else None,
        dev_coverage=round(ans_mass / mass, 4),
        dev_clarify_rate=round(sum(wi for wi, c in zip(w, clarified, strict=True) if c) / mass, 4),
        dev_self_served=round(served / pos_mass, 4),
    )
