"""An HTTP test client acting as a caller of a given role: the ``authenticate`` dependency is overridden (as the
house style says: tests override dependencies, they do not patch globals). Auth itself is tested with real keys
in ``tests/unit/api/test_auth.py``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import authenticate
from core.caller import Caller, Role


def caller_of(role: Role = Role.admin, key_id: str | None = None) -> Caller:
    return Caller(key_id=key_id or f"test-{role.value}", name=f"test {role.value}", role=role)


def client_for(kb: Any, role: Role = Role.admin, settings: Any = None, key_id: str | None = None) -> TestClient:
    """``with client_for(kb) as client:`` a client whose every request comes from a ``role`` caller."""
    app = create_app(settings or kb.settings, kb=kb)
    caller = caller_of(role, key_id)
    app.dependency_overrides[authenticate] = lambda: caller
    return TestClient(app)
