"""The answer cache, the background ask log and /metrics through the knowledge base and the API (fake embedder).

Invalidation: every change to the knowledge bumps the generation, so the very next request sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answering.calibration import SIGNALS, Calibration
from answering.records import Question
from core.models import Filters
from core.settings import Settings
from core.store import Store
from learning.records import Feedback
from service.knowledge_base import KnowledgeBase
from tests.api_client import client_for

FAQ = [
    {"id": "pw", "question": "How do I reset my password?", "answer": "Tap Forgot password on the login page.",
     "category": "account", "lang": "en"},
    {"id": "ship", "question": "Do you ship to Canada?", "answer": "Yes, international shipping takes 7-14 days.",
     "category": "shipping", "lang": "en"},
    {"id": "ret", "question": "退货需要多长时间", "answer": "收到退货后3个工作日内退款。", "category": "returns",
     "lang": "zh"},
]


def write_faq(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


EXACT = Calibration(coef=tuple(30.0 if s == "dense_q" else 0.0 for s in SIGNALS), intercept=-28.5,
                    answer_threshold=0.5, target_precision=0.9)
"""Answers a question that matches a phrasing exactly (the fake embedder's cosine 1.0), hands off the rest: the
cache is the subject here, not the package default's judgement of fake vectors."""


@pytest.fixture
def kb(fake_kb: KnowledgeBase, tmp_path: Path) -> KnowledgeBase:
    fake_kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    fake_kb.calibration = EXACT
    return fake_kb


def ask(kb: KnowledgeBase, text: str, **kw: object) -> tuple[str | None, str]:
    r = kb.ask(Question(question=text, **kw))  # type: ignore[arg-type]
    return r.answer, r.request_id


def test_a_repeated_question_is_served_from_the_cache(kb: KnowledgeBase) -> None:
    assert kb.answer_cache is not None
    first = kb.ask(Question(question="How do I reset my password?"))
    second = kb.ask(Question(question="how do i reset my   password?"))
    assert (kb.answer_cache.stats.hits, kb.answer_cache.stats.lookups) == (1, 2)
    assert second.answer == first.answer == "Tap Forgot password on the login page."
    assert second.request_id != first.request_id  # per-request fields are never cached
    assert "cache" in second.timings_ms and "embed" not in second.timings_ms
    assert second.emotion is not None and second.route is not None


def test_an_edited_answer_is_served_at_the_very_next_request(kb: KnowledgeBase) -> None:
    assert ask(kb, "How do I reset my password?")[0] == "Tap Forgot password on the login page."
    kb.curator.act_on_entry("pw", "edit", "editor", answer="Use the reset link we email you.")
    assert ask(kb, "How do I reset my password?")[0] == "Use the reset link we email you."
    kb.curator.act_on_entry("pw", "rollback", "editor", version=1)
    assert ask(kb, "How do I reset my password?")[0] == "Tap Forgot password on the login page."


def test_an_ingest_commit_invalidates_the_cache(kb: KnowledgeBase, tmp_path: Path) -> None:
    before = ask(kb, "Can I pay with PayPal at checkout?")[0]
    assert before != "Yes, PayPal is accepted at checkout."
    paypal = {"id": "pay", "question": "Can I pay with PayPal at checkout?",
              "answer": "Yes, PayPal is accepted at checkout.", "category": "payment", "lang": "en"}
    kb.ingest([write_faq(tmp_path / "more.jsonl", [paypal])])
    assert ask(kb, "Can I pay with PayPal at checkout?")[0] == "Yes, PayPal is accepted at checkout."


def test_another_process_editing_is_seen_after_the_poll(kb: KnowledgeBase) -> None:
    """A second process (here: a second KnowledgeBase on the same home) bumps the generation in the record."""
    assert ask(kb, "Do you ship to Canada?")[0] == "Yes, international shipping takes 7-14 days."
    kb.answerer.cache = kb.answer_cache  # unchanged: the cache stays in front
    other = Store(kb.settings.database())
    other.meta.set("learning_generation", {"at": 42})
    other.close()
    kb.curator.demotions._checked = 0.0  # the once-a-second poll is due
    before = kb.answer_cache.stats.hits if kb.answer_cache else 0
    ask(kb, "Do you ship to Canada?")
    assert kb.answer_cache is not None and kb.answer_cache.stats.hits == before  # a new generation: a miss


def test_filters_and_language_are_part_of_the_key(kb: KnowledgeBase) -> None:
    assert kb.answer_cache is not None
    ask(kb, "How do I reset my password?")
    ask(kb, "How do I reset my password?", filters=Filters(category=["shipping"]))
    ask(kb, "How do I reset my password?", filters=Filters(category=["account"]))
    assert (kb.answer_cache.stats.hits, kb.answer_cache.stats.lookups) == (0, 3)
    filtered = kb.ask(Question(question="How do I reset my password?", filters=Filters(category=["shipping"])))
    assert filtered.answer != "Tap Forgot password on the login page."
    assert kb.answer_cache.stats.hits == 1


def test_a_follow_up_with_history_bypasses_the_cache(kb: KnowledgeBase) -> None:
    assert kb.answer_cache is not None
    ask(kb, "Do you ship to Canada?", session_id="s1")  # no history yet: cached
    ask(kb, "Do you ship to Canada?", session_id="s1")  # history: not looked up
    assert kb.answer_cache.stats.lookups == 1


def test_feedback_right_after_an_answer_finds_its_ask(kb: KnowledgeBase) -> None:
    _, request_id = ask(kb, "How do I reset my password?")
    out = kb.feedback(Feedback(feedback_id="f1", request_id=request_id, helpful=True))
    assert out.status == "recorded"


def test_the_ask_log_is_flushed_on_close(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none", ask_log_flush_ms=60_000,
                        ask_log_flush_rows=10_000)
    kb = KnowledgeBase.open(settings)
    kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    ids = [ask(kb, f"question {i} about passwords")[1] for i in range(25)]
    assert kb.ask_log.pending == 25
    kb.close()
    store = Store(settings.database())
    try:
        assert all(store.asks.get(i) is not None for i in ids)
    finally:
        store.close()


def test_metrics_expose_the_named_series(kb: KnowledgeBase) -> None:
    settings = kb.settings.model_copy(update={"metrics_auth": False})
    with client_for(kb, settings=settings) as client:
        for _ in range(3):
            assert client.post("/v1/ask", json={"question": "Do you ship to Canada?"}).status_code == 200
        text = client.get("/metrics").text
    assert "supportkb_cache_lookups_total 3.0" in text
    assert "supportkb_cache_hits_total 2.0" in text
    assert 'supportkb_http_requests_total{method="POST",route="/v1/ask",status="200"} 3.0' in text
    assert 'supportkb_decisions_total{decision="answer"} 3.0' in text
    assert "supportkb_index_points 6.0" in text
    for series in ('supportkb_http_request_duration_seconds_bucket{le="0.12",method="POST",route="/v1/ask"}',
                   'supportkb_stage_duration_seconds_count{stage="embed"} 1.0',
                   'supportkb_stage_duration_seconds_count{stage="cache"} 3.0',
                   'supportkb_stage_duration_seconds_count{stage="triage"} 3.0',
                   'supportkb_stage_duration_seconds_count{stage="log"} 3.0',
                   'supportkb_jobs{state="queued"} 0.0', 'supportkb_jobs{state="running"} 0.0',
                   "supportkb_ask_log_pending", "supportkb_embed_batches_total",
                   "supportkb_query_embedding_cache_lookups_total"):
        assert series in text, series


def test_metrics_need_an_admin_key_by_default(kb: KnowledgeBase) -> None:


    with client_for(kb) as client:
        assert client.get("/metrics").status_code == 401


def test_one_json_access_line_per_request(kb: KnowledgeBase, caplog: pytest.LogCaptureFixture) -> None:
    from api.metrics import JsonFormatter

    with client_for(kb) as client, caplog.at_level("INFO", logger="supportkb.access"):
        import logging

        logging.getLogger("supportkb.access").addHandler(caplog.handler)
        try:
            client.post("/v1/ask", json={"question": "Do you ship to Canada?"}, headers={"X-Request-ID": "abc-123"})
        finally:
            logging.getLogger("supportkb.access").removeHandler(caplog.handler)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "supportkb.access"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["request_id"], line["route"], line["status"], line["method"]) == ("abc-123", "/v1/ask", 200, "POST")
    assert "caller" in line and line["duration_ms"] > 0  # the caller's key id (None here: auth is overridden)


