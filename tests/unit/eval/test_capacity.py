"""scripts/capacity.py: figures derived from a small load.json, computed by hand here; a clear failure without one."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[3]
LOAD = {
    "unique": {"c1": {"rps": 40, "p95_ms": 60, "cpu_s_per_req": 0.020, "errors": 0},
               "c4": {"rps": 70, "p95_ms": 100, "cpu_s_per_req": 0.018, "errors": 0},
               "c16": {"rps": 72, "p95_ms": 300, "cpu_s_per_req": 0.018, "errors": 0}},
    "zipf": {"c4": {"rps": 500, "p95_ms": 20, "cpu_s_per_req": 0.006, "cache_hit_rate": 0.8, "errors": 0},
             "c16": {"rps": 600, "p95_ms": 110, "cpu_s_per_req": 0.0064, "cache_hit_rate": 0.8, "errors": 0},
             "c64": {"rps": 650, "p95_ms": 400, "cpu_s_per_req": 0.0064, "cache_hit_rate": 0.8, "errors": 0}},
    "embedder_ceiling": {"rps": 78.0},
    "meta": {"commit": "abc1234", "date": "2026-11-30", "entries": 3000, "index_points": 9000, "generator": "wrk"},
}


def capacity() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capacity", REPO / "scripts" / "capacity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["capacity"] = module
    spec.loader.exec_module(module)
    return module


def test_figures_from_a_fixture() -> None:
    cap = capacity()
    m = cap.model(LOAD, cap.Assumptions())
    assert m["runs"] == {"unique": "c4", "zipf": "c16"}  # best req/s with p95 < 120 ms
    assert m["cpu_ms"]["unique"] == pytest.approx(18.0)
    assert m["cpu_ms"]["cached"] == pytest.approx(3.5)  # (6.4 - 0.2 * 18) / 0.8
    assert m["cpu_ms"]["mix"] == pytest.approx(6.4)
    assert m["cores"] == pytest.approx(1066.667, rel=1e-4)
    assert m["replicas"] == 534
    assert m["per_replica_rps"] == pytest.approx(238.636, rel=1e-4)
    assert m["replicas_by_rps"] == 420
    assert (m["points"], m["bytes_per_point"]) == (3_000_000, 2688)
    assert m["memory_gb"] == pytest.approx(12.096)
    assert (m["shards"], m["qdrant_replicas"]) == (1, 10)
    assert m["postgres"] == {"ask_rows_s": 100_000, "ask_tx_s": 500, "feedback_rows_s": 2000,
                             "session_upserts_s": 50_000}
    lower = cap.model(LOAD, cap.Assumptions(repeat_rate=0.5))
    assert lower["replicas"] == 896  # 100k x (0.5 x 3.5 + 0.5 x 18) ms / 0.6 / 2 cores


def test_script_writes_the_document(tmp_path: Path) -> None:
    load = tmp_path / "load.json"
    load.write_text(json.dumps(LOAD), encoding="utf-8")
    out = tmp_path / "capacity.md"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "capacity.py"), "--load", str(load), "--out", str(out)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert "**1 x 10**" in text and "| 2-core replicas by CPU | 534 |" in text
    assert "commit abc1234" in text and "80% of requests repeating" in text
    assert "## Assumptions" in text and "`utilisation` = 0.6" in text


def test_without_load_json_it_fails_with_a_message(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "capacity.py"), "--load", str(tmp_path / "none.json"),
                        "--out", str(tmp_path / "c.md")], capture_output=True, text=True, check=False)
    assert r.returncode == 2
    assert "does not exist: run the load benchmark first (`python -m eval.bench_load`)" in r.stderr
    assert not (tmp_path / "c.md").exists()
