"""The error hierarchy. Raised with the offending value; translated once at the edges
(HTTP status + JSON body in ``api``, message + exit code in ``cli``)."""

from __future__ import annotations


class KBError(Exception):
    """Base of every error supportkb raises on purpose. ``public``: the message may be shown to an HTTP caller
    (it names only what the caller sent); ``retry_after_s``: a Retry-After for a temporary condition."""

    http_status = 500
    exit_code = 1
    code = "kb_error"
    public = True
    retry_after_s: int | None = None


class BadInput(KBError):
    """The caller gave something we cannot use (a malformed file, a bad filter, an empty query)."""

    http_status = 400
    exit_code = 2
    code = "bad_input"


class NotFound(KBError):
    http_status = 404
    exit_code = 3
    code = "not_found"


class IndexMismatch(KBError):
    """The index on disk was built differently (model, dimension, tokenizer) from what is configured."""

    http_status = 409
    exit_code = 4
    code = "index_mismatch"


class NotReady(KBError):
    """The service has not finished starting, or the knowledge base is empty."""

    http_status = 503
    exit_code = 5
    code = "not_ready"
    retry_after_s = 5


class BackendError(KBError):
    """A backend (index, database, model, LLM) failed. Over HTTP a 503 with Retry-After: its message names
    internals (paths, URLs), so the API logs it and tells the caller only to retry."""

    http_status = 503
    exit_code = 6
    code = "backend_error"
    retry_after_s = 5
    public = False


class Unauthorized(KBError):
    """No API key, or one that is unknown, wrong, expired or revoked (the caller is not told which)."""

    http_status = 401
    exit_code = 7
    code = "unauthorized"


class Forbidden(KBError):
    """The caller's role may not do this."""

    http_status = 403
    exit_code = 7
    code = "forbidden"


class TooLarge(KBError):
    """A request body over the configured size."""

    http_status = 413
    exit_code = 2
    code = "too_large"


class RateLimited(KBError):
    """The caller's key went over its role's request rate."""

    http_status = 429
    exit_code = 8
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Busy(KBError):
    """The system of record is locked by another writer: retry shortly."""

    http_status = 503
    exit_code = 6
    code = "busy"
    retry_after_s = 2


class Cancelled(KBError):
    """A job was cancelled before it finished (``DELETE /v1/jobs/{id}``, Ctrl-C on the waiting CLI)."""

    http_status = 409
    exit_code = 130
    code = "cancelled"


class InsufficientStorage(KBError):
    """The disk under KB_HOME has not enough free space for the work asked for."""

    http_status = 507
    exit_code = 9
    code = "insufficient_storage"
