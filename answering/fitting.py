"""Fitting the confidence on questions scored against the live knowledge base, without leakage.

* ``fit``: labelled questions (``kb calibrate FILE``), kept for a later refit.
* ``refit``: the stored questions again after the knowledge base has learned (``kb calibrate``). Each stored
  question is scored without the phrasings learned from it (learned units whose text is the question's,
  masked, or a near-duplicate of it), so a refit does not see its own answers and over-answer.
* ``auto``: no labels (``kb calibrate --auto``): leave-one-phrasing-out questions from entries with several
  phrasings (the phrasing is removed from the ranking) as positives; as must-hand-off negatives, phrasings
  asked with their whole entry removed (in-domain questions the knowledge base cannot answer) and the
  packaged generic out-of-domain questions in both languages (``ood_questions.json``)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from importlib import resources
from statistics import NormalDist
from typing import Any

import numpy as np

from core.errors import BadInput
from core.ids import normalize_for_hash
from core.meta_keys import MetaKey
from core.models import SearchHit
from core.store import Store
from retrieval.embed import embed_in_batches
from retrieval.searcher import HybridSearcher

from .calibration import Calibration, fit_calibration, mix_weights
from .segments import segment_keys
from .signals import AUTO_SIGNALS, CHOICES, distinct, signals

Labelled = Sequence[tuple[str, Sequence[str]]]
"""(question, gold ids); an empty gold list means "should hand off"."""
Exclude = Callable[[dict[str, Any]], bool]
REFIT_SUFFIX = " (refit)"
LEARNED_SOURCE = "learned"
AUTO_LABEL = "auto: "
"""How an automatic (no-label) calibration's ``fitted_on`` starts."""
REFIT_SHARE = 0.1
"""An automatic calibration is fitted again after an ingest that added or removed this share of the index."""
AUTO_SHARE = 0.2
"""The out-of-domain share ``--auto`` sets its threshold for when no unanswerable share is configured."""


def ood_questions() -> dict[str, list[str]]:
    """The packaged generic out-of-domain questions, by language."""
    data = json.loads(resources.files("answering").joinpath("ood_questions.json").read_text(encoding="utf-8"))
    return {"en": list(data["en"]), "zh": list(data["zh"])}


