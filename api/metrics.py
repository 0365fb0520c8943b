"""Observability: Prometheus ``/metrics`` (prometheus_client, one registry per app) and the access log
(one JSON line per request, with its request id).

Series (labels of low cardinality only: route template, method, status, stage, decision):

- ``supportkb_http_requests_total{route,method,status}``, ``supportkb_http_request_duration_seconds{route,method}``
- ``supportkb_stage_duration_seconds{stage}``: embed, embed_en (the English embedder), index (dense + BM25 +
  passages + English in one batch), fusion, rank, decide, triage, log, cache...
  (the ``timings_ms`` of every answer)
- ``supportkb_decisions_total{decision}``
- ``supportkb_cache_hits_total``, ``supportkb_cache_lookups_total`` (answer cache),
  ``supportkb_query_embedding_cache_hits_total``, ``supportkb_query_embedding_cache_lookups_total``
- ``supportkb_embed_batches_total``, ``supportkb_embed_batched_texts_total`` (micro-batching)
- ``supportkb_index_points``, ``supportkb_ask_log_pending``, ``supportkb_ask_log_written_total``,
  ``supportkb_ask_log_dropped_total``
- ``supportkb_jobs{state}``: jobs queued and running, read from the record at scrape time (every replica
  reports the same queue)
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from answering.records import AskResult
from core.caller import Role
from core.errors import Forbidden
from service.knowledge_base import KnowledgeBase

from .deps import resolve_caller

ACCESS_LOGGER = "supportkb.access"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.12, 0.15, 0.25, 0.5, 1.0, 2.5)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _KnowledgeBaseCollector(Collector):
    """Read at scrape time from the live knowledge base (counters kept by the cache, batcher and writer)."""

    def __init__(self, holder: Any) -> None:
        self._holder = holder  # the app's state: the knowledge base arrives with the lifespan

    def collect(self) -> Iterator[Metric]:
        kb: KnowledgeBase | None = getattr(self._holder, "kb", None)
        if kb is None:
            return
        cache = kb.answer_cache
        stats = cache.stats if cache is not None else None
        yield CounterMetricFamily("supportkb_cache_hits", "Answer cache hits.", value=stats.hits if stats else 0)
        yield CounterMetricFamily("supportkb_cache_lookups", "Answer cache lookups.",
                                  value=stats.lookups if stats else 0)
        lru = kb.embedder
        yield CounterMetricFamily("supportkb_query_embedding_cache_hits", "Query embeddings found in the LRU.",
                                  value=getattr(lru, "hits", 0))
        yield CounterMetricFamily("supportkb_query_embedding_cache_lookups", "Query embedding LRU lookups.",
                                  value=getattr(lru, "lookups", 0))
        batcher = getattr(lru, "inner", lru)
        yield CounterMetricFamily("supportkb_embed_batches", "Batches encoded by the micro-batcher.",
                                  value=getattr(batcher, "batches", 0))
        yield CounterMetricFamily("supportkb_embed_batched_texts", "Questions encoded by the micro-batcher.",
                                  value=getattr(batcher, "texts", 0))
        yield GaugeMetricFamily("supportkb_index_points", "Points in the vector index.", value=kb.index.count())
        yield GaugeMetricFamily("supportkb_ask_log_pending", "Asks queued for the background writer.",
                                value=kb.ask_log.pending)
        yield CounterMetricFamily("supportkb_ask_log_written", "Asks written to the record.",
                                  value=kb.ask_log.written)
        yield CounterMetricFamily("supportkb_ask_log_dropped", "Asks the writer could not write.",
                                  value=kb.ask_log.dropped)
        jobs = getattr(kb.store, "jobs", None)
        if jobs is not None:
            family = GaugeMetricFamily("supportkb_jobs", "Jobs by state (queued, running).", labels=["state"])
            rows = jobs.with_state("queued", "running")
            for state in ("queued", "running"):
                family.add_metric([state], sum(1 for r in rows if r.state == state))
            yield family


class Metrics:
    """The app's registry and its instruments (``app.state.metrics``)."""

    def __init__(self, holder: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("supportkb_http_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("supportkb_http_request_duration_seconds", "HTTP request latency by route.",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.stages = Histogram("supportkb_stage_duration_seconds", "Time per stage of an answer.", ["stage"],
                                buckets=STAGE_BUCKETS, registry=self.registry)
        self.decisions = Counter("supportkb_decisions", "Answers by decision.", ["decision"], registry=self.registry)
        self.registry.register(_KnowledgeBaseCollector(holder))

    def observe_ask(self, result: AskResult) -> None:
        self.decisions.labels(str(result.decision)).inc()
        for stage, ms in result.timings_ms.items():
            self.stages.labels(stage).observe(ms / 1000.0)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


# -- access log -------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def access_logger(stream: Any = None) -> logging.Logger:
    """The access logger with a JSON handler (added once per process; ``stream`` defaults to stderr)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(getattr(h, "_supportkb_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._supportkb_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class ObservedRequests:
    """ASGI middleware: counts and times every request by route template and status, and writes one access
    log line with the request id (set by the outer ``RequestGuard``). Place it inside ``RequestGuard``."""

    def __init__(self, app: ASGIApp, metrics: Metrics, logger: logging.Logger) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.observe_request(route, scope.get("method", ""), status, seconds)
            state = scope.get("state") or {}
            caller = state.get("caller")
            self.log.info("request", extra={
                "request_id": state.get("request_id"), "method": scope.get("method"), "path": scope.get("path"),
                "route": route, "status": status, "duration_ms": round(seconds * 1000, 2),
                "caller": getattr(caller, "key_id", None),
            })


# -- the route --------------------------------------------------------------------------------
router = APIRouter(tags=["ops"])
_bearer = HTTPBearer(auto_error=False)


def metrics_access(request: Request,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None) -> None:
    """/metrics needs an admin key unless ``KB_METRICS_AUTH=false`` (a scraper inside the network)."""
    if not request.app.state.settings.metrics_auth:
        return
    caller = resolve_caller(request, credentials)
    if not caller.role.allows(Role.admin):
        raise Forbidden(f"/metrics needs the admin role; the key {caller.key_id!r} is {caller.role.value}")


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, _: Annotated[None, Security(metrics_access)]) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
