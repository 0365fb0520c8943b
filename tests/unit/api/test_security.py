"""Trust at the HTTP edge with real API keys: the role x route matrix, schema-driven fuzzing (a small run; the
benchmark runs >= 1,000 cases), limits, CORS, docs switch, error bodies without internals or secrets."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from api.app import check_auth_binding, create_app
from api.deps import get_kb
from api.testing import Harness, harness
from core.caller import Role
from core.errors import BackendError, BadInput
from core.keys import KeyStore, parse_expiry
from eval.security import fuzz, role_matrix


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path / "kb") as made:
        yield made


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_role_matrix_every_route_every_caller(h: Harness) -> None:
    result = role_matrix(h)
    assert result["failed"] == [] and result["failures"] == 0
    assert result["unlisted_routes"] == [], "add the route's role to eval.security.ROUTE_ROLES"
    # 4 roles + no key, a wrong, an expired and a revoked key
    assert result["routes"] >= 19 and result["checks"] == result["routes"] * 8


def test_schema_fuzz_no_5xx_and_every_error_is_json(h: Harness) -> None:
    result = fuzz(h, cases=100, seed=1)
    assert result["cases"] >= 50
    assert result["status_5xx"] == 0, result["samples"]
    assert result["non_json_errors"] == 0, result["samples"]


def test_keys_are_hashed_and_compared_whole(h: Harness) -> None:
    kb = h.app.state.kb
    rows = kb.store.keys.all()
    secret = h.keys["chatbot"]
    assert all(secret not in (r.secret_sha256, r.id, r.name) for r in rows)
    assert h.client.post("/v1/search", json={"query": "password"}, headers=_auth(secret)).status_code == 200
    for bad in (secret + "x", secret[:-1], secret.replace("skb_", "skb-"), "Basic " + secret, ""):
        assert h.client.post("/v1/search", json={"query": "password"},
                             headers={"Authorization": bad}).status_code == 401


def test_revoking_a_key_stops_it_at_once(h: Harness) -> None:
    store: KeyStore = h.app.state.keys
    new = store.create("short-lived", Role.chatbot)
    assert h.client.post("/v1/search", json={"query": "x y"}, headers=_auth(new.secret)).status_code == 200
    store.revoke(new.info.id)
    r = h.client.post("/v1/search", json={"query": "x y"}, headers=_auth(new.secret))
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_admin_manages_keys_over_http(h: Harness) -> None:
    admin = _auth(h.keys["admin"])
    r = h.client.post("/v1/keys", json={"name": "web", "role": "chatbot", "expires": "30d"}, headers=admin)
    assert r.status_code == 201
    created = r.json()
    assert created["key"]["role"] == "chatbot" and created["secret"].startswith(f"skb_{created['key']['id']}_")
    listed = h.client.get("/v1/keys", headers=admin).json()
    assert "web" in [k["name"] for k in listed] and all("secret" not in k for k in listed)
    assert h.client.delete(f"/v1/keys/{created['key']['id']}", headers=admin).json()["revoked_at"] is not None
    assert h.client.post("/v1/search", json={"query": "x"}, headers=_auth(created["secret"])).status_code == 401


def test_expiry_parsing() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parse_expiry("30d", now) == dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
    assert parse_expiry("12h", now) == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert parse_expiry("2027-03-04", now) == dt.datetime(2027, 3, 4, tzinfo=dt.UTC)
    assert parse_expiry(None, now) is None
    for bad in ("soon", "2025-01-01", "-3d"):
        with pytest.raises(BadInput):
            parse_expiry(bad, now)


def test_rate_limit_is_per_key_with_retry_after(tmp_path: Path) -> None:
    with harness(tmp_path / "kb", rate_limits={"chatbot": "2/minute", "admin": "100/minute"}) as h:
        bot, admin = _auth(h.keys["chatbot"]), _auth(h.keys["admin"])
        assert [h.client.post("/v1/search", json={"query": "ship"}, headers=bot).status_code
                for _ in range(3)] == [200, 200, 429]
        r = h.client.post("/v1/search", json={"query": "ship"}, headers=bot)
        assert r.json()["error"] == "rate_limited" and 1 <= int(r.headers["retry-after"]) <= 60
        assert h.client.post("/v1/search", json={"query": "ship"}, headers=admin).status_code == 200


def test_body_size_and_field_limits(tmp_path: Path) -> None:
    with harness(tmp_path / "kb", max_body_bytes=2048) as h:
        bot = _auth(h.keys["chatbot"])
        r = h.client.post("/v1/ask", json={"question": "x" * 3000}, headers=bot)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        chunked = h.client.post("/v1/ask", content=iter([b'{"question": "', b"y" * 4000, b'"}']),
                                headers={**bot, "content-type": "application/json"})
        assert chunked.status_code == 413 and chunked.json()["error"] == "too_large"
        too_many = {f"k{i}": "v" for i in range(21)}
        for body in ({"question": "hi", "customer": too_many}, {"question": "hi", "customer": {"tier": "v" * 201}},
                     {"question": "hi", "session_id": "s" * 129}, {"question": "hi", "session_id": "a b"},
                     {"question": "hi", "filters": {"tags": ["t"] * 21}}, {"question": "hi", "filters": {"x": "y"}},
                     {"question": "hi\x00"}):
            assert h.client.post("/v1/ask", json=body, headers=bot).status_code == 422, body
        admin = _auth(h.keys["admin"])
        assert h.client.get("/v1/gaps?days=0", headers=admin).status_code == 422
        assert h.client.get("/v1/gaps?days=366", headers=admin).status_code == 422
        assert h.client.get("/v1/gaps?limit=201", headers=admin).status_code == 422
        r = h.client.post("/v1/resolutions", headers=admin,
                          json={"resolution_id": "r", "answer": "a", "questions": ["q"] * 21})
        assert r.status_code == 422


def test_cors_closed_by_default_and_open_to_the_allow_list(tmp_path: Path) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    with harness(tmp_path / "a") as h:
        r = h.client.options("/v1/ask", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
    with harness(tmp_path / "b", cors_origins=["https://shop.example"]) as h:
        r = h.client.options("/v1/ask", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        r = h.client.options("/v1/ask", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_docs_can_be_turned_off(tmp_path: Path) -> None:
    with harness(tmp_path / "kb", docs=False) as h:
        for path in ("/openapi.json", "/docs", "/redoc"):
            r = h.client.get(path)
            assert r.status_code == 404 and r.json()["error"] == "not_found"


class _Exploding:
    """A knowledge base whose search fails the way a bug or a backend would."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def search(self, *args: Any, **kwargs: Any) -> Any:
        raise self.exc


