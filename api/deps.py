"""Dependencies of the routes: the knowledge base, and who is calling (API key -> ``Caller``, role check,
rate limit). A route declares the role it needs with ``Depends(require(Role.x))``; tests override
``authenticate`` to act as any caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from core.caller import Caller, Role
from core.errors import Forbidden, NotReady, Unauthorized
from core.keys import KeyStore
from service.knowledge_base import KnowledgeBase

from .ratelimit import RateLimiter

ANONYMOUS = Caller(key_id="anonymous", name="anonymous (KB_AUTH=off)", role=Role.admin)
_bearer = HTTPBearer(auto_error=False, description="An API key from `kb keys create`: `Bearer skb_...`.")


async def get_kb(request: Request) -> KnowledgeBase:
    service = getattr(request.app.state, "kb", None)
    if service is None:
        raise NotReady("service is starting")
    return service


Service = Annotated[KnowledgeBase, Depends(get_kb)]


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Caller:
    """The caller named by the ``Authorization: Bearer`` key, counted against its role's rate limit.

    On the event loop when neither step can block (a key checked within the key cache's lifetime, an
    in-process rate limiter), else in a worker thread: the hop costs more than the check (the dependencies
    of /v1/ask were three hops per request, most of a cached answer's CPU)."""
    state = request.app.state
    keys: KeyStore | None = getattr(state, "keys", None)
    limiter: RateLimiter | None = getattr(state, "limiter", None)
    presented = credentials.credentials if credentials is not None else ""
    inline = ((state.settings.auth == "off" or keys is None or keys.resolves_in_memory(presented))
              and (limiter is None or limiter.in_process))
    if inline:
        return resolve_caller(request, credentials)
    return await run_in_threadpool(resolve_caller, request, credentials)


def resolve_caller(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
    """``authenticate``'s work, blocking (a store read for a key not checked lately, a Redis rate limiter)."""
    state = request.app.state
    if state.settings.auth == "off":
        caller = ANONYMOUS
    else:
        keys: KeyStore | None = getattr(state, "keys", None)
        if keys is None:
            raise NotReady("service is starting")
        if credentials is None or not credentials.credentials:
            raise Unauthorized("an API key is required: 'Authorization: Bearer skb_...' (see `kb keys create`)")
        resolved = keys.resolve(credentials.credentials)
        if resolved is None:
            raise Unauthorized("the API key is unknown, expired or revoked")
        caller = resolved
    limiter: RateLimiter | None = getattr(state, "limiter", None)
    if limiter is not None:
        limiter.check(caller)
    request.state.caller = caller
    return caller


def require(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through callers whose role includes ``role`` (roles nest)."""

    async def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not caller.role.allows(role):
            raise Forbidden(f"this needs the {role.value} role; the key {caller.key_id!r} is {caller.role.value}")
        return caller

    check.__name__ = f"require_{role.value}"
    return check


Chatbot = Annotated[Caller, Depends(require(Role.chatbot))]
Agent = Annotated[Caller, Depends(require(Role.agent))]
Editor = Annotated[Caller, Depends(require(Role.editor))]
Admin = Annotated[Caller, Depends(require(Role.admin))]
