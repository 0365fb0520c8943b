"""HTTP contract with the fake embedder: shapes, status codes, error bodies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from service.knowledge_base import KnowledgeBase
from tests.api_client import client_for

FAQ = [
    {"id": "ship-1", "question": "Do you ship to Canada?", "answer": "Yes, in 7-14 days.", "lang": "en"},
    {"id": "pw-1", "question": "How do I reset my password?", "answer": "Tap Forgot password.", "lang": "en"},
]


@pytest.fixture
def client(fake_kb: KnowledgeBase, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in FAQ), encoding="utf-8")
    fake_kb.ingest([path])
    with client_for(fake_kb) as c:
        yield c


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_points"] == 4


def test_not_ready_when_empty(fake_kb: KnowledgeBase) -> None:
    with TestClient(create_app(fake_kb.settings, kb=fake_kb)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["error"] == "not_ready"


def test_search_shape(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "reset my password", "top_k": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"hits", "request_id", "latency_ms"}
    top = body["hits"][0]
    assert top["entry_id"] == "pw-1" and top["doc_id"] is None
    assert {"chunk_id", "text", "score", "source", "metadata"} <= set(top)


def test_ask_shape(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "How do I reset my password?", "session_id": "s1",
                                     "customer": {"tier": "vip"}})
    assert r.status_code == 200
    body = r.json()
    assert {"answer", "citations", "related", "request_id", "latency_ms"} <= set(body)
    if body["decision"] == "answer":
        assert body["answer"] == "Tap Forgot password." and body["citations"][0]["entry_id"] == "pw-1"


def test_bad_requests(client: TestClient) -> None:
    assert client.post("/v1/search", json={"query": ""}).status_code == 422
    assert client.post("/v1/search", json={"query": "x", "top_k": 0}).status_code == 422
    r = client.post("/v1/search", json={"query": "   "})
    assert r.status_code == 400
    assert r.json() == {"error": "bad_input", "message": "empty query", "request_id": r.headers["x-request-id"]}
    assert client.post("/v1/ask", json={}).status_code == 422


def test_import_api_does_not_load_torch() -> None:
    code = ("import api.app, service.knowledge_base, sys; "
            "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
