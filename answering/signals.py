"""Signals of a ranked hit list that predict whether its top hit (or one of its top few) is right (pure).

Each signal is a number computed from the ranked hits and the question alone, so the same code serves
fitting, the live decision and benchmarks:

* the fused scores and their gap structure (top, second, third, margins, the top's share of the top five,
  how many different entries sit within a hair of the top);
* the two rankings' agreement: whether the top hit is also first by dense similarity and first by BM25,
  and by how much it leads the other entries on each;
* how well the question matched the entry (dense similarity to its closest phrasing and to its answer), how
  many of its phrasings it is near and how near the second closest is (a question of the entry is near several
  of its phrasings; one that only shares a few words with one is not), and that closest similarity against the
  entry's own cohesion (``retrieval.cohesion``: how close its phrasings are to one another);
* the question itself: its length and whether it is Chinese;
* the set of the top ``CHOICES`` entries (for clarifications): its summed scores and the drop after it;
* the English embedder's view (English questions, when there is one): whether it ranks the top entry first
  too, by how much, and its similarity (``has_en`` 0 and the rest 0 otherwise). Where multilingual-e5 and
  MiniLM disagree on the first entry, it is right far less often (banking77: 18% vs 87%);
* ``seeking``: the probability that a dialogue turn asks for knowledge at all (1 unless a turn classifier
  gives it, see ``signals(..., seeking=)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.models import SearchHit
from core.text import has_cjk

CHOICES = 3
"""How many entries a clarification offers at most."""

ENGLISH_SIGNALS: tuple[str, ...] = ("has_en", "en_first", "en_lead", "dense_en")
"""The English embedder's signals: all 0 for Chinese questions and wherever it is off."""

LEGACY_SIGNALS: tuple[str, ...] = (
    "top", "second", "margin", "dense_q", "dense_p", "dense_gap2", "bm25_norm", "in_both", "is_faq",
)
"""The signals of the first calibration model (stored calibrations from before still load)."""

SIGNALS: tuple[str, ...] = (
    *LEGACY_SIGNALS, "third", "gap23", "share5", "n_close", "dense_first", "bm25_first", "agree", "dense_lead",
    "bm25_lead",
    "q_len", "is_zh", "set_sum", "set_drop", "set_dense", "seeking", *ENGLISH_SIGNALS,
    "dense_q2", "q_hits", "has_coh", "cohesion", "dq_rel",
)

PHRASING_SIGNALS: tuple[str, ...] = ("dense_q2", "q_hits", "has_coh", "cohesion", "dq_rel")
"""How close the question is to the entry's phrasings beyond the closest one, and against their cohesion."""

AUTO_SIGNALS: tuple[str, ...] = tuple(s for s in SIGNALS if s not in PHRASING_SIGNALS)
"""The signals of a calibration fitted with no labels (``kb calibrate --auto``): its positives are stored
phrasings held out of the ranking, which sit closer to their entry's other phrasings than customers' questions
do (clinc150: nearest sibling at 0.943 on average, a test question's right entry at 0.913), so the phrasing
signals separate its questions too well and the clarify threshold lands where real questions do not reach
(banking77 with no labels: clarified with the right entry among the choices 0.5% of questions with them, 14%
without)."""


LEVEL_SIGNALS: tuple[str, ...] = (
    "top", "second", "third", "set_sum", "dense_q", "dense_p", "dense_q2", "set_dense", "dense_en", "cohesion",
)
"""Signals that are levels of a score (a fused score, a cosine similarity) rather than a comparison between the
candidates of one question. A level means different things in different knowledge bases: multilingual-e5's
similarities sit higher for one language or kind of text than for another, and the fused scores follow them."""

PORTABLE_SIGNALS: tuple[str, ...] = tuple(s for s in SIGNALS if s not in LEVEL_SIGNALS)
"""The signals of the package default calibration (``answering/default_calibration.json``), the one a knowledge
base with no labelled questions of its own is decided by: leads, margins, shares and agreements between the
rankings, which mean the same in any knowledge base. Fitted on every signal, that default learned the score
levels of the sets it was fitted on and over-answered a set it had not seen: left out of its fit (fitted on
banking77 and clinc150 only), the sample corpus's test questions were answered at 0.70 precision with 39% of its
out-of-scope questions handed off; on these signals, at 1.00 and 100% (``eval.bench_answering``,
``package_default_loso``)."""


