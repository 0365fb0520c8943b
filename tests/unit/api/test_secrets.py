"""Secrets and personal data stay in: not in eval reports, logs or error bodies; sources named relative to
the ingest root; the question masked before it leaves for an external LLM."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.errors import BackendError
from core.settings import Settings, redact_url
from core.store import Store
from tests.api_client import client_for

SECRETS = {"llm": "sk-LLMSECRET-123", "qdrant": "QDRANTSECRET-456", "db": "DBPASSWORD-789"}


def test_settings_secrets_are_secretstr_and_redacted() -> None:
    s = Settings(llm_api_key=SECRETS["llm"], qdrant_api_key=SECRETS["qdrant"],
                 database_url=f"postgresql+psycopg://kb:{SECRETS['db']}@db.internal:5432/kb")
    assert isinstance(s.llm_api_key, SecretStr) and isinstance(s.database_url, SecretStr)
    assert s.database() == f"postgresql+psycopg://kb:{SECRETS['db']}@db.internal:5432/kb"  # for the engine only
    text = json.dumps(s.redacted()) + repr(s) + str(s)
    assert not any(v in text for v in SECRETS.values())
    assert s.redacted()["database_url"] == "postgresql+psycopg://kb:***@db.internal:5432/kb"
    assert redact_url("sqlite:////tmp/kb.sqlite3") == "sqlite:////tmp/kb.sqlite3"


def test_eval_report_files_hold_no_secret(fake_kb: Any, tmp_path: Path) -> None:
    from eval.report import write_report
    from eval.run import evaluate, load_rows

    faq, ev = tmp_path / "faq.jsonl", tmp_path / "eval.jsonl"
    faq.write_text(json.dumps({"id": "pw", "question": "How do I reset my password?", "answer": "Tap Forgot."}),
                   encoding="utf-8")
    ev.write_text(json.dumps({"question": "reset password", "gold_ids": ["pw"], "split": "test"}), encoding="utf-8")
    fake_kb.ingest([faq])
    fake_kb.settings = fake_kb.settings.model_copy(update={
        "llm_api_key": SecretStr(SECRETS["llm"]), "qdrant_api_key": SecretStr(SECRETS["qdrant"]),
        "database_url": SecretStr(f"postgresql+psycopg://kb:{SECRETS['db']}@db.internal/kb")})
    result = evaluate(fake_kb, load_rows(ev), ev)
    paths = write_report(result, tmp_path / "report")
    assert {p.suffix for p in paths} >= {".json", ".md", ".html"}
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not any(v in text for v in SECRETS.values()), path
    settings = json.loads((tmp_path / "report" / "report.json").read_text())["provenance"]["settings"]
    assert settings["llm_api_key"] == "**********" and "admin_token" not in settings


def test_database_errors_do_not_show_the_password(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(BackendError) as err:
        Store(f"postgresql+psycopg://kb:{SECRETS['db']}@127.0.0.1:1/kb")
    assert SECRETS["db"] not in str(err.value) and SECRETS["db"] not in caplog.text


def test_logs_and_error_bodies_of_a_serving_app_hold_no_secret(fake_kb: Any, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    fake_kb.settings = fake_kb.settings.model_copy(update={"llm_api_key": SecretStr(SECRETS["llm"])})
    with caplog.at_level(logging.DEBUG), client_for(fake_kb) as client:
        bodies = [client.post("/v1/ask", json={"question": "x" * 3000}).text,
                  client.post("/v1/search", json={"query": "   "}).text,
                  client.get("/v1/entries/nope").text,
                  client.get("/v1/stats").text]
    assert not any(SECRETS["llm"] in b for b in bodies)
    assert SECRETS["llm"] not in caplog.text


def test_sources_are_named_relative_to_the_ingest_root(fake_kb: Any, tmp_path: Path) -> None:
    docs = tmp_path / "corpus" / "docs"
    docs.mkdir(parents=True)
    (docs / "returns.md").write_text("# Returns\n\nYou can return items within 30 days of delivery.\n",
                                     encoding="utf-8")
    fake_kb.ingest([docs])
    settings = fake_kb.settings.model_copy(update={"source_root": tmp_path / "corpus"})
    with client_for(fake_kb, settings=settings) as client:
        hit = client.post("/v1/search", json={"query": "return items"}).json()["hits"][0]
        assert hit["source"] == "docs/returns.md"
        filtered = client.post("/v1/search", json={"query": "return items",
                                                   "filters": {"source": "docs/returns.md"}}).json()["hits"]
        assert [h["source"] for h in filtered] == ["docs/returns.md"]
    elsewhere = fake_kb.settings.model_copy(update={"source_root": tmp_path / "other"})
    with client_for(fake_kb, settings=elsewhere) as client:
        hit = client.post("/v1/search", json={"query": "return items"}).json()["hits"][0]
        assert hit["source"] == "docs/returns.md" and str(tmp_path) not in json.dumps(hit)


def test_the_question_is_masked_before_it_reaches_the_llm() -> None:
    from answering.generate import OpenAIGenerator, Passage
    from tests.fake_llm import FakeLLMServer

    question = "I am jane.doe@example.com, 13812345678: how many fingerprints can I enrol?"
    passages = [Passage(text="You can enrol up to 100 fingerprints in the app.", title="Lock guide")]
    with FakeLLMServer() as llm:
        generator = OpenAIGenerator(llm.base_url, "tiny", None, 5.0)
        generator.generate(question, passages, "en")
        list(generator.stream(question, passages, "en"))
        sent = [json.dumps(r, ensure_ascii=False) for r in llm.requests]
    assert len(sent) == 2
    for body in sent:
        assert "13812345678" not in body and "jane.doe@example.com" not in body
        assert "[PHONE]" in body and "[EMAIL]" in body and "fingerprints can I enrol" in body
