"""The index interface: one point per unit, holding a dense vector and a BM25 sparse vector.

Two backends implement it: ``EdgeIndex`` (Qdrant Edge, in-process, the embedded default) and
``QdrantServerIndex`` (qdrant-client against a Qdrant server or cluster, or ``:memory:`` in tests).
Fusion happens above this layer, so both backends only answer single-retriever queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from core.models import Filters
from retrieval.bm25 import SparseVec

DENSE = "dense"
SPARSE = "bm25"
PAYLOAD_KEYWORDS = ("kind", "entry_id", "doc_id", "category", "product", "lang", "source", "tags")


class IndexPoint(NamedTuple):
    unit_id: str
    dense: np.ndarray
    sparse: SparseVec
    payload: dict[str, Any]


class IndexHit(NamedTuple):
    unit_id: str
    score: float
    payload: dict[str, Any]


class VectorIndex(Protocol):
    """What retrieval needs from a vector store."""

    def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    def delete(self, unit_ids: Sequence[str]) -> None: ...

    def search_dense(self, vector: np.ndarray, limit: int, filters: Filters | None = None) -> list[IndexHit]: ...

    def search_sparse(self, vector: SparseVec, limit: int, filters: Filters | None = None) -> list[IndexHit]: ...

    def count(self) -> int: ...

    def unit_ids(self) -> set[str]: ...

    def clear(self) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
