"""An in-process harness over the app for the API's own checks: a small knowledge base, keys, a client."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from core.caller import Role

from .app import create_app

FAQ = [
    {"id": "ship-1", "question": "Do you ship to Canada?", "answer": "Yes, in 7-14 days.", "lang": "en"},
    {"id": "pw-1", "question": "How do I reset my password?", "answer": "Tap Forgot password.", "lang": "en"},
    {"id": "refund-zh", "question": "退款多久到账", "answer": "3-5个工作日。", "lang": "zh"},
]


@dataclass
class Harness:
    """An app over a small fake-embedder knowledge base, with a key per role and bad keys."""

    app: Any
    client: Any
    keys: dict[str, str] = field(default_factory=dict)


@contextmanager
def harness(home: Path, **overrides: Any) -> Iterator[Harness]:
    """The app over a three-entry knowledge base (fake embedder) with a key per role, an expired, a
    revoked and a wrong key, served in process (the role x route matrix, fuzzing, limits tests)."""
    from core.keys import KeyStore
    from core.settings import Settings
    from service.knowledge_base import KnowledgeBase

    settings = Settings(home=home, embedder="fake", purge_interval_s=0, **overrides)
    faq = home.parent / f"{home.name}-faq.jsonl"
    faq.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ), encoding="utf-8")
    kb = KnowledgeBase.open(settings)
    try:
        kb.ingest([faq])
        app = create_app(settings, kb=kb)
        store = KeyStore(kb.store.keys)
        keys = {role.value: store.create(f"bench-{role.value}", role).secret for role in Role}
        keys["expired"] = store.create("bench-expired", Role.admin,
                                       dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).secret
        revoked = store.create("bench-revoked", Role.admin)
        store.revoke(revoked.info.id)
        keys["revoked"] = revoked.secret
        keys["wrong"] = keys["admin"][:-4] + ("AAAA" if not keys["admin"].endswith("AAAA") else "BBBB")
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Harness(app=app, client=client, keys=keys)
    finally:
        kb.close()


def _walk(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI wraps included routers
        if included is not None:
            yield from _walk(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            yield prefix + route.path, route


def app_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for path, route in _walk(app.routes):
        if path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method not in ("HEAD", "OPTIONS"):
                out.append((method, path))
    return out
