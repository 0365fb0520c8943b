"""Grounded generation against a local OpenAI-compatible server; follow-up questions; streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from answering.calibration import SIGNALS, Calibration
from answering.records import Question
from core.settings import Settings
from service.knowledge_base import KnowledgeBase
from tests.api_client import client_for
from tests.fake_llm import ANSWER, FakeLLMServer

DOC = ("---\nid: doc-lock\ntitle: Lock guide\nlang: en\n---\n# Lock guide\n\n## Fingerprints\n\n"
       "You can enrol up to 100 fingerprints in the app. Each person should enrol two fingers.\n\n"
       "## Batteries\n\nThe lock uses four AA batteries that last eight months.\n")
FAQ = [{"id": "ship", "question": "How long does shipping take?", "answer": "3-5 days in the US.", "lang": "en"},
       {"id": "ship-intl", "question": "How long does shipping take for international orders?",
        "answer": "7-14 business days.", "lang": "en"}]

# Answer whenever the top fused score is positive: the decision logic is not the subject here.
ALWAYS = Calibration(coef=tuple(50.0 if s == "top" else 0.0 for s in SIGNALS), intercept=0.0,
                     answer_threshold=0.5)


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def open_kb(tmp_path: Path, llm: FakeLLMServer | None, timeout: float = 2.0, faq: bool = True) -> KnowledgeBase:
    settings = Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none",
                        llm_base_url=llm.base_url if llm else None,
                        llm_model="tiny", llm_timeout_s=timeout)
    kb = KnowledgeBase.open(settings)
    (tmp_path / "lock.md").write_text(DOC, encoding="utf-8")
    (tmp_path / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in FAQ), encoding="utf-8")
    kb.ingest([tmp_path / "lock.md", tmp_path / "faq.jsonl"] if faq else [tmp_path / "lock.md"])
    kb.calibration = ALWAYS
    return kb


def test_generated_answer_is_grounded_and_cited(tmp_path: Path, llm: FakeLLMServer) -> None:
    kb = open_kb(tmp_path, llm)
    r = kb.ask(Question(question="How many fingerprints can I enrol?"))
    assert r.decision == "answer" and r.answer_source == "llm"
    assert r.answer == ANSWER and r.citations[0].doc_id == "doc-lock"
    sent = llm.requests[-1]
    assert sent["model"] == "tiny" and sent["temperature"] == 0.0
    assert "ONLY the numbered context passages" in sent["messages"][0]["content"]
    assert "Reply in English" in sent["messages"][0]["content"]
    assert "[1] Lock guide: Lock guide > Fingerprints" in sent["messages"][1]["content"]
    kb.close()


def test_faq_answers_are_verbatim_without_the_llm(tmp_path: Path, llm: FakeLLMServer) -> None:
    kb = open_kb(tmp_path, llm)
    r = kb.ask(Question(question="How long does shipping take?"))
    assert (r.answer, r.answer_source) == ("3-5 days in the US.", "faq")
    assert llm.requests == []
    kb.close()


def test_refusal_when_context_lacks_the_answer(tmp_path: Path, llm: FakeLLMServer) -> None:
    kb = open_kb(tmp_path, llm, faq=False)
    r = kb.ask(Question(question="What batteries does the lock use?"))
    # the top passage is the battery section, which does not mention fingerprints: the fake LLM refuses
    assert "Batteries" in llm.requests[-1]["messages"][1]["content"].split("[2]")[0]
    assert r.decision == "handoff" and r.answer is None and r.citations == []
    kb.close()


def test_timeout_falls_back_to_the_extract(tmp_path: Path, llm: FakeLLMServer) -> None:
    kb = open_kb(tmp_path, llm, timeout=0.5)
    r = kb.ask(Question(question="fingerprints enrol slow"))
    assert r.decision == "answer" and r.answer_source == "extract"
    assert r.answer and "100 fingerprints" in r.answer
    kb.close()


def test_streaming_over_http(tmp_path: Path, llm: FakeLLMServer) -> None:
    kb = open_kb(tmp_path, llm)
    with client_for(kb) as client, client.stream(
        "POST", "/v1/ask/stream", json={"question": "How many fingerprints can I enrol?"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.split(": ", 1)[1] for line in response.iter_lines() if line.startswith("event: ")]
    assert events[0] == "meta" and events[-1] == "done" and events.count("delta") == len(ANSWER.split(" "))
    assert llm.requests[-1]["stream"] is True
    kb.close()


def test_streaming_without_llm_sends_the_extract(tmp_path: Path) -> None:
    kb = open_kb(tmp_path, None)
    events = list(kb.ask_stream(Question(question="How many fingerprints can I enrol?")))
    assert [e for e, _ in events] == ["meta", "delta", "done"]
    assert "100 fingerprints" in events[1][1]["text"]
    kb.close()


def test_follow_up_uses_the_previous_question(tmp_path: Path) -> None:
    kb = open_kb(tmp_path, None)
    first = kb.ask(Question(question="How long does shipping take?", session_id="s1"))
    assert first.citations[0].entry_id == "ship" and first.query is None
    follow = kb.ask(Question(question="and for international orders?", session_id="s1"))
    assert follow.query == "How long does shipping take? and for international orders?"
    assert follow.citations[0].entry_id == "ship-intl"
    alone = kb.ask(Question(question="and for international orders?", session_id="other"))
    assert alone.query is None
    kb.close()
