"""Which English embedder the settings build (nothing is loaded: the model is built lazily at warm-up)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings
from retrieval.embed import FakeEmbedder, build_english_embedder
from retrieval.embed_english import MiniLMEmbedder


@pytest.mark.parametrize(("choice", "model_id", "graph"), [
    ("minilm", "sentence-transformers/all-MiniLM-L6-v2@onnx", "all-MiniLM-L6-v2.onnx"),
    ("minilm-int8", "sentence-transformers/all-MiniLM-L6-v2@onnx-int8", "all-MiniLM-L6-v2.int8.onnx"),
])
def test_minilm_choices_name_their_graph_and_model_id(tmp_path: Path, choice: str, model_id: str,
                                                     graph: str) -> None:
    built = build_english_embedder(Settings(home=tmp_path, model_cache=tmp_path / "models",
                                            english_embedder=choice))  # type: ignore[arg-type]
    assert isinstance(built, MiniLMEmbedder)
    # the model id goes into the index manifest: switching graphs is a reindex, never a silent mix of vectors
    assert built.model_id == model_id
    assert built.onnx_path == tmp_path / "models" / graph
    assert built.float_path == tmp_path / "models" / "all-MiniLM-L6-v2.onnx"


def test_other_choices(tmp_path: Path) -> None:
    assert build_english_embedder(Settings(home=tmp_path, english_embedder="none")) is None
    assert isinstance(build_english_embedder(Settings(home=tmp_path, english_embedder="fake")), FakeEmbedder)
    with pytest.raises(ValidationError):
        Settings(home=tmp_path, english_embedder="minilm-int4")  # type: ignore[arg-type]
