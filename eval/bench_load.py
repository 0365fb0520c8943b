"""Load benchmark of ``/v1/ask`` over HTTP: throughput, latency and CPU per request against the query
embedder's ceiling and a plain LlamaIndex peer; ingestion while the API is under load. Writes
``eval/results/load.json`` (shape in issue 14).

    python -m eval.bench_load [--duration 15] [--quick] [--skip-peer] [--only unique|zipf]
                              [--api-key KEY] [--generator auto|wrk|python]

Steps: build a knowledge base of >= 3,000 FAQ entries from ../shared/data (``eval.load_data``) with
``kb ingest`` into a KB_HOME cached under ``--cache-dir`` by a hash of its input; measure the embedder
alone on the same questions (no server running); for each traffic mix (``unique``: every question once,
in order; ``zipf``: sampled with exponent ~1.1) start a fresh ``kb serve`` on a copy of that KB_HOME,
wait for ``/readyz`` and drive ``/v1/ask`` at each concurrency for ``--duration`` seconds, right after
readiness (no warm-up: ready must mean warm). Per run: req/s, latency percentiles, errors, server CPU
seconds per request (utime+stime of the server's processes), cache hit rate (from ``/metrics``). Then
hit@1 of our ``/v1/ask`` over a fixed question set, ingestion of held-out entries through the running
server under load, and the peer (``scripts/peer_llamaindex.py``) on the same questions and generator.

Each served copy gets fresh API keys from ``kb keys create`` (chatbot for ``/v1/ask``, admin for
``/metrics``) unless ``--api-key`` is given (then it is sent everywhere), and ``KB_RATE_LIMITS`` far above
what the machine can serve (unless set in the environment): the benchmark measures the server, not its
rate limiter. Index builds run with ``OMP_NUM_THREADS=1``; servers inherit the environment as it is.
``--quick`` writes to a temporary file, not to ``eval/results/load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.ceiling import ceiling_rates, embedder_ceiling
from eval.load_data import REPO, LoadData, PoolQuestion, build_load_data
from eval.load_server import (
    BUILD_ENV,
    UNLIMITED,
    Server,
    ask_all,
    cache_counts,
    create_key,
    ensure_kb,
    entry_ids,
    error_sample,
    hit_at_1,
    log,
    serving,
)
from eval.loadgen import (
    LoadResult,
    LoadRun,
    ask_body,
    unique_indices,
    write_bodies,
    wrk_available,
    zipf_indices,
)

OUT = REPO / "eval" / "results" / "load.json"
PEER = REPO / "scripts" / "peer_llamaindex.py"  # a separate program, not part of supportkb


# ---------------------------------------------------------------------------------------------- measurements


def _brief(r: LoadResult) -> dict[str, Any]:
    return {"requests": r.requests, "errors": r.errors, "p95_ms": r.latency_ms.get("p95"),
            "generator_cpu_s": r.generator_cpu_s}


def run_row(result: LoadResult, cpu_s: float, cache: float | None) -> dict[str, Any]:
    lat = result.latency_ms
    return {"rps": round(result.rps, 2), "p50_ms": round(lat.get("p50", 0.0), 1),
            "p95_ms": round(lat.get("p95", 0.0), 1), "p99_ms": round(lat.get("p99", 0.0), 1),
            "max_ms": round(lat.get("max", 0.0), 1),
            "errors": result.error_count,
            "cpu_s_per_req": round(cpu_s / result.requests, 5) if result.requests else None,
            "cache_hit_rate": None if cache is None else round(cache, 4)}


class Bench:
    def __init__(self, args: argparse.Namespace, data: LoadData, workdir: Path) -> None:
        self.args = args
        self.data = data
        self.workdir = workdir
        self.questions = [q.question for q in data.pool]
        self.ask_bodies = [ask_body(q.question, q.context) for q in data.pool]
        pairs = (h.split(":", 1) for h in args.header)
        self.headers = {k.strip(): v.strip() for k, v in pairs}  # --header / --api-key: sent on every request
        self.offset = 0  # unique questions already sent: runs continue from here, so nothing repeats
        self.details: dict[str, Any] = {}
        self.body_len = 200_000 if not args.quick else 20_000

    def bodies(self, mode: str, name: str) -> Path:
        path = self.workdir / f"bodies-{name.replace('/', '-')}.txt"
        n = len(self.questions) if mode == "unique" else self.body_len
        if mode == "unique":
            idx = unique_indices(len(self.questions), n, self.offset)
        else:
            idx = zipf_indices(len(self.questions), n, self.args.zipf_exponent, seed=self.args.seed)
        return write_bodies(path, self.ask_bodies, idx)

    def advance(self, result: LoadResult, concurrency: int) -> bool:
        """Move the unique offset past every question this run sent (in-flight ones included); True when the
        run went through the whole pool (questions repeated)."""
        used = result.next_index if result.next_index is not None else result.requests + concurrency
        wrapped = used > len(self.questions)
        self.offset = (self.offset + used) % len(self.questions)
        return wrapped

    def measure(self, server: Server, mode: str, concurrency: int, duration_s: float, label: str,
                advance: bool = True) -> dict[str, Any]:
        bodies = self.bodies(mode, label)
        m0, cpu0 = server.metrics(), server.cpu()
        result = LoadRun(bodies, server.url + "/v1/ask", concurrency, duration_s, server.ask_header_lines,
                         self.args.generator).wait(timeout_s=duration_s + 300)
        cpu1, m1 = server.cpu(), server.metrics()
        cache = None
        c0, c1 = (cache_counts(m0) if m0 else None), (cache_counts(m1) if m1 else None)
        if c0 is not None and c1 is not None and c1[1] > c0[1]:
            cache = (c1[0] - c0[0]) / (c1[1] - c0[1])
        wrapped = False
        if mode == "unique" and advance:
            wrapped = self.advance(result, concurrency)
        row = run_row(result, cpu1 - cpu0, cache)
        self.details[label] = {"requests": result.requests, "duration_s": round(result.duration_s, 2),
                               "server_cpu_s": round(cpu1 - cpu0, 2), "generator": result.generator,
                               "generator_cpu_s": result.generator_cpu_s, "errors": result.errors,
                               "pool_wrapped": wrapped}
        if result.error_count:
            self.details[label]["error_sample"] = error_sample(server, self.questions[0])
        log(f"{label}: {row['rps']} req/s p50 {row['p50_ms']} p95 {row['p95_ms']} p99 {row['p99_ms']} "
            f"max {row['max_ms']} ms, errors {row['errors']}, cpu/req {row['cpu_s_per_req']}, "
            f"cache {row['cache_hit_rate']}, generator cpu {result.generator_cpu_s} s")
        return row

    def kb_server(self, home: Path, name: str) -> Any:
        copy = self.workdir / f"home-{name}"
        shutil.copytree(home, copy)
        env = {"KB_HOME": str(copy), "KB_RATE_LIMITS": os.environ.get("KB_RATE_LIMITS", UNLIMITED)}
        ask, admin = dict(self.headers), dict(self.headers)
        if not self.args.api_key:
            for role, headers in (("chatbot", ask), ("admin", admin)):
                secret = create_key(copy, role)
                if secret:
                    headers["Authorization"] = f"Bearer {secret}"
        return serving(["-m", "cli.main", "serve"], env, self.workdir, name, ask, admin), copy

    # ------------------------------------------------------------------------------------------ ingest

    def ingest_during_load(self, server: Server, home: Path, new_file: Path) -> tuple[dict[str, Any] | None, dict]:
        a = self.args
        before_s = 3 if a.quick else 10
        info: dict[str, Any] = {"entries": len(self.data.new_entries)}
        before = LoadRun(self.bodies("unique", "ingest-before"), server.url + "/v1/ask", 4, before_s,
                         server.ask_header_lines, a.generator).wait(timeout_s=before_s + 300)
        self.advance(before, 4)
        during_run = LoadRun(self.bodies("unique", "ingest-during"), server.url + "/v1/ask", 4, 3600,
                             server.ask_header_lines, a.generator)
        time.sleep(1.0)
        # The CLI finds the server running for KB_HOME and authenticates with the local credential there.
        env = {**os.environ, "KB_HOME": str(home)}
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(new_file)], cwd=REPO, env=env,
                              capture_output=True, text=True)
        t_end = time.monotonic()
        during_run.stop()
        during = during_run.wait(timeout_s=120)
        self.advance(during, 4)
        info.update(ingest_s=round(t_end - t0, 2), ingest_exit=proc.returncode,
                    ingest_output=(proc.stdout + proc.stderr).strip()[-1500:],
                    before=_brief(before), during=_brief(during))
        if proc.returncode != 0:
            held = "WouldBlock" in proc.stderr or "WAL" in proc.stderr
            info["reason"] = ("`kb ingest` cannot run beside the server: the server holds the embedded index "
                              "(issue 13, ingestion through the server, not done yet)" if held else
                              f"`kb ingest` through the running server failed with exit {proc.returncode}")
            return None, info
        # Visibility: keep the load on; poll a sample of the new entries until each is retrieved for its
        # own question, then confirm every one of them.
        after_run = LoadRun(self.bodies("unique", "ingest-after"), server.url + "/v1/ask", 4, 3600,
                            server.ask_header_lines, a.generator)
        questions = {e["id"]: e["question"] for e in self.data.new_entries}
        sample = list(questions)[:: max(1, len(questions) // 20)]
        pending, confirmed = set(sample), False
        deadline = t_end + (60 if a.quick else 300)
        visible_at = None
        while time.monotonic() < deadline:
            ids = sorted(pending) if pending else sorted(questions)
            bodies = asyncio.run(ask_all(server.url, [questions[i] for i in ids], server.ask_headers,
                                                concurrency=2))
            missing = {i for i, b in zip(ids, bodies, strict=True) if b is None or i not in entry_ids(b)}
            if not pending and not missing:
                confirmed = True
                break
            pending = missing
            if not pending and visible_at is None:
                visible_at = time.monotonic()
            elif pending and visible_at is not None:  # the full check found stragglers
                visible_at = None
            time.sleep(0.2 if pending else 0)
        after_run.stop()
        after = after_run.wait(timeout_s=120)
        self.advance(after, 4)
        info["after"] = _brief(after)
        info["not_visible"] = sorted(pending)[:20]
        info["all_confirmed"] = confirmed
        return {
            "failed_requests": before.error_count + during.error_count + after.error_count,
            "p95_ms_before": round(before.latency_ms.get("p95", 0.0), 1),
            "p95_ms_during": round(during.latency_ms.get("p95", 0.0), 1),
            "seconds_until_visible": round(visible_at - t_end, 2) if confirmed and visible_at else None,
        }, info

    # ------------------------------------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        a = self.args
        out: dict[str, Any] = {}
        t_build = time.monotonic()
        home, new_file, build = ensure_kb(self.data, Path(a.cache_dir), a.rebuild)
        self.details["kb_build"] = {**build, "seconds_this_run": round(time.monotonic() - t_build, 1)}
        n_ceiling = 80 if a.quick else 600
        if a.skip_ceiling:
            out["embedder_ceiling"] = None
        else:
            log(f"embedder ceiling on {n_ceiling} pool questions")
            out["embedder_ceiling"] = embedder_ceiling(self.questions[:n_ceiling], self.workdir,
                                                       budget_s=3.0 if a.quick else 8.0)
            log(f"embedder ceiling: {out['embedder_ceiling']}")
        modes = [a.only] if a.only else ["unique", "zipf"]
        hit_pool = self.data.pool[: (150 if a.quick else 1000)]
        for i, mode in enumerate(modes):
            ctx, _ = self.kb_server(home, f"kb-{mode}")
            with ctx as server:
                self.details[f"ready_s_{mode}"] = round(server.ready_s, 1)
                out[mode] = {f"c{c}": self.measure(server, mode, c, a.duration, f"{mode}/c{c}") for c in a.concurrency}
                if i == len(modes) - 1:
                    log(f"hit@1 of /v1/ask over {len(hit_pool)} questions")
                    hit = hit_at_1(server.url, hit_pool, server.ask_headers)
                    out["hit@1"] = hit.pop("hit@1")
                    self.details["hit@1"] = hit
        if a.skip_ingest:
            out["ingest_during_load"] = None
            self.details["ingest_during_load"] = {"reason": "--skip-ingest"}
        else:
            ctx, copy = self.kb_server(home, "kb-ingest")
            with ctx as server:
                log(f"ingest of {len(self.data.new_entries)} new entries under load at c4")
                out["ingest_during_load"], self.details["ingest_during_load"] = self.ingest_during_load(
                    server, copy, new_file)
                log(f"ingest_during_load: {out['ingest_during_load']} "
                    f"{self.details['ingest_during_load'].get('reason', '')}")
        if not a.skip_peer:
            out["peer"] = self.run_peer(Path(a.cache_dir), home.parent / "faq.jsonl", modes, hit_pool)
        return out

    def run_peer(self, cache_dir: Path, faq: Path, modes: list[str], hit_pool: Sequence[PoolQuestion]) -> dict:
        store = cache_dir / f"peer-{self.data.digest()}"
        peer: dict[str, Any] = {}
        log("peer: building its index (cached)")
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(PEER), str(faq), "--store", str(store),
                               "--build-only"], cwd=REPO, env={**os.environ, **BUILD_ENV}, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"peer index build failed: {proc.stderr[-2000:]}")
        self.details["peer_build_s"] = round(time.monotonic() - t0, 1)
        self.offset = 0  # the peer gets the same unique questions as our first run
        with serving([str(PEER), str(faq), "--store", str(store)], {}, self.workdir, "peer",
                     self.headers, self.headers, ready_timeout_s=1800) as server:
            for mode in modes:
                peer[mode] = {"c4": self.measure(server, mode, 4, self.args.duration, f"peer/{mode}/c4")}
            log(f"peer hit@1 over {len(hit_pool)} questions")
            hit = hit_at_1(server.url, hit_pool, server.ask_headers)
            peer["hit@1"] = hit.pop("hit@1")
            self.details["peer_hit@1"] = hit
        return peer


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (absolute req/s differ about 2x between the machines these sessions run on)."""
    import platform

    info = Path("/proc/cpuinfo")
    for line in info.read_text(encoding="utf-8").splitlines() if info.is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def generator_name(choice: str) -> str:
    if choice == "python" or (choice == "auto" and not wrk_available()):
        return "python asyncio httpx (eval.loadgen)"
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    first = (version.stdout + version.stderr).strip().splitlines()
    return f"{first[0] if first else 'wrk'} + Lua body walker (eval.loadgen)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=15.0, help="seconds per run (default 15)")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16, 64])
    p.add_argument("--quick", action="store_true", help="small knowledge base and 3 s runs: a smoke test")
    p.add_argument("--skip-peer", action="store_true")
    p.add_argument("--skip-ingest", action="store_true")
    p.add_argument("--skip-ceiling", action="store_true", help="no embedder ceiling (for trying the rest)")
    p.add_argument("--only", choices=["unique", "zipf"])
    p.add_argument("--zipf-exponent", type=float, default=1.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--api-key", default=os.environ.get("KB_BENCH_API_KEY"),
                   help="sent as 'Authorization: Bearer KEY' (or KB_BENCH_API_KEY)")
    p.add_argument("--header", action="append", default=[], help="extra request header 'Name: value'")
    p.add_argument("--cache-dir", default="/tmp/supportkb-loadkb", help="ingested knowledge bases, by input hash")
    p.add_argument("--rebuild", action="store_true", help="ingest again even when a cached KB_HOME exists")
    p.add_argument("--ceiling-worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--ceiling-budget", type=float, default=8.0, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=None, help=f"default {OUT.relative_to(REPO)} (quick: a temp file)")
    args = p.parse_args(argv)
    if args.quick and "--duration" not in (argv if argv is not None else sys.argv[1:]):
        args.duration = 3.0
    if args.api_key:
        args.header.append(f"Authorization: Bearer {args.api_key}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from core.offline import apply_offline_env

    apply_offline_env()
    if args.ceiling_worker:
        questions = json.loads(args.ceiling_worker.read_text(encoding="utf-8"))
        print(json.dumps(ceiling_rates(questions, args.ceiling_budget)))
        return
    data = build_load_data(quick=args.quick, seed=args.seed)
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        bench = Bench(args, data, Path(tmp))
        try:
            results = bench.run()
        except Exception:
            logs = sorted(Path(tmp).glob("*.log"))
            for p in logs:
                log(f"--- {p.name} (tail)\n{p.read_text(errors='replace')[-2000:]}")
            raise
    ordered: dict[str, Any] = {k: results[k] for k in ("unique", "zipf", "peer", "hit@1", "embedder_ceiling",
                                                      "ingest_during_load") if k in results}
    ordered["meta"] = {
        "commit": git_commit(), "date": started.isoformat(timespec="seconds"), "entries": len(data.entries),
        "generator": generator_name(args.generator),
        "duration_s": args.duration, "quick": args.quick, "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "pool_questions": len(data.pool), "zipf_exponent": args.zipf_exponent, "new_entries": len(data.new_entries),
        "auth_header": bool(args.api_key), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "runs": bench.details,
        "notes": "Runs start right after /readyz (no warm-up). Each mix has its own fresh server for c1..c64 in "
                 "that order. unique: each run continues the pool where the previous one stopped, so no question "
                 "repeats unless pool_wrapped; zipf: the cache warms across the runs. hit@1: top citation, else "
                 "first related entry (our /v1/ask), top hit (peer). "
                 "seconds_until_visible: from the end of `kb ingest` until a sample of the new entries, then "
                 "all of them, appear in /v1/ask's citations or related for their own question.",
    }
    out = args.out or (Path(tempfile.gettempdir()) / "load-quick.json" if args.quick else OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ordered, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out}")
    print(json.dumps({k: v for k, v in ordered.items() if k != "meta"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
