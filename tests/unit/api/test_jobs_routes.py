"""The job routes with the fake embedder: uploads keep the client's file name, server-side paths only under
KB_INGEST_ROOTS for a remote caller, roles (editor ingests, admin runs the admin jobs), watch and cancel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from core.caller import Role
from tests.api_client import client_for

FAQ = "id,question,answer\nship-1,Do you ship to Canada?,Yes in 7-14 days.\nbad-1,,none\n"


def wait(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.time() + 30
    job = client.get(f"/v1/jobs/{job_id}").json()
    while job["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)
        job = client.get(f"/v1/jobs/{job_id}").json()
    return dict(job)


def test_editor_uploads_and_paths_under_the_roots(fake_kb: Any, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "faq.csv").write_text(FAQ, encoding="utf-8")
    (tmp_path / "other.csv").write_text(FAQ, encoding="utf-8")
    settings = fake_kb.settings.model_copy(update={"ingest_roots": [allowed]})
    with client_for(fake_kb, Role.editor, settings) as c:
        r = c.post("/v1/ingest", files=[("files", ("/home/eve/faq.csv", FAQ.encode(), "text/csv"))])
        assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "done")
        job = wait(c, r.json()["id"])
        assert job["state"] == "done" and job["result"]["encodings"] == {"/home/eve/faq.csv": "utf-8"}
        assert job["quarantined"][0]["reason"] == "missing question" and job["created_by"] == "test editor"

        r = c.post("/v1/ingest", data={"paths": f'["{tmp_path / "other.csv"}"]'})
        assert r.status_code == 403 and "is not under KB_INGEST_ROOTS" in r.json()["message"]
        r = c.post("/v1/ingest", data={"paths": f'["{allowed / "faq.csv"}"]'})
        assert r.status_code == 202
        assert wait(c, r.json()["id"])["result"]["encodings"] == {str(allowed / "faq.csv"): "utf-8"}
        assert c.post("/v1/ingest", data={}).status_code == 400
        assert c.post("/v1/admin/reindex").status_code == 403  # admin jobs need the admin role
        assert c.get("/v1/jobs/0123abcd").status_code == 404


def test_paths_are_off_without_roots_and_admin_jobs(fake_kb: Any, tmp_path: Path) -> None:
    (tmp_path / "faq.csv").write_text(FAQ, encoding="utf-8")
    with client_for(fake_kb, Role.admin) as c:
        r = c.post("/v1/ingest", data={"paths": f'["{tmp_path / "faq.csv"}"]'})
        assert r.status_code == 403 and "KB_INGEST_ROOTS is empty" in r.json()["message"]
        c.post("/v1/ingest", files=[("files", ("faq.csv", FAQ.encode(), "text/csv"))])
        r = c.post("/v1/admin/reindex")
        assert r.status_code == 202
        job = wait(c, r.json()["id"])
        assert job["state"] == "done" and job["result"] == {"units": 2} and job["done"] == job["total"] == 2
        r = c.post("/v1/admin/calibrate", json={"questions": None})
        job = wait(c, r.json()["id"])
        assert (job["state"], job["error_code"]) == ("failed", "bad_input")
        assert "no calibration questions stored yet" in job["error"]
        listed = c.get("/v1/jobs", params={"limit": 2}).json()
        assert [j["kind"] for j in listed] == ["calibrate", "reindex"]
        assert c.delete(f"/v1/jobs/{listed[0]['id']}").json()["state"] == "failed"  # over: nothing to cancel
