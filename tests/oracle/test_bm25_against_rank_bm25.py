"""Oracle: our BM25 (pure scorer and the Qdrant Edge index) against independent implementations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe
from rank_bm25 import BM25Okapi

from retrieval.bm25 import BM25Params, BM25Scorer, doc_sparse, idf, query_sparse
from retrieval.tokenize import Tokenizer, TokenizerConfig

CORPUS = [
    "退货需要多长时间？收到退货后3个工作日内退款。",
    "七天无理由退货怎么申请？在订单详情页点击申请售后，选择退货原因。",
    "退款多久到账？原路退回，银行卡一般3-5个工作日到账。",
    "Hub X2 连不上 Wi-Fi 怎么办？请确认路由器是2.4GHz频段，并靠近路由器。",
    "扫地机器人充不上电怎么办？请清洁充电触点并检查电源适配器。",
    "怎么开发票？在订单详情页申请电子发票，支持增值税专用发票。",
    "发票抬头填错了可以修改吗？开票后30天内可以申请换开一次。",
    "门锁电池没电了怎么开门？使用应急钥匙或USB-C应急供电口。",
    "How long do refunds take? Refunds reach your card within 3-5 business days.",
    "My camera will not connect to Wi-Fi. Use a 2.4 GHz network and move closer to the router.",
    "How do I reset my password? Tap Forgot password on the login screen and follow the email.",
    "Do you ship internationally? We ship to 30 countries; delivery takes 7 to 14 days.",
    "What does the warranty cover? One year for manufacturing defects, two years for smart locks.",
    "How do I turn on two-factor authentication? Open Settings, Security, then 2FA.",
    "Can I change my delivery address after ordering? Yes, before the order ships.",
    "The RoboClean V9 keeps getting stuck under the sofa. Set a no-go zone in the app.",
    "Why is the AirSense P1 reading so high? Keep it away from the kitchen and windows.",
    "How much does Nest+ membership cost? 99 CNY per year with 30 days of cloud video.",
    "会员到期后云存储的视频还在吗？到期后保留7天，续费后恢复。",
    "摄像头夜视模糊怎么办？擦拭镜头并关闭红外补光旁的强光源。",
    "Refund for international orders takes longer: 7-10 business days after we receive the item.",
    "智能门锁可以添加多少个指纹？最多100个指纹，在云栖App中添加。",
    "Where is my order? Track it under Orders in the app with your order number.",
    "订单什么时候发货？现货订单48小时内发货，预售商品按页面时间发货。",
]
QUERIES = ["退款多久到账", "退货", "wifi 连不上", "refund international order", "reset password email",
           "发票 修改", "warranty lock", "门锁 指纹", "cloud video membership", "发货时间", "robot stuck sofa",
           "2.4GHz router"]


@pytest.fixture(scope="module")
def tokenized() -> tuple[list[list[str]], list[list[str]]]:
    tok = Tokenizer(TokenizerConfig())
    return [tok.tokenize(t) for t in CORPUS], [tok.tokenize(q) for q in QUERIES]


class LuceneIdfOkapi(BM25Okapi):  # type: ignore[misc]
    """rank-bm25's Okapi scoring with Lucene's (and Qdrant's) IDF, ln(1 + (N - n + 0.5) / (n + 0.5)).

    BM25Okapi's own IDF, ln((N - n + 0.5) / (n + 0.5)), goes negative for terms in more than half of
    the documents and is then floored at epsilon * mean IDF; the Lucene form never does, and it is the
    one Qdrant applies. Everything else (k1, b, length normalisation, tf saturation) is rank-bm25's."""

    def _calc_idf(self, nd: dict[str, int]) -> None:
        self.idf = {word: math.log(1.0 + (self.corpus_size - freq + 0.5) / (freq + 0.5)) for word, freq in nd.items()}


def test_idf_formula() -> None:
    assert idf(10, 1) == pytest.approx(math.log(1 + 9.5 / 1.5))
    assert idf(10, 10) > 0


def test_doc_and_query_vectors_by_hand() -> None:
    # tokens [a, a, b], avgdl 2, k1 1.2, b 0.75: norm = 1.2 * (0.25 + 0.75 * 3 / 2) = 1.65
    vec = dict(zip(*doc_sparse(["a", "a", "b"], 2.0, BM25Params()), strict=True))
    from retrieval.bm25 import term_index

    assert vec[term_index("a")] == pytest.approx(2 * 2.2 / (2 + 1.65))
    assert vec[term_index("b")] == pytest.approx(1 * 2.2 / (1 + 1.65))
    q = dict(zip(*query_sparse(["a", "b", "a"]), strict=True))
    assert q == {term_index("a"): 2.0, term_index("b"): 1.0}


def test_scores_equal_rank_bm25(tokenized: tuple[list[list[str]], list[list[str]]]) -> None:
    docs, queries = tokenized
    ours = BM25Scorer(docs, BM25Params(k1=1.2, b=0.75))
    oracle = LuceneIdfOkapi(docs, k1=1.2, b=0.75)
    for q in queries:
        expected = oracle.get_scores(q)
        got = ours.scores(q)
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-12), q
        assert list(np.argsort(-got, kind="stable")[:5]) == list(np.argsort(-expected, kind="stable")[:5])


def test_scores_match_bm25s_lucene(tokenized: tuple[list[list[str]], list[list[str]]]) -> None:
    bm25s = pytest.importorskip("bm25s")
    docs, queries = tokenized
    ours = BM25Scorer(docs)
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    vocab = {t: i for i, t in enumerate(sorted({t for d in docs for t in d}))}
    retriever.index(bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in d] for d in docs], vocab=vocab),
                    show_progress=False)
    for q in queries:
        known = [t for t in q if t in vocab]
        if not known:
            continue
        theirs = retriever.get_scores(known)
        # bm25s (Lucene) drops the constant (k1 + 1) factor; like us it sums over repeated query terms.
        mine = ours.scores(known) / (1.2 + 1.0)
        assert np.allclose(mine, theirs, rtol=1e-5, atol=1e-5), q


def test_qdrant_edge_index_computes_the_same_scores(tokenized: tuple[list[list[str]], list[list[str]]],
                                                    tmp_path: Path) -> None:
    docs, queries = tokenized
    scorer = BM25Scorer(docs)
    shard = qe.EdgeShard.create(str(tmp_path / "bm25"), qe.EdgeConfig(
        sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}))
    points = []
    for i, d in enumerate(docs):
        sv = doc_sparse(d, scorer.avgdl)
        points.append(qe.Point(id=i, vector={"bm25": qe.SparseVector(indices=sv.indices, values=sv.values)},
                               payload={}))
    shard.update(qe.UpdateOperation.upsert_points(points))
    for q in queries:
        qs = query_sparse(q)
        res = shard.query(qe.QueryRequest(
            limit=5, query=qe.Query.Nearest(qe.SparseVector(indices=qs.indices, values=qs.values), using="bm25")))
        expected = scorer.top_k(q, 5)
        assert [int(p.id) for p in res] == [i for i, _ in expected], q
        assert np.allclose([p.score for p in res], [s for _, s in expected], rtol=1e-4), q
    shard.close()
