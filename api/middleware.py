"""ASGI middleware: a request id on every request and response, the request body size limit (413), and the
last line of defence that turns an unexpected exception into a JSON 500 naming only the request id."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("api")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class RequestGuard:
    """Outermost layer of the app (inside Starlette's own error layer, which it never lets an exception reach)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, upload_paths: tuple[str, ...] = (),
                 max_upload_bytes: int = 0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_paths = upload_paths  # file uploads (POST /v1/ingest ...) have their own, larger limit
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _CLIENT_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), id_header,
                                      (b"x-content-type-options", b"nosniff")]
            await send(message)

        limit = (self.max_upload_bytes if self.upload_paths and str(scope.get("path", "")).startswith(self.upload_paths)
                 else self.max_body_bytes)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _send_json(send, 413, {"error": "too_large", "request_id": request_id,
                                         "message": f"request body over {limit} bytes"}, [id_header])
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a body sent without a length: refused while it streams
                    raise HTTPException(413, f"request body over {limit} bytes")
            return message

        try:
            await self.app(scope, counted_receive, send_with_id)
        except Exception:  # the last line of defence: logged with its traceback, never shown
            log.exception("request %s %s failed", request_id, scope.get("path"))
            if not started:
                await _send_json(send, 500, {"error": "internal", "request_id": request_id,
                                             "message": "internal error; quote the request_id when reporting it"},
                                 [id_header])
