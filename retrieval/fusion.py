"""Fusion of the dense and BM25 rankings: pure functions over per-candidate features.

Two models share one interface (``score(features) -> float``):
* ``RRFFusion``: weighted reciprocal-rank fusion, ``sum_r w_r / (k + rank_r)`` over the dense, BM25 and
  passage-only rankings.
* ``LinearFusion``: a logistic model over features (dense similarity, its gap to the best,
  normalised BM25, both RRF terms, question-vs-passage match), fitted per knowledge base on a
  development split by ``retrieval.fusion_fit``. The default.

Equal-weight RRF loses to dense alone on FAQ-style data (dstc11 FAQ turns hit@1 0.33 vs 0.50 when
this project was planned), which is why the weights are learned rather than fixed."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

FEATURES: tuple[str, ...] = (
    "dense", "dense_gap", "dense_q", "dense_p", "bm25_norm", "bm25_q_norm", "bm25_p_norm",
    "rrf_dense", "rrf_bm25", "in_dense", "in_bm25", "is_faq", "rrf_passage", "dense_p_gap",
    "dense_en", "dense_en_gap", "rrf_en", "has_en",
)


def rrf_term(rank: int | None, k: int) -> float:
    """1/(k + rank) for a 1-based rank; 0 when the candidate is not in that ranking."""
    return 0.0 if rank is None else 1.0 / (k + rank)


class RRFFusion(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["rrf"] = "rrf"
    k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    passage_weight: float = 0.0
    """Weight of the passage-only dense ranking (whole-entry match; strong on long, multi-turn queries)."""
    english_weight: float = 0.0
    """Weight of the English embedder's ranking (present for English questions only)."""

    def score(self, f: Mapping[str, float]) -> float:
        return (self.dense_weight * f["rrf_dense"] + self.bm25_weight * f["rrf_bm25"]
                + (self.passage_weight * f.get("rrf_passage", 0.0) if self.passage_weight else 0.0)
                + (self.english_weight * f.get("rrf_en", 0.0) if self.english_weight else 0.0))


class LinearFusion(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["linear"] = "linear"
    k: int = 60
    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float = 0.0
    fitted_on: str = ""

    def score(self, f: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * f[name] for name, c in zip(self.features, self.coef, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


FusionModel = RRFFusion | LinearFusion


def fusion_from_dict(data: Mapping[str, Any]) -> FusionModel:
    if data.get("kind") == "linear":
        return LinearFusion.model_validate(data)
    if data.get("kind") == "rrf":
        return RRFFusion.model_validate(data)
    raise ValueError(f"unknown fusion model kind {data.get('kind')!r}")


def default_fusion() -> FusionModel:
    """The fusion shipped with the package (fitted on the sample corpus's dev split; see its file)."""
    text = resources.files("retrieval").joinpath("default_fusion.json").read_text(encoding="utf-8")
    return fusion_from_dict(json.loads(text))


def rank_by(candidates: Sequence[Mapping[str, float]], model: FusionModel) -> list[int]:
    """Indices of candidates, best first; ties keep the input order (stable)."""
    scores = [model.score(c) for c in candidates]
    return sorted(range(len(candidates)), key=lambda i: -scores[i])
