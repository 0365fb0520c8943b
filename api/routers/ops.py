"""Operations routes: liveness and readiness (no key), stats and API keys (admin role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from core.keys import KeyInfo, KeyStore, parse_expiry
from service.disk import check_free_floor

from ..deps import Admin, Service
from ..schemas import KeyCreate, KeyCreated

router = APIRouter(tags=["ops"])


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(service: Service, request: Request) -> dict[str, object]:
    free = check_free_floor(request.app.state.settings)  # 503, saying why, when the disk is nearly full
    service.ready()
    return {"status": "ready", "index_points": service.index.count(), "free_bytes": free}


@router.get("/v1/stats")
def stats(service: Service, caller: Admin) -> dict[str, Any]:
    return service.stats()


@router.get("/v1/keys", response_model=list[KeyInfo])
def list_keys(request: Request, caller: Admin) -> list[KeyInfo]:
    """Every key, active or not: id, name, role, when created, expires, revoked (never a secret)."""
    return _keys(request).list()


@router.post("/v1/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, request: Request, caller: Admin) -> KeyCreated:
    """A new key: the secret is in this response only."""
    new = _keys(request).create(body.name, body.role, parse_expiry(body.expires))
    return KeyCreated(key=new.info, secret=new.secret)


@router.delete("/v1/keys/{key_id}", response_model=KeyInfo)
def revoke_key(key_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
               caller: Admin) -> KeyInfo:
    return _keys(request).revoke(key_id)
