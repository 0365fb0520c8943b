"""Equal scores at a list's cut are decided by unit id, not by the engine's internal layout (which differs
between two builds of one knowledge base and between replicas)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from retrieval.bm25 import BM25Params, doc_sparse
from retrieval.embed import FakeEmbedder
from retrieval.fusion import default_fusion
from retrieval.index import IndexPoint
from retrieval.index_edge import EdgeIndex
from retrieval.searcher import HybridSearcher
from retrieval.tokenize import Tokenizer, TokenizerConfig


def _bm25_list(tmp_path: Path, order: list[int]) -> list[str]:
    tokenizer = Tokenizer(TokenizerConfig())
    embedder = FakeEmbedder(16)
    index = EdgeIndex(tmp_path, 16)
    # twelve units with the same text: every one has the same BM25 score for the query
    sparse = doc_sparse(tokenizer.tokenize("refund policy"), 2.0, BM25Params())
    rng = np.random.default_rng(0)
    for i in order:  # inserted in the given order, one at a time
        index.upsert([IndexPoint(f"u{i:02d}", rng.normal(size=16).astype(np.float32), sparse,
                                 {"unit_id": f"u{i:02d}", "kind": "question", "entry_id": f"e{i:02d}"})])
    searcher = HybridSearcher(embedder, tokenizer, index, default_fusion(), candidates=4, passages=0)
    hits = searcher.hits("refund", embedder.embed_queries(["refund"])[0])
    index.close()
    return [h.unit_id for h in hits.bm25]


def test_ties_at_the_cut_are_kept_in_unit_id_order(tmp_path: Path) -> None:
    forward = _bm25_list(tmp_path / "a", list(range(12)))
    shuffled = list(range(12))
    random.Random(1).shuffle(shuffled)
    backward = _bm25_list(tmp_path / "b", shuffled[::-1])
    assert forward == backward == ["u00", "u01", "u02", "u03"]
