"""The index interface: one point per unit, holding a dense vector and a BM25 sparse vector.

Two backends implement it: ``EdgeIndex`` (Qdrant Edge, in-process, the embedded default) and
``QdrantServerIndex`` (qdrant-client against a Qdrant server or cluster, or ``:memory:`` in tests).
Fusion happens above this layer, so both backends only answer single-retriever queries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, Literal, NamedTuple, Protocol

import numpy as np

from core.models import Filters
from retrieval.bm25 import SparseVec

DENSE: Final = "dense"
SPARSE: Final = "bm25"
ENGLISH: Final = "dense_en"
"""The second (English) embedder's vectors: queried through ``PairedIndex``, which keeps them apart."""
PAYLOAD_KEYWORDS = ("kind", "entry_id", "doc_id", "category", "product", "lang", "source", "tags")
LIGHT_KEYS = ("unit_id", "entry_id", "doc_id", "kind", "source", "product")
"""Enough of a point's payload to group hits into candidates and rank them. A full payload carries the
answer or chunk text: fetching it for the ~130 hits of a query cost most of the search time (5.7 ms of
payload vs 0.3 ms of search on a 7,850-point knowledge base), so searches return these keys and only the
hits that are shown are fetched whole (``payloads``)."""


class IndexPoint(NamedTuple):
    unit_id: str
    dense: np.ndarray
    sparse: SparseVec
    payload: dict[str, Any]
    dense_en: np.ndarray | None = None
    """The English embedder's vector (English units, when there is a second embedder)."""


class IndexHit(NamedTuple):
    unit_id: str
    score: float
    payload: dict[str, Any]


class SearchQuery(NamedTuple):
    """One single-retriever query of a batch: ``using`` names the vector, ``kinds`` keeps only those units."""

    using: Literal["dense", "bm25", "dense_en"]
    vector: np.ndarray | SparseVec
    limit: int
    filters: Filters | None = None
    kinds: Sequence[str] | None = None

    def is_empty(self) -> bool:
        """A BM25 query without a known term: nothing to search (an empty list, not an error)."""
        return isinstance(self.vector, SparseVec) and not self.vector.indices


def filter_conditions(filters: Filters | None, kinds: Sequence[str] | None = None) -> list[tuple[str, list[str]]]:
    """(payload key, any of these values) conditions of a query, for either backend to build its filter."""
    conditions = filters.items() if filters is not None else []
    return [*conditions, ("kind", list(kinds))] if kinds else conditions


class VectorIndex(Protocol):
    """What retrieval needs from a vector store."""

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, unit_ids: Sequence[str]) -> None: ...

    def search_dense(self, vector: np.ndarray, limit: int, filters: Filters | None = None,
                     kinds: Sequence[str] | None = None) -> list[IndexHit]:
        """Nearest points; ``kinds`` keeps only units of those kinds (``question``, ``answer``, ``chunk``)."""
        ...

    def search_sparse(self, vector: SparseVec, limit: int, filters: Filters | None = None) -> list[IndexHit]: ...

    def search_batch(self, queries: Sequence[SearchQuery],
                     keys: Sequence[str] | None = LIGHT_KEYS) -> list[list[IndexHit]]:
        """Several queries in one call (one pass over the segments), with only ``keys`` of each payload
        (``None``: all of it)."""
        ...

    def payloads(self, unit_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Full payloads of these units (the missing ones left out)."""
        ...

    def entry_vectors(self, entry_id: str) -> list[tuple[dict[str, Any], np.ndarray]]:
        """(full payload, dense vector) of each phrasing (question unit) of an FAQ entry."""
        ...

    def phrasing_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        """(entry id, dense vector) of every phrasing (question unit) in the index, in pages (one scroll)."""
        ...

    def count(self) -> int: ...

    def warm(self) -> None:
        """Load what makes searches cheaper in a long-running process (the server's warm-up calls it)."""
        ...

    def unit_ids(self) -> set[str]: ...

    def clear(self) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
