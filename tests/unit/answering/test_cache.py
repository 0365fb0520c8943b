"""Answer cache keys and backends: what makes two questions "the same", and Redis against the local server."""

from __future__ import annotations

import numpy as np
import pytest

from answering.cache import (
    AnswerCache,
    Decided,
    MemoryBackend,
    RedisBackend,
    build_answer_cache,
    cache_key,
    normalise_question,
)
from answering.records import Decision
from core.errors import BackendError
from core.models import Filters, SearchHit

REDIS_URL = "redis://127.0.0.1:6379/15"


def decided(answer: str = "Tap Forgot password.") -> Decided:
    hit = SearchHit(entry_id="e1", chunk_id="u1", kind="question", text=answer, score=0.9, source="faq.jsonl")
    return Decided.of(np.arange(4, dtype=np.float32) / 7, answer=answer, decision=Decision.answer, confidence=0.91,
                      citations=[], related=[], answer_source="faq", top_id="e1", hits=[hit],
                      masked_query="reset password")


def test_normalisation_ignores_case_width_and_spacing_only() -> None:
    assert normalise_question("  How do I   RESET my password？ ") == "how do i reset my password?"
    assert normalise_question("ＡＢＣ 退货") == "abc 退货"
    assert normalise_question("reset password") != normalise_question("reset passwords")


def test_key_changes_with_generation_filters_and_language() -> None:
    base = cache_key({"at": 1}, "Reset password", None, "en")
    assert base == cache_key({"at": 1}, "reset   password", None, "en")
    assert base != cache_key({"at": 2}, "Reset password", None, "en")
    assert base != cache_key({"at": 1}, "Reset password", Filters(category=["account"]), "en")
    assert base != cache_key({"at": 1}, "Reset password", None, "zh")
    assert cache_key(None, "x", Filters(category=["a"]), "en") != cache_key(None, "x", Filters(product=["a"]), "en")
    assert cache_key(None, "x", Filters(), "en") == cache_key(None, "x", Filters(), "en")


def test_decided_keeps_the_vector_exactly() -> None:
    d = decided()
    np.testing.assert_array_equal(d.vector(), np.arange(4, dtype=np.float32) / 7)
    again = Decided.model_validate_json(d.model_dump_json())
    np.testing.assert_array_equal(again.vector(), d.vector())
    assert again == d


def test_memory_backend_counts_and_evicts_least_recently_used() -> None:
    cache = AnswerCache(MemoryBackend(size=2))
    cache.put("a", decided("A"))
    cache.put("b", decided("B"))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", decided("C"))
    assert cache.get("b") is None and cache.get("c") is not None
    assert (cache.stats.hits, cache.stats.lookups) == (2, 3)
    assert cache.stats.hit_rate == pytest.approx(2 / 3)
    assert build_answer_cache(0, None) is None


def _redis() -> RedisBackend:
    backend = RedisBackend(REDIS_URL, ttl_s=60, prefix="supportkb-test:", timeout_s=5.0)
    try:
        backend.ping()
    except BackendError as exc:
        pytest.skip(f"no Redis answers at {REDIS_URL} ({exc}); start one to run the shared-cache tests")
    return backend


def test_redis_backend_round_trips_and_expires() -> None:
    backend = _redis()
    backend.clear()
    cache = AnswerCache(backend)
    assert cache.get("k") is None
    cache.put("k", decided())
    got = cache.get("k")
    assert got == decided()
    ttl = backend._redis.ttl("supportkb-test:k")
    assert 0 < int(ttl) <= 60  # type: ignore[arg-type]
    backend.clear()
    assert cache.get("k") is None


def test_an_unreachable_redis_is_refused_at_start_and_a_miss_later() -> None:
    with pytest.raises(BackendError, match="does not answer"):
        build_answer_cache(100, "redis://127.0.0.1:1/0")
    backend = RedisBackend("redis://127.0.0.1:1/0")
    assert backend.get("k") is None
    backend.put("k", decided())  # logged, not raised
