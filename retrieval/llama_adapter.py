"""A llama-index retriever over our hybrid search, so llama-index apps (query engines, agents) can use
this knowledge base. llama-index is imported only when the adapter is built."""

from __future__ import annotations

from typing import Any

from core.models import Filters
from retrieval.searcher import HybridSearcher


def make_llama_retriever(searcher: HybridSearcher, top_k: int = 5, filters: Filters | None = None) -> Any:
    """A ``llama_index.core.retrievers.BaseRetriever`` returning ``NodeWithScore`` for our hits."""
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    class SupportKBRetriever(BaseRetriever):  # type: ignore[misc]
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            hits = searcher.search(query_bundle.query_str, top_k=top_k, filters=filters)
            nodes = []
            for h in hits:
                text = f"{h.question}\n{h.text}" if h.question else h.text
                meta = {"entry_id": h.entry_id, "doc_id": h.doc_id, "source": h.source, "title": h.title,
                        "section": h.section}
                nodes.append(NodeWithScore(node=TextNode(id_=h.chunk_id, text=text,
                                                         metadata={k: v for k, v in meta.items() if v}),
                                           score=h.score))
            return nodes

    return SupportKBRetriever()