def without_english(row: dict[str, float]) -> dict[str, float]:
    """The signals of the same question as a knowledge base without the English embedder would see them."""
    return {**row, **dict.fromkeys(ENGLISH_SIGNALS, 0.0)}


def distinct(hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The best hit of each entry / document, in rank order."""
    seen: set[str] = set()
    out: list[SearchHit] = []
    for h in hits:
        if h.target_id not in seen:
            seen.add(h.target_id)
            out.append(h)
    return out


def signals(hits: Sequence[SearchHit], question: str = "", seeking: float | None = None) -> dict[str, float]:
    """Every signal in ``SIGNALS`` for a ranked hit list (zeros for an empty one)."""
    out = dict.fromkeys(SIGNALS, 0.0)
    out["seeking"] = 1.0 if seeking is None else float(seeking)
    tokens = question.split()
    out["q_len"] = math.log1p(len(question) if has_cjk(question) else len(tokens))
    out["is_zh"] = 1.0 if has_cjk(question) else 0.0
    ranked = distinct(hits)
    if not ranked:
        return out
    top = ranked[0]
    f = top.features
    scores = [float(h.score) for h in ranked]
    s = scores + [0.0] * 5
    second = ranked[1] if len(ranked) > 1 else None
    others = ranked[1:]
    dense_other = max((h.features.get("dense", 0.0) for h in others), default=0.0)
    bm25_other = max((h.features.get("bm25_norm", 0.0) for h in others), default=0.0)
    top5 = [max(x, 0.0) for x in scores[:5]]
    out.update({
        "top": s[0], "second": s[1], "margin": s[0] - s[1], "third": s[2], "gap23": s[1] - s[2],
        "dense_q": float(f.get("dense_q", 0.0)), "dense_p": float(f.get("dense_p", 0.0)),
        "dense_gap2": float(f.get("dense", 0.0) - second.features.get("dense", 0.0)) if second else 0.1,
        "bm25_norm": float(f.get("bm25_norm", 0.0)),
        "in_both": float(f.get("in_dense", 0.0) * f.get("in_bm25", 0.0)),
        "is_faq": float(f.get("is_faq", 0.0)),
        "share5": top5[0] / sum(top5) if sum(top5) > 0 else 0.0,
        "n_close": float(sum(1 for x in scores[1:5] if s[0] - x <= 0.05)),
        "dense_lead": float(f.get("dense", 0.0)) - dense_other,
        "bm25_lead": float(f.get("bm25_norm", 0.0)) - bm25_other,
        "set_sum": sum(s[:CHOICES]),
        "set_drop": s[CHOICES - 1] - s[CHOICES],
        "set_dense": max(float(h.features.get("dense_q", 0.0)) for h in ranked[:CHOICES]),
    })
    if top.entry_id:
        out["dense_q2"] = float(f.get("dense_q2", 0.0))
        out["q_hits"] = math.log1p(float(f.get("q_hits", 0.0)))
        if "cohesion" in f:
            out["has_coh"] = 1.0
            out["cohesion"] = float(f["cohesion"])
            out["dq_rel"] = out["dense_q"] - out["cohesion"]
    out["dense_first"] = 1.0 if out["dense_lead"] >= 0 and f.get("in_dense", 0.0) else 0.0
    out["bm25_first"] = 1.0 if out["bm25_lead"] >= 0 and f.get("in_bm25", 0.0) else 0.0
    out["agree"] = out["dense_first"] * out["bm25_first"]
    if f.get("has_en", 0.0):
        en_other = max((h.features.get("dense_en", 0.0) for h in others), default=0.0)
        out["has_en"] = 1.0
        out["dense_en"] = float(f.get("dense_en", 0.0))
        out["en_lead"] = out["dense_en"] - en_other
        out["en_first"] = 1.0 if out["en_lead"] >= 0 else 0.0
    return out


def choices(hits: Sequence[SearchHit], k: int = CHOICES) -> list[SearchHit]:
    """The entries a clarification offers: the top ``k`` distinct FAQ entries / documents."""
    return distinct(hits)[:k]


def split_set_probability(p_top: float, p_set: float, scores: Sequence[float]) -> list[float]:
    """Per-choice probabilities: the first choice gets P(top right); the rest of P(right one among the
    choices) is shared among the others in proportion to their (non-negative) scores."""
    if not scores:
        return []
    p_set = max(p_set, p_top)
    rest = [max(float(x), 1e-6) for x in scores[1:]]
    total = sum(rest)
    return [p_top] + [(p_set - p_top) * r / total for r in rest]
