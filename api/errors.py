"""Error translation at the HTTP edge: every error is a JSON body ``{"error", "message", "request_id"}``,
never a traceback. ``KBError`` -> its status; validation -> 422; a locked database -> 503 busy; anything
unexpected -> 500 with the request id only (the details go to the log)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from core.errors import BackendError, Busy, KBError

log = logging.getLogger("api.errors")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_response(request_id: str, status: int, code: str, message: str,
                   retry_after_s: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": code, "message": message, "request_id": request_id})


def kb_error_response(request_id: str, exc: KBError) -> JSONResponse:
    if exc.public:
        message = str(exc)
    else:
        log.warning("request %s: %s: %s", request_id, type(exc).__name__, exc)
        message = "a backend is temporarily unavailable: retry later"
    return error_response(request_id, exc.http_status, exc.code, message, exc.retry_after_s)


def _validation_message(errors: Any) -> str:
    """Where and what, without echoing the (possibly huge or secret) input back."""
    parts = []
    for e in list(errors)[:10]:
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(KBError)
    async def kb_error(request: Request, exc: KBError) -> JSONResponse:
        return kb_error_response(request_id_of(request), exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(request_id_of(request), 422, "bad_input", _validation_message(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(request_id_of(request), exc.status_code, code, message)

    @app.exception_handler(OperationalError)
    async def database_error(request: Request, exc: OperationalError) -> JSONResponse:
        request_id = request_id_of(request)
        log.warning("request %s: database error: %s", request_id, exc.orig)
        if "locked" in str(exc.orig).lower() or "could not obtain lock" in str(exc.orig).lower():
            return kb_error_response(request_id, Busy("the database is busy: retry shortly"))
        return kb_error_response(request_id, BackendError(str(exc.orig)))
