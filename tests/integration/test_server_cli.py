"""Editors and the chatbot at once (issue 13): a ``kb serve`` subprocess owns a temporary KB_HOME (fake embedder)
and the ``kb`` commands send their work to it; jobs with progress, quarantine, failure and cancellation; a stale
server file after kill -9; ``--workers 2`` refused on the embedded index."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE
from tests.ticket_samples import write_hub_tickets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    return {**env, "KB_HOME": str(home), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none",
            "KB_PURGE_INTERVAL_S": "0"}


def kb(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          env={**env_for(home), **extra}, timeout=300)


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (home.parent / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(self.port)],
                                     env=env_for(home), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(home.parent / f'server-{self.port}.log').read_text()}")
            if (home / "server.json").is_file():
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        self.key = (home / "local.key").read_text().strip()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/v1/jobs/{job_id}").json())

    def wait(self, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.time() + timeout_s
        job = self.job(job_id)
        while job["state"] in ("queued", "running") and time.time() < deadline:
            time.sleep(0.1)
            job = self.job(job_id)
        return job

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("served") / "kb")
    yield s
    s.stop()
    assert not (s.home / "server.json").exists(), "a clean stop removes the announcement"


def make_corpus(folder: Path, files: int = 40, entries: int = 30) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        rows = [{"id": f"bulk{i}-{j}", "question": f"How do I set up part {j} of kit {i} step by step?",
                 "answer": f"Open kit {i}, take part {j}, follow the wiring card {i}-{j}."} for j in range(entries)]
        (folder / f"faq{i:03d}.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return folder


def test_local_credential_and_announcement(server: Server) -> None:
    info = json.loads((server.home / "server.json").read_text())
    assert info["url"] == server.url and info["pid"] == server.proc.pid
    assert (server.home / "local.key").stat().st_mode & 0o777 == 0o600
    assert httpx.get(f"{server.url}/v1/stats").status_code == 401  # nothing without a key


def test_ingest_through_the_server_then_ask_answers_from_it(server: Server, tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer\npaint-1,How do I paint my bicycle purple?,Use the purple paint kit.\n"
                   "bad-1,,no question\n", encoding="utf-8")
    r = kb(server.home, "ingest", str(faq), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["entries"] == 1 and report["quarantined"][0]["reason"] == "missing question"
    job = server.http.get("/v1/jobs", params={"limit": 1}).json()[0]
    assert job["kind"] == "ingest" and job["state"] == "done"
    assert [q["reason"] for q in job["quarantined"]] == ["missing question"]
    answer = server.http.post("/v1/ask", json={"question": "How do I paint my bicycle purple?"}).json()
    assert answer["decision"] == "answer" and answer["answer"] == "Use the purple paint kit."
    r = kb(server.home, "ingest", str(faq))  # the same file again: unchanged (sources keep their names)
    assert r.returncode == 0 and "1 unchanged" in r.stdout
    r = kb(server.home, "stats", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["entries"] == 1


def test_review_and_calibrate_through_the_server(server: Server, tmp_path: Path) -> None:
    path = write_hub_tickets(tmp_path / "tickets.csv")
    r = kb(server.home, "ingest", str(path), "--tickets", "--map", "id=id", "--map", "text=q", "--map", "reply=a",
           "--map", "status=status")
    assert r.returncode == 0, r.stderr
    listed = json.loads(kb(server.home, "review", "--json").stdout)
    assert [c["count"] for c in listed["candidates"]] == [2, 1]
    top, other = listed["candidates"][0]["id"], listed["candidates"][1]["id"]
    r = kb(server.home, "review", "approve", top, "--by", "eve", "--json")
    assert r.returncode == 0, r.stderr
    entry_id = json.loads(r.stdout)["entry_id"]
    r = kb(server.home, "review", "reject", entry_id, "--by", "eve")  # an entry is retired, never "rejected"
    assert r.returncode == 3 and "kb review retire" in r.stderr
    r = kb(server.home, "review", "retire", entry_id, "--by", "eve")
    assert r.returncode == 0 and f"entry {entry_id}: retired" in r.stdout, r.stdout + r.stderr
    assert kb(server.home, "review", "reject", other, "--by", "eve").returncode == 0
    r = kb(server.home, "review", "reject", other, "--by", "eve")
    assert r.returncode == 2 and "already rejected" in r.stderr  # same exit code as working directly

    assert kb(server.home, "ingest", str(SAMPLE / "faq.jsonl")).returncode == 0
    r = kb(server.home, "calibrate", str(SAMPLE / "eval.jsonl"), "--learn")
    assert r.returncode == 0 and r.stdout.startswith("calibrated on 99 questions"), r.stderr
    assert r.stdout.splitlines()[1].startswith("learned 62 labelled question(s) as phrasings of 60 entries")
    stats = json.loads(kb(server.home, "stats", "--json").stdout)
    assert stats["calibration"]["n"] == 99


def test_a_failed_job_and_its_message(server: Server) -> None:
    posted = server.http.post("/v1/ingest", data={"paths": json.dumps(["/nonexistent/faq.csv"])})
    assert posted.status_code == 202
    job = server.wait(posted.json()["id"])
    assert job["state"] == "failed" and job["error_code"] == "bad_input"
    assert "no such file or folder: /nonexistent/faq.csv" in job["error"]
    r = kb(server.home, "ingest", str(SAMPLE / "faq.jsonl"), "--tickets", "--map", "text=no_such_column")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_progress_cancel_and_readers_during_a_job(server: Server, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "bulk")
    job_id = server.http.post("/v1/ingest", data={"paths": json.dumps([str(corpus)])}).json()["id"]
    seen: list[dict[str, Any]] = []
    asks = []
    deadline = time.time() + 120
    while time.time() < deadline:
        job = server.job(job_id)
        seen.append(job)
        asks.append(server.http.post("/v1/ask", json={"question": "How do I paint my bicycle purple?"}).status_code)
        if job["state"] == "running" and job["done"] > 0:
            break
        time.sleep(0.05)
    assert set(asks) == {200}  # readers keep answering during the job
    assert server.http.delete(f"/v1/jobs/{job_id}").status_code == 200
    job = server.wait(job_id)
    assert job["state"] == "cancelled", job
    assert 0 < job["done"] <= job["total"]
    stats = server.http.get("/v1/stats").json()
    assert stats["index_points"] == stats["units"]  # the cancelled file's half-written vectors were dropped

    r = kb(server.home, "ingest", str(corpus))  # the same files again finish the work
    assert r.returncode == 0, r.stderr
    done = server.http.get("/v1/jobs", params={"limit": 1}).json()[0]
    assert done["state"] == "done" and done["done"] == done["total"] > 0 and done["rate_per_s"] > 0
    stats = server.http.get("/v1/stats").json()
    assert stats["index_points"] == stats["units"]


def test_stale_server_file_after_kill_9_and_the_interrupted_job(tmp_path: Path) -> None:
    home = tmp_path / "kb"
    s = Server(home)
    try:
        corpus = make_corpus(tmp_path / "bulk", files=60)
        job_id = s.http.post("/v1/ingest", data={"paths": json.dumps([str(corpus)])}).json()["id"]
        while s.job(job_id)["state"] != "running":
            time.sleep(0.05)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(30)
    finally:
        s.stop()
    assert (home / "server.json").is_file()  # left behind by the crash
    r = kb(home, "stats", "--json")  # ignored: the knowledge base is opened directly
    assert r.returncode == 0, r.stderr
    assert not (home / "server.json").exists()
    s = Server(home)
    try:
        job = s.job(job_id)
        assert job["state"] == "failed" and job["error_code"] == "interrupted" and "run the same" in job["error"]
    finally:
        s.stop()


def test_workers_on_the_embedded_index_are_refused(tmp_path: Path) -> None:
    r = kb(tmp_path / "kb", "serve", "--workers", "2")
    assert r.returncode == 2
    assert "Qdrant Edge allows one open shard per directory" in r.stderr and "KB_QDRANT_URL" in r.stderr


def test_eval_through_the_server(server: Server, tmp_path: Path) -> None:
    assert kb(server.home, "ingest", str(SAMPLE / "faq.jsonl")).returncode == 0
    r = kb(server.home, "eval", str(SAMPLE / "eval.jsonl"), "--out", str(tmp_path / "report"), "--no-ragas")
    assert r.returncode == 0, r.stderr
    assert "decisions: coverage" in r.stdout and (tmp_path / "report" / "report.json").is_file()
    job = server.http.get("/v1/jobs", params={"limit": 1}).json()[0]
    assert job["kind"] == "eval" and job["state"] == "done" and job["done"] == job["total"] > 0


def test_direct_ingest_refuses_when_the_disk_is_too_small(tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer\nok-1,How do I reset it?,Hold the button.\n", encoding="utf-8")
    r = kb(tmp_path / "kb", "ingest", str(faq), KB_DISK_MARGIN_MB=str(10**12))
    assert r.returncode == 9 and "not enough disk space under" in r.stderr and "Traceback" not in r.stderr
