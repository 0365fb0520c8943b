"""The main index and the English embedder's index, behind the one ``VectorIndex`` interface.

The English vectors live in an index of their own (a second Edge shard beside the main one, or a second
Qdrant collection), holding only the English units with a light payload. Kept apart rather than as a second
named vector of the same points because then turning the English embedder on or off never changes the main
index's layout, and neither backend has to support points without one of their vectors. Everything above
this class is unchanged: it writes both, deletes from both, and answers ``dense_en`` queries from the
English index inside the same ``search_batch`` call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from core.models import Filters
from retrieval.bm25 import SparseVec
from retrieval.index import DENSE, ENGLISH, LIGHT_KEYS, PAYLOAD_KEYWORDS, IndexHit, IndexPoint, SearchQuery, VectorIndex

_EMPTY = SparseVec([], [])
ENGLISH_PAYLOAD = tuple(dict.fromkeys((*LIGHT_KEYS, *PAYLOAD_KEYWORDS)))
"""What an English point carries: enough to group and rank its hits, and the keys filters use."""


def english_point(point: IndexPoint) -> IndexPoint | None:
    """The English index's point of a unit (None when the unit has no English vector)."""
    if point.dense_en is None:
        return None
    payload = {k: point.payload[k] for k in ENGLISH_PAYLOAD if k in point.payload}
    return IndexPoint(point.unit_id, point.dense_en, _EMPTY, payload)


class PairedIndex:
    """``main`` answers everything but ``dense_en`` queries, which ``english`` answers."""

    def __init__(self, main: VectorIndex, english: VectorIndex) -> None:
        self.main = main
        self.english = english

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        self.main.upsert(points)
        english = [e for p in points if (e := english_point(p)) is not None]
        # a unit whose text stopped being English (an edit) must not keep its old English point
        stale = [p.unit_id for p in points if p.dense_en is None]
        if stale:
            self.english.delete(stale)
        if english:
            self.english.upsert(english)

    def delete(self, unit_ids: Sequence[str]) -> None:
        self.main.delete(unit_ids)
        self.english.delete(unit_ids)

    def search_dense(self, vector: np.ndarray, limit: int, filters: Filters | None = None,
                     kinds: Sequence[str] | None = None) -> list[IndexHit]:
        return self.main.search_dense(vector, limit, filters, kinds)

    def search_sparse(self, vector: SparseVec, limit: int, filters: Filters | None = None) -> list[IndexHit]:
        return self.main.search_sparse(vector, limit, filters)

    def search_batch(self, queries: Sequence[SearchQuery],
                     keys: Sequence[str] | None = LIGHT_KEYS) -> list[list[IndexHit]]:
        on_main = [i for i, q in enumerate(queries) if q.using != ENGLISH]
        on_english = [i for i, q in enumerate(queries) if q.using == ENGLISH]
        out: list[list[IndexHit]] = [[] for _ in queries]
        if on_main:
            for i, hits in zip(on_main, self.main.search_batch([queries[i] for i in on_main], keys), strict=True):
                out[i] = hits
        if on_english:
            found = self.english.search_batch([queries[i]._replace(using=DENSE) for i in on_english], LIGHT_KEYS)
            if keys is None:  # whole payloads asked for: the main index holds them
                full = self.main.payloads(list({h.unit_id for hits in found for h in hits}))
                found = [[IndexHit(h.unit_id, h.score, full[h.unit_id]) for h in hits if h.unit_id in full]
                         for hits in found]
            for i, hits in zip(on_english, found, strict=True):
                out[i] = hits
        return out

    def payloads(self, unit_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.main.payloads(unit_ids)

    def entry_vectors(self, entry_id: str) -> list[tuple[dict[str, Any], np.ndarray]]:
        return self.main.entry_vectors(entry_id)

    def phrasing_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        return self.main.phrasing_vectors()

    def count(self) -> int:
        return self.main.count()

    def warm(self) -> None:
        self.main.warm()
        self.english.warm()

    def unit_ids(self) -> set[str]:
        return self.main.unit_ids()

    def english_count(self) -> int:
        return self.english.count()

    def clear(self) -> None:
        self.main.clear()
        self.english.clear()

    def flush(self) -> None:
        self.main.flush()
        self.english.flush()

    def optimize(self) -> None:
        for part in (self.main, self.english):
            optimize = getattr(part, "optimize", None)
            if optimize is not None:
                optimize()

    def close(self) -> None:
        try:
            self.main.close()
        finally:
            self.english.close()
