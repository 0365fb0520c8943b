from __future__ import annotations

import pytest

from core.errors import IndexMismatch
from core.ids import content_hash, normalize_for_hash, point_uuid
from core.manifest import Manifest
from core.models import Filters, Unit
from core.settings import Settings
from core.text import detect_lang


def test_normalize_for_hash_ignores_cosmetics() -> None:
    assert normalize_for_hash("  Ｈｅｌｌｏ\n  World ") == "hello world"
    assert content_hash("Hello  world") == content_hash("hello world")
    assert content_hash("a", "b") != content_hash("ab")


def test_point_uuid_is_stable_uuid5() -> None:
    assert point_uuid("faq-1:q:abc") == point_uuid("faq-1:q:abc")
    assert point_uuid("x") != point_uuid("y")
    assert point_uuid("x")[14] == "5"  # version nibble


def test_filters_accept_scalars_and_lists() -> None:
    f = Filters(lang="zh", tags=["wifi", "setup"])  # type: ignore[arg-type]  # a scalar is accepted
    assert f.items() == [("lang", ["zh"]), ("tags", ["wifi", "setup"])]
    assert Filters().is_empty()


def test_unit_payload_round_trip() -> None:
    u = Unit(id="e1:q:1", kind="question", text="退货", entry_id="e1", tags=("a",), metadata={"answer": "x"})
    payload = u.payload()
    assert payload["unit_id"] == "e1:q:1" and payload["tags"] == ["a"]
    assert Unit.from_payload(payload) == u


def test_manifest_mismatch_names_every_difference() -> None:
    a = Manifest(embedding_model="m1", dim=384, tokenizer="t", bm25_k1=1.2, bm25_b=0.75, chunker_version="1")
    b = a.model_copy(update={"embedding_model": "m2", "dim": 64})
    a.check_against(a)
    with pytest.raises(IndexMismatch) as err:
        b.check_against(a)
    msg = str(err.value)
    assert "embedding_model: index has 'm1', configured 'm2'" in msg
    assert "dim: index has 384, configured 64" in msg
    assert "kb reindex" in msg


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    monkeypatch.setenv("KB_TOP_K", "7")
    s = Settings()
    assert s.home == tmp_path and s.top_k == 7
    assert s.database() == f"sqlite:///{(tmp_path / 'kb.sqlite3').resolve()}"
    assert Settings(database_url="postgresql://u@h/db").database() == "postgresql://u@h/db"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "lang"),
    [("退货要多久", "zh"), ("How do I reset my password?", "en"), ("我的hub x2连不上wifi", "zh"), ("", "en")],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang
