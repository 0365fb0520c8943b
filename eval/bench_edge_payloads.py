"""What the Edge index's light-payload map saves per search: ``eval/results/edge_payloads.json``.

A shard of ``--points`` synthetic points (384-d, the light payload keys plus a text), searched with the batch a
question makes (dense 55, BM25 55, dense 35 over answers and chunks), before ``EdgeIndex.warm`` (the shard turns
each hit's payload into Python objects) and after it (ids and scores only, payloads from the map). Also: the
time ``warm`` takes and the memory the map holds (tracemalloc). Search time here is held with the GIL, so it is
also time no other request thread runs.

    python -m eval.bench_edge_payloads [--points 8000] [--batches 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_retrieval import _git_commit
from eval.datasets import REPO
from retrieval.bm25 import SparseVec
from retrieval.index import DENSE, SPARSE, IndexPoint, SearchQuery
from retrieval.index_edge import EdgeIndex

OUT = REPO / "eval" / "results" / "edge_payloads.json"
DIM = 384


def _points(n: int, rng: np.random.Generator) -> list[IndexPoint]:
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kinds = ("question", "question", "question", "answer", "chunk")
    return [IndexPoint(f"unit-{i:07d}", vectors[i],
                       SparseVec(sorted({int(t) for t in rng.integers(0, 5000, 12)}), [1.0] * 12),
                       {"unit_id": f"unit-{i:07d}", "entry_id": f"entry-{i // 4:06d}", "doc_id": None,
                        "kind": kinds[i % 5], "source": f"source-{i % 7}", "product": None,
                        "text": f"phrasing or passage number {i} " * 8})
            for i in range(n)]


def _batches(n: int, rng: np.random.Generator) -> list[list[SearchQuery]]:
    out = []
    for _ in range(n):
        v = rng.normal(size=DIM).astype(np.float32)
        v /= np.linalg.norm(v)
        terms = sorted({int(t) for t in rng.integers(0, 5000, 6)})
        out.append([SearchQuery(DENSE, v, 55), SearchQuery(SPARSE, SparseVec(terms, [1.0] * len(terms)), 55),
                    SearchQuery(DENSE, v, 35, kinds=("answer", "chunk"))])
    return out


def _ms_per_batch(index: EdgeIndex, batches: list[list[SearchQuery]]) -> float:
    for queries in batches[:10]:
        index.search_batch(queries)
    start = time.perf_counter()
    for queries in batches:
        index.search_batch(queries)
    return round((time.perf_counter() - start) * 1000 / len(batches), 3)


def measure(points: int, batches: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        index = EdgeIndex(Path(tmp) / "index", DIM)
        made = _points(points, rng)
        for start in range(0, len(made), 1000):
            index.upsert(made[start : start + 1000])
        index.optimize()
        queries = _batches(batches, rng)
        cold = _ms_per_batch(index, queries)
        tracemalloc.start()
        began = time.perf_counter()
        index.warm()
        warm_s = time.perf_counter() - began
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        warm = _ms_per_batch(index, queries)
        index.close()
    return {"points": points, "batches": batches, "queries_per_batch": 3,
            "ms_per_batch_payloads_from_shard": cold, "ms_per_batch_payloads_from_map": warm,
            "saved_ms_per_batch": round(cold - warm, 3), "speedup": round(cold / warm, 2),
            "warm_seconds": round(warm_s, 3), "map_bytes_per_point": round(held / points)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", type=int, default=8000)
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    result = measure(args.points, args.batches)
    result["meta"] = {"commit": _git_commit(), "date": dt.date.today().isoformat(),
                      "command": f"python -m eval.bench_edge_payloads --points {args.points} --batches {args.batches}"}
    print(json.dumps(result, indent=1))
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
