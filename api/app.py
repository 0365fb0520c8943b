"""FastAPI app: thin routes over the ``KnowledgeBase`` service. ``create_app(settings)`` builds it;
the service loads once in the lifespan (or is handed in by tests)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from core.errors import KBError, NotReady
from core.settings import Settings

from .schemas import (
    AskRequest,
    AskResponse,
    FeedbackRequest,
    FeedbackResponse,
    SearchHitOut,
    SearchRequest,
    SearchResponse,
)
from .service import KnowledgeBase

log = logging.getLogger(__name__)


def get_kb(request: Request) -> KnowledgeBase:
    service = getattr(request.app.state, "kb", None)
    if service is None:
        raise NotReady("service is starting")
    return service


Service = Annotated[KnowledgeBase, Depends(get_kb)]


def create_app(settings: Settings, kb: KnowledgeBase | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = kb is None
        app.state.kb = kb if kb is not None else await asyncio.to_thread(KnowledgeBase.open, settings)
        try:
            yield
        finally:
            if owned:
                app.state.kb.close()

    app = FastAPI(
        title="supportkb", version="0.1.0", lifespan=lifespan,
        description="Answers customers from a bilingual knowledge base, with citations, or hands off.",
    )

    @app.exception_handler(KBError)
    async def kb_error(_: Request, exc: KBError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content={"error": exc.code, "message": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"error": "bad_input", "message": str(exc.errors())})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(service: Service) -> dict[str, object]:
        service.ready()
        return {"status": "ready", "index_points": service.index.count()}

    @app.post("/v1/search", response_model=SearchResponse)
    def search(body: SearchRequest, service: Service) -> SearchResponse:
        started = time.perf_counter()
        hits = service.search(body.query, body.top_k, body.filters)
        return SearchResponse(
            hits=[SearchHitOut.model_validate(h.model_dump(exclude={"features", "kind", "answer", "char_start",
                                                                    "char_end"})) for h in hits],
            request_id=uuid.uuid4().hex, latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    @app.post("/v1/ask", response_model=AskResponse)
    def ask(body: AskRequest, service: Service) -> AskResponse:
        return service.ask(body)

    @app.post("/v1/ask/stream")
    def ask_stream(body: AskRequest, service: Service) -> StreamingResponse:
        """The same decision as /v1/ask as server-sent events: ``meta``, ``delta``..., ``done``."""

        def events() -> Iterator[str]:
            for event, data in service.ask_stream(body):
                yield f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/feedback", response_model=FeedbackResponse)
    def feedback(body: FeedbackRequest, service: Service) -> FeedbackResponse:
        return service.feedback(body)

    @app.get("/v1/stats")
    def stats(service: Service) -> dict[str, object]:
        return service.stats()

    return app
