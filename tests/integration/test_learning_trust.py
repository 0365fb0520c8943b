"""Learning that one caller cannot poison (issue 12): votes need a request the server issued, one per request;
a chatbot confirms only what it was offered; demotion and automatic promotion count distinct callers; sessions
belong to their key, are masked and bounded; asks, feedback and sessions are purged past retention."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from answering.calibration import SIGNALS, Calibration
from core.caller import Role
from core.settings import Settings
from core.store import AskRow, FeedbackRow, SessionRow
from service.knowledge_base import KnowledgeBase
from tests.api_client import client_for
from tests.postgres import fresh_schema

FAQ = [{"id": "pw", "question": "How do I reset my password?", "answer": "Tap Forgot password.", "lang": "en"},
       {"id": "ship", "question": "Do you ship to Canada?", "answer": "Yes, 7-14 days.", "lang": "en"},
       *({"id": f"faq-{i}", "question": q, "answer": f"Answer {i}.", "lang": "en"} for i, q in enumerate([
           "Which payment cards do you accept?", "How long does a refund take?", "Can I change my delivery address?",
           "Do you sell gift cards?", "How do I delete my account?", "Where is my order?"]))]
WRONG = "How do I reset my passport?"
PAYPAL = "We accept PayPal at checkout: choose PayPal as the payment method and log in to confirm."


def _kb(tmp_path: Path, intercept: float = -20.0, **settings: Any) -> KnowledgeBase:
    faq = tmp_path / "faq.jsonl"
    faq.write_text("\n".join(json.dumps(r) for r in FAQ), encoding="utf-8")
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none", **settings))
    kb.ingest([faq])
    kb.calibration = Calibration.model_validate({
        "coef": tuple(30.0 if s == "dense_q" else 0.0 for s in SIGNALS),
        "intercept": intercept, "answer_threshold": 0.5})  # loose: the passport question gets the password answer
    return kb


@pytest.fixture(params=["sqlite", "postgres"])
def kb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeBase]:
    """The same rules on the default SQLite record and on Postgres (a fresh schema; skipped where none answers)."""
    with ExitStack() as stack:
        url = stack.enter_context(fresh_schema()) if request.param == "postgres" else None
        service = _kb(tmp_path, demote_after=3, demote_similarity=0.85, database_url=url)
        yield service
        service.close()


def _ask(client: TestClient, question: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/ask", json={"question": question, **extra})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _vote(client: TestClient, feedback_id: str, request_id: str, helpful: bool = False, **extra: Any) -> Any:
    return client.post("/v1/feedback", json={"feedback_id": feedback_id, "request_id": request_id,
                                             "helpful": helpful, **extra})


def test_one_key_cannot_demote_an_entry_alone_three_keys_can(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot, key_id="bot-1") as one:
        for i in range(3):  # three asks, three votes under fresh ids, all from one key
            ask = _ask(one, WRONG)
            assert ask["decision"] == "answer" and ask["citations"][0]["entry_id"] == "pw"
            assert _vote(one, f"one-{i}", ask["request_id"]).json()["outcome"] == "recorded"
        assert kb.store.learning.demotions() == []
        assert kb.store.entries.state("pw").status == "live"  # type: ignore[union-attr]
        assert _ask(one, WRONG)["citations"][0]["entry_id"] == "pw"
    outcomes = []
    for key in ("bot-2", "bot-3"):
        with client_for(kb, Role.chatbot, key_id=key) as other:
            outcomes.append(_vote(other, f"{key}-v", _ask(other, WRONG)["request_id"]).json()["outcome"])
    assert outcomes[0] == "recorded" and outcomes[1].startswith("demoted pw for 5 similar questions")
    assert kb.store.entries.state("pw").status == "flagged"  # type: ignore[union-attr]
    with client_for(kb, Role.chatbot) as client:
        after = _ask(client, WRONG)
        assert after["decision"] != "answer" or after["citations"][0]["entry_id"] != "pw"


def test_one_vote_per_request_whatever_the_feedback_id(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot, key_id="bot-1") as client:
        ask = _ask(client, WRONG)
        first = _vote(client, "f1", ask["request_id"]).json()
        assert first["status"] == "recorded"
        for fresh in ("f2", "f3"):
            again = _vote(client, fresh, ask["request_id"], helpful=True).json()
            assert again == {"feedback_id": fresh, "status": "duplicate", "outcome": first["outcome"]}
    assert kb.store.learning.get_feedback("f2") is None


def test_feedback_must_name_a_request_the_server_issued(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot) as client:
        r = _vote(client, "f1", "0123456789abcdef0123456789abcdef", helpful=True, entry_id="pw")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert kb.store.learning.get_feedback("f1") is None and kb.store.entries.units("pw") == kb.store.entries.units("pw")


def test_a_chatbot_may_only_confirm_an_entry_it_was_offered(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot) as bot, client_for(kb, Role.agent) as agent:
        ask = _ask(bot, "reset password please")
        offered = {c["entry_id"] for c in ask["citations"]} | {r["entry_id"] for r in ask["related"]}
        other = next(f["id"] for f in FAQ if f["id"] not in offered)
        r = _vote(bot, "f1", ask["request_id"], helpful=True, entry_id=other)
        assert r.status_code == 400 and "not cited or offered" in r.json()["message"]
        assert [u for u in kb.store.entries.units(other) if u.source == "learned"] == []
        # an agent may pick any entry; the text learned is the ask log's question, never the feedback's text
        picked = _vote(agent, "f2", ask["request_id"], helpful=False, entry_id=other,
                       comment="wrong one, call me on 13812345678").json()
        assert picked["outcome"] == f"learned phrasing for {other}"
        again = _ask(bot, "How do I reset my password?")
        assert _vote(bot, "f3", again["request_id"], helpful=True, entry_id="pw").status_code == 200  # cited
    assert [u.text for u in kb.store.entries.units(other) if u.source == "learned"] == ["reset password please"]
    stored = kb.store.learning.get_feedback("f2")
    assert stored is not None and stored.caller_key == "test-agent"
    assert stored.comment == "wrong one, call me on [PHONE]"


def test_one_key_cannot_auto_promote_a_candidate_alone(tmp_path: Path) -> None:
    kb = _kb(tmp_path, intercept=-29.0, promote_policy="auto", promote_min_resolutions=3)
    try:
        with client_for(kb, Role.agent, key_id="agent-1") as one:
            for i in range(3):
                r = one.post("/v1/resolutions", json={"resolution_id": f"one-{i}", "answer": PAYPAL,
                                                      "questions": [f"can I pay with paypal {i}?"]}).json()
                assert r["outcome"] == "candidate"
            assert r["count"] == 3
        for key in ("agent-2", "agent-3"):
            with client_for(kb, Role.agent, key_id=key) as other:
                r = other.post("/v1/resolutions", json={"resolution_id": key, "answer": PAYPAL,
                                                        "questions": ["paypal accepted?"]}).json()
        assert r["outcome"] == "promoted" and r["entry_id"]
        assert [c.status for c in kb.store.learning.candidates()] == ["approved"]
    finally:
        kb.close()


def test_sessions_belong_to_their_key_and_stay_bounded_and_masked(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot, key_id="bot-a") as a, client_for(kb, Role.chatbot, key_id="bot-b") as b:
        _ask(a, "How do I reset my password? my number is 13812345678", session_id="s1")
        assert _ask(a, "and on the app?", session_id="s1")["query"].startswith("How do I reset my password?")
        assert _ask(b, "and on the app?", session_id="s1")["query"] is None  # another key: a fresh session
        for i in range(60):  # a long conversation of follow-ups never makes the query too long
            _ask(a, "and also " + "then " * 300 + str(i), session_id="s1")
    rows = {r.id: r.last_question for r in _sessions(kb)}
    text = next(v for k, v in rows.items() if k.endswith("s1") and "bot-a" in k)
    assert len(text) <= kb.settings.session_max_chars and "13812345678" not in text


def _sessions(kb: KnowledgeBase) -> list[SessionRow]:
    from sqlalchemy import select

    with kb.store.db.session() as s:
        return list(s.scalars(select(SessionRow)))


def test_retention_purges_asks_feedback_and_sessions(kb: KnowledgeBase) -> None:
    with client_for(kb, Role.chatbot) as client:
        old = _ask(client, WRONG, session_id="old")
        _vote(client, "old-f", old["request_id"])
        new = _ask(client, "How do I reset my password?", session_id="new")
        _vote(client, "new-f", new["request_id"], helpful=True)
    now = dt.datetime.now(dt.UTC)
    long_ago = now - dt.timedelta(days=kb.settings.retention_days + 1)
    with kb.store.db.session() as s, s.begin():
        s.execute(update(AskRow).where(AskRow.request_id == old["request_id"]).values(created_at=long_ago))
        s.execute(update(FeedbackRow).where(FeedbackRow.id == "old-f").values(created_at=long_ago))
        s.execute(update(SessionRow).where(SessionRow.id.endswith(":old")).values(
            updated_at=now - dt.timedelta(seconds=kb.settings.session_ttl_s + 5)))
    purged = kb.purge(now)
    assert (purged.asks, purged.feedback, purged.sessions) == (1, 1, 1)
    assert kb.store.asks.get(old["request_id"]) is None and kb.store.asks.get(new["request_id"]) is not None
    assert kb.store.learning.get_feedback("old-f") is None and kb.store.learning.get_feedback("new-f") is not None
    assert [r.id.rsplit(":", 1)[-1] for r in _sessions(kb)] == ["new"]
    assert kb.purge(now).model_dump(exclude={"before"}) == {"asks": 0, "feedback": 0, "sessions": 0}
