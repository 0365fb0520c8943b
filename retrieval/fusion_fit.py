"""Fit the fusion of dense and BM25 for one knowledge base, on labelled development questions.

Tries weighted RRF over a grid of weights (which includes dense-only, BM25-only and passage-only) and logistic
models over all candidate features, and keeps whichever ranks the development questions best
(MRR@10, then hit@1). Because the single retrievers are in the search space, the chosen fusion is
never worse than either of them on the development split."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from core.errors import BadInput
from retrieval.candidates import Candidate
from retrieval.fusion import FEATURES, FusionModel, LinearFusion, RRFFusion, rank_by
from retrieval.metrics import summarize
from retrieval.searcher import HybridSearcher


class Labelled(BaseModel):
    question: str
    gold: frozenset[str]


class FitResult(BaseModel):
    model: RRFFusion | LinearFusion
    scores: dict[str, dict[str, float]]
    n_questions: int

    def summary(self) -> str:
        best = self.scores[self.model_name]
        return (f"fusion fitted on {self.n_questions} questions: {self.model_name} "
                f"(hit@1 {best['hit@1']:.3f}, MRR@10 {best['mrr@10']:.3f})")

    @property
    def model_name(self) -> str:
        return next(name for name, s in self.scores.items() if s.get("chosen"))


def target(c: Candidate) -> str:
    return str(c.payload.get("entry_id") or c.payload.get("doc_id") or c.key)


def ranking_scores(pool: Sequence[tuple[list[Candidate], frozenset[str]]], model: FusionModel) -> dict[str, float]:
    runs = []
    for cands, gold in pool:
        order = rank_by([c.features for c in cands], model)
        runs.append(([target(cands[i]) for i in order], gold))
    return summarize(runs)


def _fit_logistic(pool: Sequence[tuple[list[Candidate], frozenset[str]]], c_value: float, k: int) -> LinearFusion:
    from sklearn.linear_model import LogisticRegression

    xs, ys = [], []
    for cands, gold in pool:
        labels = [1 if target(c) in gold else 0 for c in cands]
        if not any(labels):
            continue
        xs.extend([[c.features[f] for f in FEATURES] for c in cands])
        ys.extend(labels)
    if len(set(ys)) < 2:
        raise BadInput("no development question has its gold answer among the candidates")
    x = np.asarray(xs, dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c_value, max_iter=2000)
    lr.fit((x - mean) / scale, np.asarray(ys))
    coef = lr.coef_[0] / scale
    intercept = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / scale))
    return LinearFusion(k=k, features=FEATURES, coef=tuple(float(c) for c in coef), intercept=intercept,
                        fitted_on=f"logistic C={c_value}")


def fit_on_candidates(pool: Sequence[tuple[list[Candidate], frozenset[str]]], k: int = 60) -> FitResult:
    options: dict[str, FusionModel] = {}
    for wd, wb in [(1, 0), (0, 1), (1, 1), (1, 0.5), (1, 0.25), (1, 0.1), (0.5, 1), (0.25, 1)]:
        options[f"rrf dense={wd} bm25={wb}"] = RRFFusion(k=k, dense_weight=wd, bm25_weight=wb)
    for wd, wb, wp in [(0, 0, 1), (1, 0, 1), (0.5, 0, 1), (1, 0.25, 1), (0.5, 0.25, 1), (0.25, 0.1, 1)]:
        options[f"rrf dense={wd} bm25={wb} passage={wp}"] = RRFFusion(k=k, dense_weight=wd, bm25_weight=wb,
                                                                      passage_weight=wp)
    for wd, wb, we in [(1, 0.25, 1), (1, 0.5, 1), (0.5, 0.25, 1), (1, 0.25, 2)]:
        options[f"rrf dense={wd} bm25={wb} english={we}"] = RRFFusion(k=k, dense_weight=wd, bm25_weight=wb,
                                                                      english_weight=we)
    for c_value in (0.1, 1.0, 10.0):
        options[f"logistic C={c_value}"] = _fit_logistic(pool, c_value, k)
    scores = {name: ranking_scores(pool, model) for name, model in options.items()}
    best = max(scores, key=lambda name: (scores[name]["mrr@10"], scores[name]["hit@1"], name.startswith("logistic")))
    scores[best] = {**scores[best], "chosen": 1.0}
    return FitResult(model=options[best], scores=scores, n_questions=len(pool))


ExcludeFor = Callable[[str], Callable[[dict[str, Any]], bool]]
"""Per question, the index points its ranking must leave out (payload -> True to leave out)."""


def collect(searcher: HybridSearcher, labelled: Sequence[Labelled], exclude_for: ExcludeFor | None = None,
            ) -> list[tuple[list[Candidate], frozenset[str]]]:
    """Each question's candidates; with ``exclude_for``, without the points it names (the phrasings the
    knowledge base learned from that very question: fitted on questions matched to themselves verbatim, the
    fusion would learn to trust the dense score far more than a new question warrants)."""
    if exclude_for is None:
        return [(searcher.candidates(item.question), item.gold) for item in labelled]
    out = []
    for item in labelled:
        hits = searcher.hits(item.question, searcher.embed_query(item.question), full=True)
        out.append((searcher.build(hits.without(exclude_for(item.question))), item.gold))
    return out


def fit_fusion(searcher: HybridSearcher, labelled: Sequence[Labelled], exclude_for: ExcludeFor | None = None,
               ) -> FitResult:
    return fit_on_candidates(collect(searcher, labelled, exclude_for), k=getattr(searcher.fusion, "k", 60))
