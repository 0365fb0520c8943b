"""Dense query latency on an embedded Qdrant Edge shard of N points before and after ``optimize()`` (HNSW).

A shard written point by point stays in plain segments (every query is exact, brute force) until its
optimizer runs; the ingest pipeline calls it after bulk writes. Random unit vectors stand in for the
embeddings (the search cost depends on the count and the dimension, not on the meaning).

    python -m eval.bench_optimize [--points 50000] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.bm25 import SparseVec
from retrieval.index import IndexPoint
from retrieval.index_edge import EdgeIndex

OUT = Path(__file__).resolve().parent / "results" / "ingest.json"


def _latencies(index: EdgeIndex, queries: np.ndarray) -> dict[str, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search_dense(q, 10)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}


def run(points: int, queries: int, dim: int = 384) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((points, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    probes = vectors[rng.choice(points, queries, replace=False)] + 0.05 * rng.standard_normal((queries, dim))
    with tempfile.TemporaryDirectory() as tmp:
        index = EdgeIndex(Path(tmp) / "index", dim)
        for start in range(0, points, 1000):
            index.upsert([IndexPoint(f"p{i}", vectors[i], SparseVec([], []), {"entry_id": f"e{i}", "unit_id": f"p{i}"})
                          for i in range(start, min(start + 1000, points))])
        index.flush()
        before = _latencies(index, probes)
        exact = [index.search_dense(q, 1)[0].unit_id for q in probes]
        t = time.perf_counter()
        index.optimize()
        optimize_s = time.perf_counter() - t
        after = _latencies(index, probes)
        same_top1 = float(np.mean([index.search_dense(q, 1)[0].unit_id == e for q, e in zip(probes, exact,
                                                                                            strict=True)]))
        index.close()
    return {"points": points, "queries": queries, "before": before, "after": after,
            "optimize_s": round(optimize_s, 1), "hnsw_top1_same_as_exact": round(same_top1, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    result = run(args.points, args.queries)
    print(json.dumps(result))
    results = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    results["optimize"] = {**result, "command": f"python -m eval.bench_optimize --points {args.points}"}
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
