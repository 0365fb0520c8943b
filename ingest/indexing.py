"""Units to index points: embedded once per distinct text in a run, BM25-weighted, upserted, failures isolated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.meta_keys import MetaKey
from core.models import Unit
from core.store import Store
from ingest.chunking import head_within
from retrieval.bm25 import BM25Params, doc_sparse
from retrieval.embed import Embedder
from retrieval.embed_english import is_english
from retrieval.index import IndexPoint, VectorIndex
from retrieval.tokenize import Tokenizer

log = logging.getLogger(__name__)
STATS_KEY = MetaKey.bm25_stats
# A question is embedded as a query, anything else as a passage: the same text gets two different vectors.
_Key = tuple[bool, str]


@dataclass
class VectorCache:
    """Vectors of the texts embedded in one run, so a phrasing shared by many entries (or a chunk repeated
    across files) is embedded once. Bounded: past ``limit`` texts the oldest are forgotten."""

    limit: int = 50_000
    vectors: dict[_Key, np.ndarray] = field(default_factory=dict)

    def get(self, key: _Key) -> np.ndarray | None:
        return self.vectors.get(key)

    def put(self, key: _Key, vector: np.ndarray) -> None:
        if self.limit <= 0:
            return
        if len(self.vectors) >= self.limit:
            self.vectors.pop(next(iter(self.vectors)))
        self.vectors[key] = vector


def dense_text(unit: Unit, answer_max_tokens: int | None) -> str:
    """The text a unit is embedded from. An FAQ answer unit is embedded from its head only (question and
    the first ``answer_max_tokens`` of question + answer): its cost grows with its length, most of what
    distinguishes an answer is in its first sentences, and its BM25 vector still covers the whole text."""
    if unit.kind == "answer" and answer_max_tokens:
        return head_within(unit.text, answer_max_tokens)
    return unit.text


@dataclass
class UnitIndexer:
    """Writes units to the index. ``upsert`` returns the units that failed (with the reason) when asked
    to isolate failures; otherwise an error propagates (re-index, editors' changes: nothing to skip)."""

    embedder: Embedder
    tokenizer: Tokenizer
    index: VectorIndex
    bm25: BM25Params
    store: Store
    cache: VectorCache = field(default_factory=VectorCache)
    answer_max_tokens: int | None = None
    english: Embedder | None = None
    """The second, English-only embedder: English units get its vector too (``IndexPoint.dense_en``)."""
    english_cache: VectorCache = field(default_factory=VectorCache)

    def _key(self, unit: Unit) -> _Key:
        return unit.kind == "question", dense_text(unit, self.answer_max_tokens)

    def avgdl(self, new_lengths: Sequence[int]) -> float:
        """Average unit length in tokens, as a running total over everything indexed so far.

        Units indexed earlier keep the weights they got; ``kb reindex`` recomputes all with the exact
        average. The drift is small once a knowledge base has more than a few hundred units."""
        stats = self.store.meta.get(STATS_KEY) or {"units": 0, "tokens": 0}
        units = stats["units"] + len(new_lengths)
        tokens = stats["tokens"] + sum(new_lengths)
        self.store.meta.set(STATS_KEY, {"units": units, "tokens": tokens})
        return max(tokens / units, 1.0) if units else 1.0

    def _embed(self, keys: Sequence[_Key], out: dict[_Key, np.ndarray]) -> None:
        """Vectors of ``keys`` into ``out``: from the cache, the rest embedded, queries and passages each in
        one call."""
        for key in keys:
            if key not in out and (hit := self.cache.get(key)) is not None:
                out[key] = hit
        for as_query in (True, False):
            texts = list(dict.fromkeys(t for q, t in keys if q == as_query and (q, t) not in out))
            if not texts:
                continue
            vectors = self.embedder.embed_queries(texts) if as_query else self.embedder.embed_passages(texts)
            if len(vectors) != len(texts):
                raise ValueError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
            for text, vector in zip(texts, vectors, strict=True):
                out[(as_query, text)] = np.asarray(vector)
                self.cache.put((as_query, text), out[(as_query, text)])

    def _english(self, units: Sequence[Unit], isolate: bool) -> dict[str, np.ndarray]:
        """English vectors by text, for the English units. When they cannot be computed and failures are
        isolated, the units are still indexed without them (the multilingual vector and BM25 find them)."""
        if self.english is None:
            return {}
        texts = list(dict.fromkeys(t for t in (dense_text(u, self.answer_max_tokens) for u in units) if is_english(t)))
        out: dict[str, np.ndarray] = {}
        todo = []
        for text in texts:
            hit = self.english_cache.get((False, text))
            if hit is not None:
                out[text] = hit
            else:
                todo.append(text)
        if not todo:
            return out
        try:
            vectors = self.english.embed_passages(todo)
        except Exception as exc:
            if not isolate:
                raise
            log.warning("English embedding of %d texts failed (%s); indexed without it", len(todo), exc)
            return out
        for text, vector in zip(todo, vectors, strict=True):
            out[text] = np.asarray(vector)
            self.english_cache.put((False, text), out[text])
        return out

    def _vectors(self, units: Sequence[Unit], isolate: bool) -> tuple[
            list[Unit], list[tuple[Unit, str]], dict[_Key, np.ndarray]]:
        """Units with a vector, the units whose text could not be embedded, and the vectors."""
        vectors: dict[_Key, np.ndarray] = {}
        try:
            self._embed([self._key(u) for u in units], vectors)
            return list(units), [], vectors
        except Exception as exc:
            if not isolate:
                raise
            log.warning("embedding a batch of %d units failed (%s); retrying one by one", len(units), exc)
        ok: list[Unit] = []
        failed: list[tuple[Unit, str]] = []
        for unit in units:
            try:
                self._embed([self._key(unit)], vectors)
                ok.append(unit)
            except Exception as exc:  # broad on purpose: isolated: this unit's record is quarantined with the reason
                failed.append((unit, f"embedding failed: {type(exc).__name__}: {exc}"))
        return ok, failed, vectors

    def upsert(self, units: Sequence[Unit], avgdl: float | None = None,
               isolate: bool = False) -> list[tuple[Unit, str]]:
        """Embed (cached per text), BM25-weight and upsert ``units``; ``avgdl`` fixes the average length
        (reindex), otherwise the running average is used and updated. Returns the failed units."""
        ok, failed, vectors = self._vectors(units, isolate)
        if not ok:
            return failed
        tokens = [self.tokenizer.tokenize(u.text) for u in ok]
        dl = avgdl if avgdl is not None else self.avgdl([len(t) for t in tokens])
        english = self._english(ok, isolate)
        points = []
        for unit, toks in zip(ok, tokens, strict=True):
            points.append(IndexPoint(unit.id, vectors[self._key(unit)], doc_sparse(toks, dl, self.bm25),
                                     {**unit.payload(), "ntok": len(toks)},
                                     english.get(dense_text(unit, self.answer_max_tokens))))
        try:
            self.index.upsert(points)
        except Exception as exc:
            if not isolate:
                raise
            for point, unit in zip(points, ok, strict=True):
                try:
                    self.index.upsert([point])
                except Exception as one:
                    failed.append((unit, f"index write failed: {type(one).__name__}: {one}"))
            log.warning("index upsert of %d points failed (%s); wrote them one by one", len(points), exc)
        return failed


__all__ = ["STATS_KEY", "UnitIndexer", "VectorCache"]