def _bigrams(text: str) -> set[str]:
    t = normalize_for_hash(text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """Same text after normalisation, or character-bigram Jaccard >= ``threshold``."""
    if normalize_for_hash(a) == normalize_for_hash(b):
        return True
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / max(len(x | y), 1) >= threshold


def learned_from_question(question: str, mask: Callable[[str], str] = lambda t: t) -> Exclude:
    """Excludes the learned phrasings that are this question (as masked) or a near-duplicate of it."""
    texts = {question, mask(question)}

    def exclude(payload: dict[str, Any]) -> bool:
        return payload.get("source") == LEARNED_SOURCE and any(near_duplicate(str(payload.get("text", "")), t)
                                                               for t in texts)
    return exclude


class CalibrationFitter:
    """Scores questions the way ``/v1/ask`` ranks them (demotions included) and fits on them."""

    def __init__(self, store: Store, searcher: HybridSearcher,
                 demote: Callable[[list[SearchHit], np.ndarray], list[SearchHit]],
                 target_precision: float, unanswerable_share: float | None,
                 mask: Callable[[str], str] | None = None, min_segment: int = 80,
                 clarify_precision: float | None = None, handoff_recall: float | None = None,
                 precision_confidence: float = 0.5, absent_share: float = 0.0) -> None:
        self.store = store
        self.searcher = searcher
        self.demote = demote
        self.target_precision = target_precision
        self.clarify_precision = clarify_precision
        self.handoff_recall = handoff_recall
        self.absent_share = absent_share
        """Share of the labelled answerable questions asked again without their entries (``with_absent_entries``)."""
        self.z = NormalDist().inv_cdf(precision_confidence)
        """The margin of every threshold, in standard errors (``calibration.threshold_for_precision``)."""
        self.unanswerable_share = unanswerable_share
        self.mask = mask or (lambda t: t)
        self.min_segment = min_segment

    def learned_from(self, question: str) -> Exclude:
        """The learned phrasings that are this question, as the knowledge base would have stored it."""
        return learned_from_question(question, self.mask)

    def hits(self, question: str, vector: np.ndarray, exclude: Exclude | None = None,
             context: str | None = None) -> list[SearchHit]:
        """The ranked hits of a question, with the index points ``exclude`` rejects left out (``context``:
        the conversation before it, as ``/v1/ask`` has it from a session)."""
        s = self.searcher
        found = s.hits(question, vector, full=exclude is not None, context=context)
        if exclude is not None:
            found = found.without(exclude)
        ranked = s.rank(s.build(found))[:10]
        return self.demote(s.to_hits(ranked, exclude), vector)

    def fit_rows(self, questions: Labelled, excludes: Sequence[Exclude | None] | None = None,
                 fitted_on: str = "", share: float | None = None,
                 seeking: Sequence[float] | None = None, contexts: Sequence[str | None] | None = None,
                 absent: bool = False, features: Sequence[str] | None = None) -> Calibration:
        """Fit on these questions (``excludes``: index points to leave out per question; ``seeking``: the turn
        classifier's out-of-fold probability per question, for dialogue turns; ``contexts``: the conversation
        before each; ``absent``: add questions asked without their entries, see ``with_absent_entries``;
        ``features``: the signals the models use, default all)."""
        if absent and seeking is None and contexts is None:
            questions, excludes, share, added = self.with_absent_entries(questions, excludes, share)
            if added:
                fitted_on = f"{fitted_on}, {added} of them asked again without their entries"
        rows, correct, in_set, segments = self.score_rows(questions, excludes, seeking, contexts)
        weights = mix_weights([bool(g) for _, g in questions], share)
        label = fitted_on if share is None else f"{fitted_on}, unanswerable share {share:g}"
        return fit_calibration(rows, correct, self.target_precision, fitted_on=label, weights=weights, in_set=in_set,
                               segments=segments, min_segment=self.min_segment,
                               clarify_precision=self.clarify_precision,
                               unanswerable=[not g for _, g in questions], handoff_recall=self.handoff_recall,
                               z=self.z, features=features)

    def score_rows(self, questions: Labelled, excludes: Sequence[Exclude | None] | None = None,
                   seeking: Sequence[float] | None = None, contexts: Sequence[str | None] | None = None,
                   ) -> tuple[list[dict[str, float]], list[bool], list[bool], list[tuple[str, ...]]]:
        """(signals, top right, right one among the choices, segments) per question."""
        vectors = embed_in_batches(self.searcher.embedder, [q for q, _ in questions])
        rows, correct, in_set, segments = [], [], [], []
        for n, ((question, gold), vector) in enumerate(zip(questions, vectors, strict=True)):
            hits = self.hits(question, vector, excludes[n] if excludes else None,
                             contexts[n] if contexts is not None else None)
            gold_set = set(gold)
            rows.append(signals(hits, question, seeking[n] if seeking is not None else None))
            correct.append(bool(hits) and bool(gold_set) and hits[0].target_id in gold_set)
            in_set.append(bool(gold_set) and any(h.target_id in gold_set for h in distinct(hits)[:CHOICES]))
            segments.append(segment_keys(question, hits))
        return rows, correct, in_set, segments

    def with_absent_entries(self, questions: Labelled, excludes: Sequence[Exclude | None] | None,
                            share: float | None) -> tuple[Labelled, list[Exclude | None], float | None, int]:
        """The labelled questions plus ``absent_share`` of the answerable ones asked again with their gold entries
        left out of the ranking, as must-hand-off questions: in-domain questions the knowledge base has no
        answer for, which labelled sets hold few of (clinc150's validation split: 3% out of scope). They are
        harder than out-of-domain traffic: weighed as all of it, they make every threshold cautious (the
        figures are with ``Settings.absent_entry_share``, off by default). The unanswerable questions, real and
        these, weigh ``share`` of the fit together; with no share configured, the labelled set's own share of
        unanswerable questions; with neither (no unanswerable question labelled, no share set), nothing says how
        often such questions come, and none is added. (questions, excludes, share, how many were added)"""
        base: list[Exclude | None] = list(excludes) if excludes is not None else [None] * len(questions)
        answerable = [i for i, (_, gold) in enumerate(questions) if gold]
        k = int(len(answerable) * self.absent_share)
        mix = share
        if mix is None and len(answerable) < len(questions):
            mix = (len(questions) - len(answerable)) / len(questions)
        if not mix or k == 0:
            return questions, base, share, 0
        share = mix
        picked = sorted(random.Random(0).sample(answerable, k))
        more: list[tuple[str, Sequence[str]]] = [(questions[i][0], ()) for i in picked]
        return ([*questions, *more], base + [_targets_excluder(questions[i][1], base[i]) for i in picked], share,
                len(more))

    def fit(self, questions: Labelled, fitted_on: str = "") -> Calibration:
        """Fit, and keep the questions so ``refit`` can run after the knowledge base has learned. Each question
        is scored without the phrasings learned from it (from this file, or from feedback on it before): matched
        to itself verbatim, it would look like the easy question it no longer is for a new customer."""
        excludes: list[Exclude | None] = [self.learned_from(q) for q, _ in questions]
        calibration = self.fit_rows(questions, excludes, fitted_on=fitted_on, share=self.unanswerable_share,
                                    absent=True)
        self.store.meta.set(MetaKey.calibration_set, {"fitted_on": fitted_on.removesuffix(REFIT_SUFFIX),
                                                      "questions": [[q, list(g)] for q, g in questions]})
        return calibration

    def refit(self) -> Calibration:
        """Refit on the questions of the last ``fit`` (``kb calibrate`` without a file), each scored without
        the phrasings the knowledge base learned from it."""
        stored = self.store.meta.get(MetaKey.calibration_set)
        if not stored:
            raise BadInput("no calibration questions stored yet: run `kb calibrate EVALFILE` once")
        questions = [(q, tuple(g)) for q, g in stored["questions"]]
        excludes: list[Exclude | None] = [self.learned_from(q) for q, _ in questions]
        return self.fit_rows(questions, excludes, fitted_on=f"{stored['fitted_on']}{REFIT_SUFFIX}",
                             share=self.unanswerable_share, absent=True)

    def after_ingest(self, changed: int, points: int) -> Calibration | None:
        """The automatic fit an ingest that added or removed ``changed`` of the index's ``points`` calls for, or
        None: none over a calibration fitted on labelled questions (refitting that is the editor's call), none
        after a small edit (under ``REFIT_SHARE`` of the index) when an automatic fit is already in place. The
        package default was fitted on other knowledge bases; on one it has never seen it answers too much
        (82% precision on unseen FAQ data), while a fit on the knowledge base's own phrasings holds its target
        there. Raises ``BadInput`` where no fit is possible: too few phrasings, or documents in the knowledge base
        (``auto`` has questions for FAQ entries only: fitted without one answer from a document, it would never
        answer from one)."""
        stored = self.store.meta.get(MetaKey.calibration)
        if stored is not None and not str(stored.get("fitted_on", "")).startswith(AUTO_LABEL):
            return None
        if self.store.counts()["chunk_units"]:
            raise BadInput("the knowledge base holds documents, and --auto has questions for its FAQ entries only "
                           "(it would never answer from a document): calibrate with labelled questions")
        if stored is not None and changed < REFIT_SHARE * points:
            return None
        return self.auto()

    def auto(self, max_positives: int = 800, per_entry: int = 3, seed: int = 0) -> Calibration:
        """Fit with no labels: leave-one-phrasing-out positives, packaged out-of-domain negatives."""
        by_entry: dict[str, list[tuple[str, str]]] = {}
        for unit in self.store.sources.iter_units():
            # the entry's own question is also inside its answer unit: only other phrasings are held out
            if unit.kind == "question" and unit.entry_id and unit.text != unit.metadata.get("question"):
                by_entry.setdefault(unit.entry_id, []).append((unit.id, unit.text))
        rng = random.Random(seed)
        positives: list[tuple[str, str, str]] = []  # question, entry, unit id
        for entry_id, phrasings in sorted(by_entry.items()):
            if phrasings:
                picked = rng.sample(phrasings, min(per_entry, len(phrasings)))
                positives += [(text, entry_id, unit_id) for unit_id, text in picked]
        rng.shuffle(positives)
        positives = positives[:max_positives]
        if len(positives) < 10:
            raise BadInput(f"--auto needs entries with at least two phrasings (found {len(positives)} held-out "
                           f"phrasings; at least 10 needed): calibrate with labelled questions instead")
        negatives = [q for qs in ood_questions().values() for q in qs]
        # in-domain negatives: a phrasing of an entry asked with the whole entry left out of the ranking, as
        # a question about the same business that the knowledge base has no answer for
        absent = sorted({e for _, e, _ in positives})
        rng.shuffle(absent)
        absent = absent[: max(len(negatives), len(positives) // 3)]
        first = {e: q for q, e, _ in reversed(positives)}
        questions: list[tuple[str, Sequence[str]]] = [(q, (e,)) for q, e, _ in positives]
        questions += [(first[e], ()) for e in absent] + [(q, ()) for q in negatives]
        excludes: list[Exclude | None] = [_unit_excluder(u) for _, _, u in positives]
        excludes += [_entry_excluder(e) for e in absent] + [None] * len(negatives)
        share = self.unanswerable_share if self.unanswerable_share is not None else AUTO_SHARE
        # the positives are stored phrasings: the models leave out the signals they flatter (``AUTO_SIGNALS``)
        return self.fit_rows(questions, excludes, share=share, features=AUTO_SIGNALS,
                             fitted_on=f"{AUTO_LABEL}{len(positives)} held-out phrasings, {len(absent)} held-out "
                                       f"entries, {len(negatives)} generic out-of-domain questions")


def _targets_excluder(gold: Sequence[str], also: Exclude | None) -> Exclude:
    """Leaves out every point of the gold entries and documents (and what ``also`` leaves out)."""
    targets = set(gold)

    def exclude(payload: dict[str, Any]) -> bool:
        return (payload.get("entry_id") in targets or payload.get("doc_id") in targets
                or (also is not None and also(payload)))
    return exclude


def _entry_excluder(entry_id: str) -> Exclude:
    return lambda payload: payload.get("entry_id") == entry_id


def _unit_excluder(unit_id: str) -> Exclude:
    return lambda payload: payload.get("unit_id") == unit_id
