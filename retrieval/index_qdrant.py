"""qdrant-client backend: a Qdrant server or cluster (``KB_QDRANT_URL``), or ``:memory:`` in tests.

The scale-out path: stateless API replicas share one distributed collection. Same points, same
payload and the same sparse IDF modifier as the Edge backend, so both rank identically (tested)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from core.errors import BackendError
from core.ids import point_uuid
from core.models import Filters
from retrieval.bm25 import SparseVec
from retrieval.index import (
    DENSE,
    LIGHT_KEYS,
    PAYLOAD_KEYWORDS,
    SPARSE,
    IndexHit,
    IndexPoint,
    SearchQuery,
    filter_conditions,
)


def client_filter(filters: Filters | None, kinds: Sequence[str] | None = None) -> models.Filter | None:
    conditions = filter_conditions(filters, kinds)
    if not conditions:
        return None
    must: list[Any] = [models.FieldCondition(key=name, match=models.MatchAny(any=values))
                       for name, values in conditions]
    return models.Filter(must=must)


class QdrantServerIndex:
    def __init__(self, client: QdrantClient, collection: str, dim: int) -> None:
        self._client = client
        self._collection = collection
        self._dim = dim
        self._ensure_collection()

    @classmethod
    def connect(cls, url: str, collection: str, dim: int, api_key: str | None = None) -> QdrantServerIndex:
        client = QdrantClient(location=url) if url == ":memory:" else QdrantClient(url=url, api_key=api_key)
        return cls(client, collection, dim)

    def sibling(self, collection: str, dim: int) -> QdrantServerIndex:
        """Another collection on the same client (the English embedder's index)."""
        return QdrantServerIndex(self._client, collection, dim)

    def _ensure_collection(self) -> None:
        try:
            if self._client.collection_exists(self._collection):
                info = self._client.get_collection(self._collection)
                vectors = info.config.params.vectors
                size = vectors[DENSE].size if isinstance(vectors, dict) else None
                if size != self._dim:
                    raise BackendError(
                        f"collection {self._collection!r} has dense size {size}, expected {self._dim}"
                    )
                return
            self._client.create_collection(
                self._collection,
                vectors_config={DENSE: models.VectorParams(size=self._dim, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
            for key in PAYLOAD_KEYWORDS:
                self._client.create_payload_index(self._collection, key, models.PayloadSchemaType.KEYWORD)
        except BackendError:
            raise
        except Exception as exc:  # network and server errors of every kind
            raise BackendError(f"Qdrant at collection {self._collection!r}: {exc}") from exc

    def upsert(self, points: Sequence[IndexPoint]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(
                id=point_uuid(p.unit_id),
                vector={
                    DENSE: np.asarray(p.dense, dtype=np.float32).tolist(),
                    SPARSE: models.SparseVector(indices=list(p.sparse.indices), values=list(p.sparse.values)),
                },
                payload=p.payload,
            )
            for p in points
        ]
        self._client.upsert(self._collection, points=structs, wait=True)

    def delete(self, unit_ids: Sequence[str]) -> None:
        if unit_ids:
            self._client.delete(
                self._collection, points_selector=models.PointIdsList(points=[point_uuid(u) for u in unit_ids])
            )

    def _query(self, query: Any, using: str, limit: int, filters: Filters | None,
               kinds: Sequence[str] | None = None) -> list[IndexHit]:
        response = self._client.query_points(
            self._collection, query=query, using=using, query_filter=client_filter(filters, kinds),
            limit=limit, with_payload=True,
        )
        return [
            IndexHit(str(p.payload["unit_id"]), float(p.score), dict(p.payload)) for p in response.points if p.payload
        ]

    def search_dense(self, vector: np.ndarray, limit: int, filters: Filters | None = None,
                     kinds: Sequence[str] | None = None) -> list[IndexHit]:
        return self._query(np.asarray(vector, dtype=np.float32).tolist(), DENSE, limit, filters, kinds)

    def search_sparse(self, vector: SparseVec, limit: int, filters: Filters | None = None) -> list[IndexHit]:
        if not vector.indices:
            return []
        query = models.SparseVector(indices=list(vector.indices), values=list(vector.values))
        return self._query(query, SPARSE, limit, filters)

    def search_batch(self, queries: Sequence[SearchQuery],
                     keys: Sequence[str] | None = LIGHT_KEYS) -> list[list[IndexHit]]:
        selector: Any = list(keys) if keys is not None else True
        run = [i for i, q in enumerate(queries) if not q.is_empty()]
        requests = []
        for i in run:
            q = queries[i]
            vector: Any = (models.SparseVector(indices=list(q.vector.indices), values=list(q.vector.values))
                           if isinstance(q.vector, SparseVec) else np.asarray(q.vector, dtype=np.float32).tolist())
            requests.append(models.QueryRequest(query=vector, using=q.using, filter=client_filter(q.filters, q.kinds),
                                                limit=q.limit, with_payload=selector))
        responses = self._client.query_batch_points(self._collection, requests=requests) if requests else []
        out: list[list[IndexHit]] = [[] for _ in queries]
        for i, response in zip(run, responses, strict=True):
            out[i] = [IndexHit(str(p.payload["unit_id"]), float(p.score), dict(p.payload))
                      for p in response.points if p.payload]
        return out

    def payloads(self, unit_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not unit_ids:
            return {}
        records = self._client.retrieve(self._collection, ids=[point_uuid(u) for u in unit_ids], with_payload=True,
                                        with_vectors=False)
        return {str(r.payload["unit_id"]): dict(r.payload) for r in records if r.payload}

    def entry_vectors(self, entry_id: str) -> list[tuple[dict[str, Any], np.ndarray]]:
        must: list[Any] = [models.FieldCondition(key="entry_id", match=models.MatchAny(any=[entry_id])),
                           models.FieldCondition(key="kind", match=models.MatchAny(any=["question"]))]
        out: list[tuple[dict[str, Any], np.ndarray]] = []
        offset: Any = None
        while True:
            records, offset = self._client.scroll(self._collection, scroll_filter=models.Filter(must=must),
                                                  offset=offset, limit=256, with_payload=True, with_vectors=[DENSE])
            for r in records:
                vector = r.vector.get(DENSE) if isinstance(r.vector, dict) else None
                if r.payload and vector is not None:
                    out.append((dict(r.payload), np.asarray(vector, dtype=np.float32)))
            if offset is None or not records:
                return out

    def phrasing_vectors(self) -> Iterator[tuple[str, np.ndarray]]:
        question = models.Filter(must=[models.FieldCondition(key="kind", match=models.MatchAny(any=["question"]))])
        offset: Any = None
        while True:
            records, offset = self._client.scroll(self._collection, scroll_filter=question, offset=offset,
                                                  limit=1000, with_payload=["entry_id"], with_vectors=[DENSE])
            for r in records:
                vector = r.vector.get(DENSE) if isinstance(r.vector, dict) else None
                if r.payload and r.payload.get("entry_id") and vector is not None:
                    yield str(r.payload["entry_id"]), np.asarray(vector, dtype=np.float32)
            if offset is None or not records:
                return

    def count(self) -> int:
        return int(self._client.count(self._collection, exact=True).count)

    def warm(self) -> None:
        """Nothing to load: the server's payloads travel with its answers."""

    def unit_ids(self) -> set[str]:
        ids: set[str] = set()
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self._collection, offset=offset, limit=1000, with_payload=["unit_id"], with_vectors=False
            )
            ids.update(str(r.payload["unit_id"]) for r in records if r.payload)
            if offset is None:
                return ids

    def clear(self) -> None:
        self._client.delete_collection(self._collection)
        self._ensure_collection()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()
