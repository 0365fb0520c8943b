"""FastAPI app: thin routes over the ``KnowledgeBase`` service. ``create_app(settings)`` builds it;
the service loads once in the lifespan (or is handed in by tests)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from core.errors import Forbidden, KBError, NotReady
from core.settings import Settings

from .schemas import (
    AskRequest,
    AskResponse,
    CandidateOut,
    EntryAction,
    EntryOut,
    FeedbackRequest,
    FeedbackResponse,
    FlaggedOut,
    ResolutionRequest,
    ResolutionResponse,
    ReviewAction,
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


def editor_access(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Review endpoints change the live knowledge: with KB_ADMIN_TOKEN set they need that bearer token."""
    token = get_kb(request).settings.admin_token
    if token and not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
        raise Forbidden("review endpoints need 'Authorization: Bearer <KB_ADMIN_TOKEN>'")


Editor = Depends(editor_access)


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

    @app.post("/v1/resolutions", response_model=ResolutionResponse)
    def resolutions(body: ResolutionRequest, service: Service) -> ResolutionResponse:
        """An agent resolved a handed-off conversation: its answer becomes knowledge (see docs)."""
        return service.resolve(body)

    @app.get("/v1/candidates", response_model=list[CandidateOut], dependencies=[Editor])
    def candidates(service: Service, status: str = "review",
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[CandidateOut]:
        """Candidate entries (from resolutions and tickets), most frequent first; status=all for every one."""
        return service.curator.candidates(None if status == "all" else status, limit)

    @app.get("/v1/candidates/{candidate_id}", response_model=CandidateOut, dependencies=[Editor])
    def candidate(candidate_id: str, service: Service) -> CandidateOut:
        return service.curator.candidate(candidate_id)

    @app.post("/v1/candidates/{candidate_id}", response_model=CandidateOut, dependencies=[Editor])
    def review_candidate(candidate_id: str, body: ReviewAction, service: Service) -> CandidateOut:
        """approve (optionally with edited text), edit, merge (into a candidate or an entry) or reject."""
        return service.curator.act_on_candidate(candidate_id, body.action, body.editor, body.question, body.answer,
                                                body.into, body.note)

    @app.get("/v1/entries/flagged", response_model=list[FlaggedOut], dependencies=[Editor])
    def flagged(service: Service) -> list[FlaggedOut]:
        """Entries demoted by repeated not-helpful feedback, with the evidence."""
        return service.curator.flagged()

    @app.get("/v1/entries/{entry_id}", response_model=EntryOut, dependencies=[Editor])
    def entry(entry_id: str, service: Service) -> EntryOut:
        """The entry with its learned phrasings and version history."""
        return service.curator.entry_out(entry_id)

    @app.post("/v1/entries/{entry_id}", response_model=EntryOut, dependencies=[Editor])
    def act_on_entry(entry_id: str, body: EntryAction, service: Service) -> EntryOut:
        """edit, dismiss (a flag), retire, merge (into another entry) or rollback (to a version)."""
        return service.curator.act_on_entry(entry_id, body.action, body.editor, body.question, body.answer,
                                            body.into, body.version, body.note)

    @app.get("/v1/gaps", dependencies=[Editor])
    def gaps(service: Service, days: int = 30,
             limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[dict[str, object]]:
        """Clusters of recent handed-off and low-confidence questions, largest first."""
        return service.gaps(days=days, limit=limit)

    @app.get("/v1/stats")
    def stats(service: Service) -> dict[str, object]:
        return service.stats()

    return app
