"""BM25 term weights for Qdrant sparse vectors, and a pure reference scorer.

Qdrant applies the IDF at query time when the sparse vector has ``Modifier.Idf``:
idf(t) = ln(1 + (N - n_t + 0.5) / (n_t + 0.5)), and scores sum(query_value * idf * doc_value). So a
document stores the BM25 term-frequency part, tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)),
and a query stores term counts. ``BM25Scorer`` computes the same scores in numpy (tests, evaluation)."""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict


class BM25Params(BaseModel):
    model_config = ConfigDict(frozen=True)
    k1: float = 1.2
    b: float = 0.75


class SparseVec(NamedTuple):
    indices: list[int]
    values: list[float]


def term_index(token: str) -> int:
    """A stable 31-bit id for a token (crc32); the index never needs a vocabulary."""
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def _to_sparse(weights: dict[int, float]) -> SparseVec:
    keys = sorted(weights)
    return SparseVec(keys, [weights[k] for k in keys])


def doc_sparse(tokens: Sequence[str], avgdl: float, params: BM25Params | None = None) -> SparseVec:
    """The BM25 term-frequency weights of one document.

    Two different tokens that hash to the same index (rare: 31 bits) have their weights summed,
    which is what a single merged term would get; it is deterministic."""
    p = params or BM25Params()
    if not tokens:
        return SparseVec([], [])
    dl = len(tokens)
    norm = p.k1 * (1.0 - p.b + p.b * dl / max(avgdl, 1e-9))
    weights: dict[int, float] = {}
    for token, tf in Counter(tokens).items():
        idx = term_index(token)
        weights[idx] = weights.get(idx, 0.0) + tf * (p.k1 + 1.0) / (tf + norm)
    return _to_sparse(weights)


def query_sparse(tokens: Sequence[str]) -> SparseVec:
    """Query term counts (a repeated query term counts twice, as in BM25's sum over query terms)."""
    weights: dict[int, float] = {}
    for token, n in Counter(tokens).items():
        idx = term_index(token)
        weights[idx] = weights.get(idx, 0.0) + float(n)
    return _to_sparse(weights)


def idf(n_docs: int, df: int) -> float:
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class BM25Scorer:
    """In-memory BM25 with exactly the index's formula."""

    def __init__(self, corpus_tokens: Sequence[Sequence[str]], params: BM25Params | None = None) -> None:
        self.params = params or BM25Params()
        self.n_docs = len(corpus_tokens)
        lengths = [len(t) for t in corpus_tokens]
        self.avgdl = (sum(lengths) / self.n_docs) if self.n_docs else 1.0
        self._docs = [dict(zip(*doc_sparse(t, self.avgdl, self.params), strict=True)) for t in corpus_tokens]
        df: Counter[int] = Counter()
        for d in self._docs:
            df.update(d.keys())
        self._df = df

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        q = query_sparse(query_tokens)
        out = np.zeros(self.n_docs, dtype=np.float64)
        for idx, qv in zip(q.indices, q.values, strict=True):
            df = self._df.get(idx, 0)
            if not df:
                continue
            w = idf(self.n_docs, df) * qv
            for i, d in enumerate(self._docs):
                if idx in d:
                    out[i] += w * d[idx]
        return out

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        s = self.scores(query_tokens)
        order = sorted(range(self.n_docs), key=lambda i: (-s[i], i))
        return [(i, float(s[i])) for i in order[:k] if s[i] > 0]
