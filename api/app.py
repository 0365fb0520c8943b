"""The app factory: ``create_app(settings)`` wires middleware, error translation and the routers; the
knowledge base loads once in the lifespan (or is handed in by tests), with the key store, the rate limiter
and the retention purge schedule."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from core.errors import BadInput
from core.keys import KeyStore
from core.settings import Settings
from service.knowledge_base import KnowledgeBase
from service.owner import ServerOwner

from . import errors, metrics
from .mappers import SourceNames
from .middleware import RequestGuard
from .ratelimit import RateLimiter
from .routers import ask, jobs, learning, ops, review
from .schemas import ErrorBody

log = logging.getLogger(__name__)

ERRORS = {
    401: "No API key, or an unknown, expired or revoked one.", 403: "The key's role may not call this.",
    413: "The request body is too large.", 422: "The request does not fit the schema.",
    429: "The key's rate limit is exceeded (see Retry-After).", 500: "Unexpected error (only the request id).",
    503: "Not ready, busy database or unavailable backend (see Retry-After).",
}


async def _purge_every(service: KnowledgeBase, interval_s: int) -> None:
    """Asks, sessions and feedback past ``KB_RETENTION_DAYS`` are purged on this schedule (first run at start)."""
    while True:
        try:
            purged = await asyncio.to_thread(service.purge)
            log.info("retention purge: %s", purged)
        except Exception:  # a failed purge is retried next time; the server keeps serving
            log.exception("retention purge failed")
        await asyncio.sleep(interval_s)


def check_auth_binding(settings: Settings) -> None:
    """``KB_AUTH=off`` only on a loopback address: an open API must not be reachable from other machines."""
    if settings.auth != "off":
        return
    host = settings.host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BadInput(f"KB_AUTH=off is refused on {settings.host!r}: bind to 127.0.0.1 (or turn auth on and "
                       "create keys with `kb keys create`)")


def create_app(settings: Settings, kb: KnowledgeBase | None = None) -> FastAPI:
    check_auth_binding(settings)
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = kb is None
        service = kb if kb is not None else await asyncio.to_thread(KnowledgeBase.open, settings)
        await asyncio.to_thread(service.warm_up)  # readiness means warm: the first requests are not slow
        if owned:  # the models and index loaded for good: out of the collector's way (fewer, shorter pauses)
            gc.collect()
            gc.freeze()
        service.ask_observers.append(app.state.metrics.observe_ask)
        app.state.kb = service
        app.state.keys = KeyStore(service.store.keys, cache_s=settings.key_cache_s)
        owner = ServerOwner(settings, service, app.state.keys, announces=owned)  # jobs; KB_HOME/server.json
        await asyncio.to_thread(owner.start)
        app.state.owner = owner
        if settings.auth == "off":
            log.warning("KB_AUTH=off: every route is open to anyone who can reach this server")
        purger = (asyncio.create_task(_purge_every(service, settings.purge_interval_s))
                  if settings.purge_interval_s > 0 else None)
        try:
            yield
        finally:
            await asyncio.to_thread(owner.stop)
            if purger is not None:
                purger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purger
            service.ask_observers.remove(app.state.metrics.observe_ask)
            if owned:
                service.close()  # flushes the ask log
            else:
                service.ask_log.flush()

    app = FastAPI(
        title="supportkb", version="0.1.0", lifespan=lifespan,
        description="Answers customers from a bilingual knowledge base, with citations, or hands off. "
                    "Every /v1 route needs an API key: `Authorization: Bearer skb_...` (`kb keys create`).",
        responses={status: {"model": ErrorBody, "description": text} for status, text in ERRORS.items()},
        openapi_url="/openapi.json" if settings.docs else None,
        docs_url="/docs" if settings.docs else None, redoc_url="/redoc" if settings.docs else None,
    )
    app.state.settings = settings
    app.state.limiter = RateLimiter.from_settings(settings)
    app.state.source_names = SourceNames(settings.source_root or Path.cwd())
    app.state.metrics = metrics.Metrics(app.state)
    errors.install(app)
    app.include_router(metrics.router)
    for module in (ops, ask, learning, review, jobs):
        app.include_router(module.router)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"])
    app.add_middleware(metrics.ObservedRequests, metrics=app.state.metrics, logger=metrics.access_logger())
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, upload_paths=jobs.UPLOAD_PATHS,
                       max_upload_bytes=settings.max_upload_bytes)
    return app