@pytest.mark.parametrize(("exc", "status", "code"), [
    (RuntimeError("boom at /srv/kb/secret-path with password hunter2"), 500, "internal"),
    (BackendError("cannot open Qdrant at http://user:hunter2@qdrant:6333"), 503, "backend_error"),
    (OperationalError("SELECT 1", {}, Exception("database is locked")), 503, "busy"),
])
def test_unexpected_and_backend_errors_hide_internals(h: Harness, caplog: pytest.LogCaptureFixture,
                                                      exc: Exception, status: int, code: str) -> None:
    h.app.dependency_overrides[get_kb] = lambda: _Exploding(exc)
    with caplog.at_level(logging.WARNING):
        r = h.client.post("/v1/search", json={"query": "anything"}, headers=_auth(h.keys["chatbot"]))
    h.app.dependency_overrides.clear()
    body = r.json()
    assert r.status_code == status and body["error"] == code
    assert body["request_id"] == r.headers["x-request-id"] and len(body["request_id"]) == 32
    assert "hunter2" not in r.text and "/srv" not in r.text and "Traceback" not in r.text
    if status == 503:
        assert int(r.headers["retry-after"]) >= 1
    assert body["request_id"] in caplog.text  # the details go to the log, under the request id


def test_auth_off_is_warned_and_refused_off_loopback(tmp_path: Path, fake_kb: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    settings = fake_kb.settings.model_copy(update={"auth": "off"})
    with caplog.at_level(logging.WARNING), TestClient(create_app(settings, kb=fake_kb)) as client:
        assert client.get("/v1/stats").status_code == 200  # anyone may do anything
    assert "KB_AUTH=off" in caplog.text
    check_auth_binding(settings.model_copy(update={"host": "127.0.0.1"}))
    check_auth_binding(settings.model_copy(update={"host": "0.0.0.0", "auth": "on"}))
    for host in ("0.0.0.0", "10.1.2.3", "::"):
        with pytest.raises(BadInput, match="KB_AUTH=off"):
            check_auth_binding(settings.model_copy(update={"host": host}))
        with pytest.raises(BadInput):
            create_app(settings.model_copy(update={"host": host}), kb=fake_kb)


def test_auth_is_on_by_default(tmp_path: Path, fake_kb: Any) -> None:
    assert fake_kb.settings.auth == "on"
    with TestClient(create_app(fake_kb.settings, kb=fake_kb)) as client:
        assert client.post("/v1/ask", json={"question": "hi"}).status_code == 401
        assert client.get("/healthz").status_code == 200


def test_a_session_belongs_to_the_key_that_made_it() -> None:
    from api.mappers import SourceNames, question_of
    from api.schemas import AskRequest
    from tests.api_client import caller_of

    body = AskRequest(question="and for international orders?", session_id="s-1")
    names = SourceNames(Path.cwd())
    mine = question_of(body, names, caller_of(Role.chatbot, "key-a")).session_id
    theirs = question_of(body, names, caller_of(Role.chatbot, "key-b")).session_id
    assert (mine, theirs) == ("key-a:s-1", "key-b:s-1")
    assert question_of(AskRequest(question="hi"), names, caller_of()).session_id is None


def test_unknown_routes_methods_and_broken_json_get_json_errors(h: Harness) -> None:
    bot = _auth(h.keys["chatbot"])
    r = h.client.get("/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = h.client.put("/v1/ask", json={"question": "hi"}, headers=bot)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    r = h.client.post("/v1/ask", content=b'{"question": ', headers={**bot, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "bad_input"
    assert "Traceback" not in r.text


def test_rate_limits_are_shared_through_redis(tmp_path: Path) -> None:
    import uuid

    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    from api.ratelimit import RateLimiter
    from core.errors import RateLimited
    from tests.api_client import caller_of

    uri = "redis://127.0.0.1:6379/15"
    replicas = [RateLimiter({"chatbot": "3/minute"}, uri) for _ in range(2)]
    caller = caller_of(Role.chatbot, f"k{uuid.uuid4().hex[:8]}")
    replicas[0].check(caller)
    replicas[1].check(caller)
    replicas[0].check(caller)
    with pytest.raises(RateLimited) as err:
        replicas[1].check(caller)
    assert 1 <= err.value.retry_after_s <= 60


def test_kb_keys_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("KB_HOME", str(tmp_path / "kb"))
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "web", "--role", "chatbot", "--expires", "30d", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    key_id, secret = created["key"]["id"], created["secret"]
    assert secret.startswith(f"skb_{key_id}_") and created["key"]["expires_at"]
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and key_id in listed.stdout and "chatbot" in listed.stdout
    assert secret not in listed.stdout and secret.split("_")[-1] not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", "web"]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).stdout
    assert runner.invoke(app, ["keys", "create", "x", "--role", "root"]).exit_code != 0
