"""The error hierarchy. Raised with the offending value; translated once at the edges
(HTTP status + JSON body in ``api``, message + exit code in ``cli``)."""

from __future__ import annotations


class KBError(Exception):
    """Base of every error supportkb raises on purpose."""

    http_status = 500
    exit_code = 1
    code = "kb_error"


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


class BackendError(KBError):
    """A backend (index, database, model, LLM) failed."""

    http_status = 502
    exit_code = 6
    code = "backend_error"


class Forbidden(KBError):
    """The caller may not do this (a review endpoint without the editors' token)."""

    http_status = 403
    exit_code = 7
    code = "forbidden"
