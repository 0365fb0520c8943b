"""The answer cache: per knowledge-base generation, a normalised question (+ filters, language) -> the
parts of an answer that do not depend on the caller (hits, decision, answer, citations, related, the
query vector). In-process LRU by default; Redis when ``KB_REDIS_URL`` is set (shared by replicas).

The generation is in the key: every change to the knowledge (edit, approval, rollback, ingest commit,
calibration, fusion, demotion) bumps it, so an entry of an older generation is never read again (Redis
entries also expire after ``ttl_s``). Request-specific fields (request id, session follow-ups, routing
with the customer profile, emotion, the ask log) are never cached."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel

from core.errors import BackendError
from core.models import Filters, SearchHit

from .records import AnswerSource, Citation, Decision, Related

log = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")


def normalise_question(text: str) -> str:
    """The cache's notion of "the same question": Unicode NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def cache_key(generation: Any, question: str, filters: Filters | None, lang: str, product: str | None = None) -> str:
    """A stable key: the generation, the normalised question, the filters, the language and the product the
    conversation is about (``retrieval.products``; the same question about two products has two answers)."""
    fields: dict[str, Any] = {"g": generation, "q": normalise_question(question), "l": lang,
                              "f": filters.model_dump(exclude_none=True) if filters is not None else None}
    if product is not None:
        fields["p"] = product
    payload = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Decided(BaseModel):
    """The caller-independent part of an answer (before triage and escalation)."""

    answer: str | None
    decision: Decision
    confidence: float
    citations: list[Citation]
    related: list[Related]
    answer_source: AnswerSource | None
    top_id: str | None
    masked_query: str
    """The question with PII masked, as the ask log records it."""
    hits: list[SearchHit]
    vector_b64: str
    """The query vector (float32, base64): triage on a cache hit needs no embedding."""

    @classmethod
    def of(cls, vector: np.ndarray, **fields: Any) -> Decided:
        raw = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        return cls(vector_b64=base64.b64encode(raw).decode("ascii"), **fields)

    def vector(self) -> np.ndarray:
        return np.frombuffer(base64.b64decode(self.vector_b64), dtype=np.float32)


class CacheBackend(Protocol):
    name: str

    def get(self, key: str) -> Decided | None: ...

    def put(self, key: str, value: Decided) -> None: ...

    def clear(self) -> None: ...


class MemoryBackend:
    """Least-recently-used, in this process only; thread-safe."""

    name = "memory"

    def __init__(self, size: int = 10000) -> None:
        self.size = size
        self._items: OrderedDict[str, Decided] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Decided | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Decided) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RedisBackend:
    """Shared by every replica that points at the same Redis; entries expire after ``ttl_s``. A Redis that
    stops answering is a miss (logged), never a failed request."""

    name = "redis"

    def __init__(self, url: str, ttl_s: int = 86400, prefix: str = "supportkb:answer:",
                 timeout_s: float = 0.1) -> None:
        import redis

        self._url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self.ttl_s = ttl_s
        self.prefix = prefix

    def ping(self, timeout_s: float = 2.0) -> None:
        """At start: a Redis that does not answer within ``timeout_s`` is a configuration error."""
        import redis

        try:
            redis.Redis.from_url(self._url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s).ping()
        except self._errors as exc:
            raise BackendError(f"Redis for the answer cache does not answer: {exc}") from exc

    def get(self, key: str) -> Decided | None:
        try:
            raw = self._redis.get(self.prefix + key)
        except self._errors as exc:
            log.warning("answer cache: Redis read failed, treated as a miss: %s", exc)
            return None
        if raw is None:
            return None
        return Decided.model_validate_json(raw)  # type: ignore[arg-type]

    def put(self, key: str, value: Decided) -> None:
        try:
            self._redis.set(self.prefix + key, value.model_dump_json(), ex=self.ttl_s)
        except self._errors as exc:
            log.warning("answer cache: Redis write failed, not cached: %s", exc)

    def clear(self) -> None:
        try:
            keys = list(self._redis.scan_iter(match=self.prefix + "*", count=1000))
            if keys:
                self._redis.delete(*keys)
        except self._errors as exc:
            log.warning("answer cache: Redis clear failed: %s", exc)


@dataclass
class CacheStats:
    lookups: int = 0
    hits: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


class AnswerCache:
    """Lookups and hits are counted here (exported as ``supportkb_cache_*_total`` by the API)."""

    def __init__(self, backend: CacheBackend) -> None:
        self.backend = backend
        self.stats = CacheStats()
        self._lock = threading.Lock()

    def get(self, key: str, count_miss: bool = True) -> Decided | None:
        """``count_miss=False``: a miss is not counted (a first look whose miss the caller looks up again)."""
        value = self.backend.get(key)
        if value is None and not count_miss:
            return None
        with self._lock:
            self.stats.lookups += 1
            self.stats.hits += value is not None
        return value

    def put(self, key: str, value: Decided) -> None:
        self.backend.put(key, value)

    def clear(self) -> None:
        self.backend.clear()

    @property
    def in_process(self) -> bool:
        """Lookups touch no network (an event loop may make them)."""
        return isinstance(self.backend, MemoryBackend)


def build_answer_cache(size: int, redis_url: str | None, ttl_s: int = 86400,
                       namespace: str = "", timeout_s: float = 0.1) -> AnswerCache | None:
    """The configured cache: none when ``size`` is 0, Redis when a URL is given, else in-process.

    ``namespace`` names the knowledge base in Redis keys (replicas of one knowledge base share it; two
    knowledge bases on one Redis never read each other's answers)."""
    if redis_url:
        ns = hashlib.sha256(namespace.encode("utf-8")).hexdigest()[:16]
        backend = RedisBackend(redis_url, ttl_s, prefix=f"supportkb:answer:{ns}:", timeout_s=timeout_s)
        backend.ping()
        return AnswerCache(backend)
    if size <= 0:
        return None
    return AnswerCache(MemoryBackend(size))