def _never_answers() -> object:
    from answering.calibration import SIGNALS, Calibration

    return Calibration.model_validate({"coef": tuple(0.0 for _ in SIGNALS), "intercept": -50.0,
                                       "answer_threshold": 0.5})


def test_a_calibration_stored_by_another_process_is_used_and_not_served_stale(kb: KnowledgeBase) -> None:
    from core.meta_keys import MetaKey

    assert ask(kb, "Do you ship to Canada?")[0] == "Yes, international shipping takes 7-14 days."
    other = Store(kb.settings.database())
    other.meta.set(MetaKey.calibration, _never_answers().model_dump())  # type: ignore[attr-defined]
    other.meta.set(MetaKey.generation, {"at": 7})
    other.close()
    kb.curator.demotions._checked = 0.0  # the once-a-second poll is due
    assert kb.ask(Question(question="Do you ship to Canada?")).decision != "answer"


def test_a_calibration_set_in_memory_survives_an_ingest(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.calibration = _never_answers()  # type: ignore[assignment]
    assert kb.ask(Question(question="Do you ship to Canada?")).decision != "answer"
    kb.ingest([write_faq(tmp_path / "more.jsonl", [{"id": "x", "question": "Is there an app?", "answer": "Yes."}])])
    assert kb.ask(Question(question="Do you ship to Canada?")).decision != "answer"


def test_the_shared_redis_cache_through_the_knowledge_base(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"no Redis answers at {url} ({exc}); start one to run the shared-cache test")
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none", redis_url=url,  # type: ignore[arg-type]
                                     answer_cache_timeout_s=5.0))
    try:
        assert kb.answer_cache is not None and kb.answer_cache.backend.name == "redis"
        kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
        kb.calibration = EXACT
        assert ask(kb, "Do you ship to Canada?")[0] == "Yes, international shipping takes 7-14 days."
        assert ask(kb, "Do you ship to Canada?")[0] == "Yes, international shipping takes 7-14 days."
        assert (kb.answer_cache.stats.hits, kb.answer_cache.stats.lookups) == (1, 2)
        kb.curator.act_on_entry("ship", "edit", "editor", answer="Yes, in 3-5 days.")
        assert ask(kb, "Do you ship to Canada?")[0] == "Yes, in 3-5 days."
    finally:
        kb.close()


