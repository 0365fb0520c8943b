"""The heavy parts of a knowledge base built from its settings: the index backend (Qdrant Edge in-process or a
Qdrant server; the English embedder's index beside it), the stored or packaged fusion and calibration, the
trained classifiers, the tokenizer's user dictionary. ``KnowledgeBase.open`` wires them together."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import SecretStr

from answering.calibration import Calibration, default_calibration
from core.errors import BadInput
from core.meta_keys import MetaKey
from core.settings import Settings
from core.store import Store
from retrieval.fusion import FusionModel, default_fusion, fusion_from_dict
from retrieval.index import VectorIndex
from triage.classifier import TextClassifier

USER_DICT_NAME = "userdict.txt"


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def load_model(folder: Path) -> TextClassifier | None:
    return TextClassifier.load(folder) if (folder / "model.joblib").is_file() else None


def open_index(settings: Settings, dim: int) -> VectorIndex:
    if settings.qdrant_url:
        from retrieval.index_qdrant import QdrantServerIndex

        return QdrantServerIndex.connect(settings.qdrant_url, settings.collection, dim,
                                           secret(settings.qdrant_api_key))
    from retrieval.index_edge import EdgeIndex

    return EdgeIndex(settings.index_dir, dim)


def open_english_index(settings: Settings, dim: int, main: VectorIndex) -> VectorIndex:
    """The English embedder's index beside ``main``: a second collection on the same Qdrant client, or a second
    Edge shard under home."""
    from retrieval.index_qdrant import QdrantServerIndex

    if isinstance(main, QdrantServerIndex):
        return main.sibling(f"{settings.collection}_en", dim)
    from retrieval.index_edge import EdgeIndex

    return EdgeIndex(settings.english_index_dir, dim)


def stored_models(store: Store) -> tuple[FusionModel, Calibration | None]:
    """The fusion model and calibration stored in the record, else the package defaults."""
    fusion_data = store.meta.get(MetaKey.fusion)
    calibration_data = store.meta.get(MetaKey.calibration)
    return (fusion_from_dict(fusion_data) if fusion_data else default_fusion(),
            Calibration.model_validate(calibration_data) if calibration_data else default_calibration())


def install_user_dict(settings: Settings) -> None:
    """Copy the configured jieba user dictionary into the knowledge base's own config."""
    if settings.user_dict is None:
        return
    if not settings.user_dict.is_file():
        raise BadInput(f"user dictionary not found: {settings.user_dict}")
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.user_dict, settings.config_dir / USER_DICT_NAME)
