"""Capacity model to a target load, generated from the measured load benchmark (``eval/results/load.json``).

    python scripts/capacity.py [--load eval/results/load.json] [--out docs/capacity.md] [--qps 100000]
                               [--repeat-rate R] [--entries 1000000] [--utilisation 0.6]

Every figure in the output is computed here from load.json and the assumptions printed with it; nothing is
typed by hand. Without load.json it stops with a message saying how to make one (``python -m eval.bench_load``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
P95_TARGET_MS = 120.0


class CapacityError(Exception):
    """load.json is missing or lacks what the model needs."""


@dataclass(frozen=True)
class Assumptions:
    qps: float = 100_000.0
    repeat_rate: float | None = None
    """Share of requests answered from the answer cache at scale (None: the Zipf run's measured hit rate)."""
    utilisation: float = 0.6
    """CPU share a serving core is planned at, leaving headroom for bursts and p95 (queueing grows fast above)."""
    cores_per_replica: int = 2
    """The measured machine: one API process on 2 cores."""
    entries: int = 1_000_000
    units_per_entry: float | None = None
    """Index points per FAQ entry (question, phrasings, answer); None: measured (index points / entries)."""
    dim: int = 384
    payload_bytes: int = 1024
    """Stored payload per point (answer text, metadata)."""
    hnsw_m: int = 16
    index_overhead: float = 1.5
    """Factor over raw vectors + links + payload for segments, WAL, sparse vectors and fragmentation."""
    shard_max_points: int = 20_000_000
    node_memory_gb: float = 64.0
    node_cores: int = 8
    searches_per_core_s: float = 500.0
    """Qdrant searches one core serves at planning utilisation (~1 ms HNSW per search at 384-d, measured with
    Qdrant Edge here, x0.5 headroom)."""
    searches_per_miss: int = 2
    """A cache miss queries dense and sparse (BM25) once each."""
    qdrant_replicas_min: int = 2
    """Replication factor for availability, before throughput needs."""
    feedback_share: float = 0.02
    """Share of answers that receive feedback."""
    session_share: float = 0.5
    """Share of requests that carry a session_id (one session upsert each)."""
    ask_log_flush_rows: int = 200


def _best_run(runs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The concurrency with the highest req/s whose p95 meets the target (else the lowest p95)."""
    ok = {k: v for k, v in runs.items() if v.get("p95_ms", math.inf) < P95_TARGET_MS and not v.get("errors")}
    pool = ok or runs
    if not pool:
        raise CapacityError("load.json has no runs")
    key = (max(pool, key=lambda k: pool[k]["rps"]) if ok else min(pool, key=lambda k: pool[k]["p95_ms"]))
    return key, pool[key]


def load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CapacityError(f"{path} does not exist: run the load benchmark first (`python -m eval.bench_load`), "
                            "then this script")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CapacityError(f"{path} is not JSON: {exc}") from exc
    for part in ("unique", "zipf"):
        if not isinstance(data.get(part), dict) or not data[part]:
            raise CapacityError(f"{path} has no {part!r} runs (shape: issue 14)")
    return data


def model(data: dict[str, Any], a: Assumptions) -> dict[str, Any]:
    """All the derived figures, as plain numbers."""
    u_key, unique = _best_run(data["unique"])
    z_key, zipf = _best_run(data["zipf"])
    cpu_unique = float(unique["cpu_s_per_req"])
    hit = float(zipf.get("cache_hit_rate") or 0.0)
    cpu_zipf = float(zipf["cpu_s_per_req"])
    # the Zipf run mixes hits and misses: cpu_zipf = hit * cpu_hit + (1 - hit) * cpu_unique
    cpu_hit = (cpu_zipf - (1 - hit) * cpu_unique) / hit if hit > 0 else cpu_unique
    cpu_hit = min(max(cpu_hit, 0.0001), cpu_unique)
    repeat = hit if a.repeat_rate is None else a.repeat_rate
    cpu_mix = repeat * cpu_hit + (1 - repeat) * cpu_unique
    cores = a.qps * cpu_mix / a.utilisation
    replicas = math.ceil(cores / a.cores_per_replica)
    # measured req/s of one 2-core replica at p95 < 120 ms, mixed at the stated repeat rate
    rps_unique = float(unique["rps"])
    rps_zipf = float(zipf["rps"])
    per_replica_rps = 1 / (repeat / max(rps_zipf, rps_unique) + (1 - repeat) / rps_unique) if repeat < 1 else rps_zipf
    replicas_by_rps = math.ceil(a.qps / per_replica_rps)

    meta = data.get("meta", {})
    measured_entries = meta.get("entries")
    points_measured = meta.get("index_points")
    upe = a.units_per_entry
    if upe is None:
        upe = (points_measured / measured_entries) if points_measured and measured_entries else 3.0
    points = a.entries * upe
    per_point = a.dim * 4 + 2 * a.hnsw_m * 4 + a.payload_bytes
    memory_gb = points * per_point * a.index_overhead / 1e9
    shards = max(math.ceil(points / a.shard_max_points), math.ceil(memory_gb / (a.node_memory_gb * 0.5)), 1)
    searches = a.qps * (1 - repeat) * a.searches_per_miss
    replicas_for_load = math.ceil(searches / (shards * a.node_cores * a.searches_per_core_s))
    qdrant_replicas = max(a.qdrant_replicas_min, replicas_for_load)

    ask_rows = a.qps
    return {
        "runs": {"unique": u_key, "zipf": z_key},
        "cpu_ms": {"unique": cpu_unique * 1000, "cached": cpu_hit * 1000, "mix": cpu_mix * 1000},
        "measured_hit_rate": hit, "repeat_rate": repeat,
        "cores": cores, "replicas": replicas, "per_replica_rps": per_replica_rps, "replicas_by_rps": replicas_by_rps,
        "p95_ms": {"unique": unique.get("p95_ms"), "zipf": zipf.get("p95_ms")},
        "units_per_entry": upe, "points": points, "bytes_per_point": per_point, "memory_gb": memory_gb,
        "shards": shards, "qdrant_replicas": qdrant_replicas, "qdrant_nodes": shards * qdrant_replicas,
        "searches_per_s": searches,
        "postgres": {"ask_rows_s": ask_rows, "ask_tx_s": ask_rows / a.ask_log_flush_rows,
                     "feedback_rows_s": a.qps * a.feedback_share, "session_upserts_s": a.qps * a.session_share},
        "embedder_ceiling_rps": (data.get("embedder_ceiling") or {}).get("rps"),
        "meta": meta,
    }


def _n(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def render(m: dict[str, Any], a: Assumptions, source: str) -> str:
    pg = m["postgres"]
    meta = m["meta"]
    lines = [
        "# Capacity model",
        "",
        f"Generated by `python scripts/capacity.py` from `{source}` (commit {meta.get('commit', '?')}, "
        f"{meta.get('date', '?')}, {meta.get('entries', '?')} entries, generator {meta.get('generator', '?')}). "
        "Do not edit by hand: change the assumptions or re-run the benchmark, then regenerate.",
        "",
        f"Target: **{_n(a.qps)} requests/s to `/v1/ask` at p95 < {P95_TARGET_MS:.0f} ms**, with "
        f"**{m['repeat_rate']:.0%} of requests repeating a question already answered in the current generation** "
        f"(the measured Zipf run's hit rate was {m['measured_hit_rate']:.0%}).",
        "",
        "## CPU per request (measured)",
        "",
        "| | CPU ms/request | from |",
        "|---|---|---|",
        f"| unique question (embedding, retrieval, decision, triage) | {m['cpu_ms']['unique']:.2f} | "
        f"`unique.{m['runs']['unique']}` (p95 {m['p95_ms']['unique']} ms) |",
        f"| cached question (cache lookup, triage, log) | {m['cpu_ms']['cached']:.2f} | "
        f"`zipf.{m['runs']['zipf']}` (p95 {m['p95_ms']['zipf']} ms), misses at the unique cost taken out |",
        f"| mix at {m['repeat_rate']:.0%} repeats | {m['cpu_ms']['mix']:.2f} | |",
        "",
        "## API replicas",
        "",
        "| | value |",
        "|---|---|",
        f"| cores at {a.utilisation:.0%} planned utilisation | {_n(m['cores'])} |",
        f"| {a.cores_per_replica}-core replicas by CPU | {_n(m['replicas'])} |",
        f"| one replica's measured req/s at p95 < {P95_TARGET_MS:.0f} ms (mix) | {m['per_replica_rps']:.1f} |",
        f"| replicas by measured throughput | {_n(m['replicas_by_rps'])} |",
        "",
        "Plan for the larger of the two replica counts; the throughput figure already includes the "
        "concurrency at which p95 stayed under target on one replica.",
        "",
        "## Qdrant cluster",
        "",
        "| | value |",
        "|---|---|",
        f"| entries | {_n(a.entries)} |",
        f"| points ({m['units_per_entry']:.2f} per entry: question, phrasings, answer) | {_n(m['points'])} |",
        f"| bytes per point ({a.dim}-d float32 + HNSW m={a.hnsw_m} links + {a.payload_bytes} B payload) | "
        f"{_n(m['bytes_per_point'])} |",
        f"| memory, one copy (x{a.index_overhead} overhead) | {m['memory_gb']:.1f} GB |",
        f"| searches/s (misses x {a.searches_per_miss}: dense + sparse) | {_n(m['searches_per_s'])} |",
        f"| shards x replicas | **{m['shards']} x {m['qdrant_replicas']}** = {m['qdrant_nodes']} nodes of "
        f"{a.node_cores} cores / {a.node_memory_gb:.0f} GB |",
        "",
        "## Postgres write rate",
        "",
        "| writes | rows/s | transactions/s |",
        "|---|---|---|",
        f"| ask log (one row per request, batched by the background writer, {a.ask_log_flush_rows} rows per "
        f"transaction per replica at full batches) | {_n(pg['ask_rows_s'])} | {_n(pg['ask_tx_s'])} |",
        f"| feedback ({a.feedback_share:.0%} of answers) | {_n(pg['feedback_rows_s'])} | "
        f"{_n(pg['feedback_rows_s'])} |",
        f"| session upserts ({a.session_share:.0%} of requests carry a session_id; one upsert each, not batched) | "
        f"{_n(pg['session_upserts_s'])} | {_n(pg['session_upserts_s'])} |",
        "",
        "## Assumptions",
        "",
    ]
    for key, value in asdict(a).items():
        doc = _ASSUMPTION_DOCS.get(key, "")
        lines.append(f"- `{key}` = {value if value is not None else 'measured'}{': ' + doc if doc else ''}")
    lines += [
        "- CPU per request scales linearly with replicas: replicas share nothing but Postgres, Redis and Qdrant "
        "(the answer cache in Redis when `KB_REDIS_URL` is set; otherwise each replica warms its own, and the "
        "repeat rate per replica is lower than the fleet's).",
        "- Qdrant, Postgres and Redis CPU are not in the API cores above; Qdrant is sized by its own search rate.",
        "- Not measured here: a Qdrant server or cluster (none can be installed on these machines; the benchmark "
        "uses the embedded Qdrant Edge shard), Postgres at this write rate, network latency between tiers.",
    ]
    if m["embedder_ceiling_rps"]:
        lines += ["", f"Embedder ceiling measured in the same run: {m['embedder_ceiling_rps']} questions/s on "
                      f"{a.cores_per_replica} cores."]
    return "\n".join(lines) + "\n"


_ASSUMPTION_DOCS = {
    "utilisation": "serving cores are planned at this CPU share so queueing keeps p95 under target",
    "payload_bytes": "stored payload per point (answer text and metadata)",
    "index_overhead": "segments, WAL, sparse vectors and fragmentation over raw vectors + links + payload",
    "shard_max_points": "points per shard before it is split (also: a shard's memory at most half a node's)",
    "searches_per_core_s": "Qdrant searches per core at planning utilisation (~1 ms HNSW per 384-d search)",
    "feedback_share": "share of answers that receive feedback",
    "session_share": "share of requests with a session_id",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load", type=Path, default=REPO / "eval" / "results" / "load.json")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "capacity.md")
    p.add_argument("--qps", type=float, default=Assumptions.qps)
    p.add_argument("--repeat-rate", type=float, default=None,
                   help="share of requests served from the cache at scale (default: the Zipf run's hit rate)")
    p.add_argument("--entries", type=int, default=Assumptions.entries)
    p.add_argument("--utilisation", type=float, default=Assumptions.utilisation)
    args = p.parse_args(argv)
    if args.repeat_rate is not None and not 0 <= args.repeat_rate <= 1:
        print("--repeat-rate must be between 0 and 1", file=sys.stderr)
        return 2
    a = Assumptions(qps=args.qps, repeat_rate=args.repeat_rate, entries=args.entries, utilisation=args.utilisation)
    try:
        data = load(args.load)
        figures = model(data, a)
    except (CapacityError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        print(f"capacity: {exc}", file=sys.stderr)
        return 2
    try:
        source = str(args.load.resolve().relative_to(REPO))
    except ValueError:
        source = str(args.load)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(figures, a, source), encoding="utf-8")
    print(f"wrote {args.out}: {figures['replicas']} API replicas, Qdrant {figures['shards']} x "
          f"{figures['qdrant_replicas']}, {figures['postgres']['ask_rows_s']:,.0f} ask-log rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