def test_ask_cached_serves_only_what_the_cache_holds_and_does_nothing_otherwise(kb: KnowledgeBase) -> None:
    """The event loop's path: None, with nothing counted or logged, unless the answer is cached; then the same
    answer as ``ask``, logged, with a request id of its own."""
    question = Question(question="Do you ship to Canada?")
    pending = kb.ask_log.pending
    assert kb.ask_cached(question) is None
    assert kb.answerer.cache is not None and kb.answerer.cache.stats.lookups == 0
    assert kb.ask_log.pending == pending
    first = kb.ask(question)
    cached = kb.ask_cached(question)
    assert cached is not None and kb.ask_log.pending == pending + 2
    assert (cached.answer, cached.decision, cached.citations, cached.related, cached.route) == (
        first.answer, first.decision, first.citations, first.related, first.route)
    assert cached.request_id != first.request_id
    assert "cache" in cached.timings_ms and "embed" not in cached.timings_ms
    assert (kb.answerer.cache.stats.lookups, kb.answerer.cache.stats.hits) == (2, 1)
    # a conversation's turns are in the store: never on the event loop
    assert kb.ask_cached(Question(question="Do you ship to Canada?", session_id="s1")) is None
    kb.curator.act_on_entry("ship", "edit", "editor", answer="We ship to Canada in 5 days.")
    assert kb.ask_cached(question) is None  # a new generation: ``ask`` syncs first
    assert kb.ask(question).answer == "We ship to Canada in 5 days."
    again = kb.ask_cached(question)
    assert again is not None and again.answer == "We ship to Canada in 5 days."


def test_the_api_answers_a_cached_question_without_a_worker_thread(kb: KnowledgeBase,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import api.routers.ask as ask_route

    hops: list[str] = []
    real = ask_route.run_in_threadpool

    async def counting(func, *args):  # type: ignore[no-untyped-def]
        hops.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(ask_route, "run_in_threadpool", counting)
    with client_for(kb) as client:
        bodies = [client.post("/v1/ask", json={"question": "Do you ship to Canada?"}).json() for _ in range(3)]
    assert hops == ["ask"]  # the first question only: the two others came from the cache on the event loop
    assert {b["answer"] for b in bodies} == {"Yes, international shipping takes 7-14 days."}
    assert len({b["request_id"] for b in bodies}) == 3
