"""/readyz reports the free space under KB_HOME and turns unready (503, with the reason) under the floor."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app


def test_readyz_free_space(fake_kb: Any, tmp_path: Any) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer\nok-1,How do I reset it?,Hold the button.\n", encoding="utf-8")
    fake_kb.ingest([faq])
    with TestClient(create_app(fake_kb.settings, kb=fake_kb)) as c:
        r = c.get("/readyz")
        assert r.status_code == 200 and r.json()["free_bytes"] > 0
    floor = fake_kb.settings.model_copy(update={"min_free_mb": 10**12})
    with TestClient(create_app(floor, kb=fake_kb)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert "below the floor of 1000000000000 MB (KB_MIN_FREE_MB)" in r.json()["message"]
