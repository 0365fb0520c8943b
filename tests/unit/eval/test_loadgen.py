"""The parts of the load benchmark that need no server: body sequences, wrk output, /metrics parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.bench_load import run_row
from eval.load_server import cache_counts, parse_prometheus, top_entry
from eval.loadgen import LoadResult, ask_body, parse_wrk_output, unique_indices, write_bodies, zipf_indices


def test_zipf_indices_follow_the_power_law_and_stay_in_the_pool() -> None:
    idx = zipf_indices(1000, 200_000, exponent=1.1, seed=0)
    assert idx.min() >= 0 and idx.max() < 1000
    counts = np.bincount(idx, minlength=1000)
    weights = 1.0 / np.arange(1, 1001) ** 1.1
    expected = weights / weights.sum()
    assert counts[0] / 200_000 == pytest.approx(expected[0], rel=0.03)
    # Rank 1 against rank 2 and rank 10: 2^1.1 and 10^1.1.
    assert counts[0] / counts[1] == pytest.approx(2**1.1, rel=0.06)
    assert counts[0] / counts[9] == pytest.approx(10**1.1, rel=0.12)
    # Heavy head, long tail: the top 1% of questions take a large share, yet most of the pool is asked.
    assert counts[:10].sum() / 200_000 > 0.35
    assert (counts > 0).sum() > 900


def test_zipf_indices_are_deterministic_per_seed() -> None:
    assert np.array_equal(zipf_indices(50, 100, seed=3), zipf_indices(50, 100, seed=3))
    assert not np.array_equal(zipf_indices(50, 100, seed=3), zipf_indices(50, 100, seed=4))


def test_unique_indices_walk_from_the_offset_and_wrap_only_when_exhausted() -> None:
    assert unique_indices(5, 7, offset=3).tolist() == [3, 4, 0, 1, 2, 3, 4]
    assert len(set(unique_indices(100, 100, offset=42).tolist())) == 100


def test_write_bodies_one_json_body_per_line(tmp_path) -> None:
    bodies = [ask_body("退款多久到账"), ask_body('say "hi"\nthere', ["Hello", "The Acorn is nice."])]
    path = write_bodies(tmp_path / "b.txt", bodies, [1, 0, 1])
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["question"] for x in lines] == ['say "hi"\nthere', "退款多久到账", 'say "hi"\nthere']
    assert lines[0]["context"] == ["Hello", "The Acorn is nice."] and "context" not in lines[1]


def test_a_body_carries_at_most_the_twenty_newest_turns() -> None:
    body = json.loads(ask_body("q", [f"t{i}" for i in range(30)]))
    assert body["context"] == [f"t{i}" for i in range(10, 30)]


WRK_LUA_OUTPUT = """Running 3s test @ http://127.0.0.1:8000/v1/ask
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    65.46ms   14.20ms 125.56ms   70.00%
  Latency Distribution
     50%   65.14ms
     99%  105.34ms
  304 requests in 5.01s, 80.00KB read
Requests/sec:     60.63
LOADGEN_JSON {"requests":304,"next_index":308,"duration_s":5.013975,"bytes":81920,\
"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},"latency_ms":{"p50":65.141,"p90":85.536,"p95":90.947,"p99":105.336,"max":125.560,\
"mean":65.459}}
"""


def test_parse_wrk_output_reads_the_lua_summary() -> None:
    r = parse_wrk_output(WRK_LUA_OUTPUT.replace("\\\n", ""))
    assert r.requests == 304 and r.next_index == 308
    assert r.rps == pytest.approx(304 / 5.013975)
    assert r.latency_ms["p95"] == pytest.approx(90.947)
    assert r.latency_ms["max"] == pytest.approx(125.56)
    assert r.error_count == 3


WRK_TEXT_ONLY = """Running 10s test @ http://127.0.0.1:8000/v1/ask
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   299.10ms  120.01ms    1.20s    70.00%
    Req/Sec    25.00      8.00    40.00     60.00%
  Latency Distribution
     50%  299.00ms
     75%  380.00ms
     90%  606.00ms
     99%  874.00us
  490 requests in 10.02s, 1.20MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 7
Requests/sec:     48.90
"""


def test_parse_wrk_output_falls_back_to_wrk_text() -> None:
    r = parse_wrk_output(WRK_TEXT_ONLY)
    assert r.requests == 490 and r.duration_s == pytest.approx(10.02)
    assert r.latency_ms["p50"] == pytest.approx(299.0)
    assert r.latency_ms["p99"] == pytest.approx(0.874)
    assert r.latency_ms["max"] == pytest.approx(1200.0)
    assert r.errors == {"connect": 0, "read": 2, "write": 0, "status": 7, "timeout": 5}
    assert "p95" not in r.latency_ms and r.next_index is None


def test_parse_wrk_output_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_wrk_output("unable to connect to 127.0.0.1:8000 Connection refused")


def test_run_row_has_the_issue_shape() -> None:
    r = LoadResult(requests=100, duration_s=2.0, errors={"status": 1, "read": 0},
                   latency_ms={"p50": 10.0, "p95": 20.0, "p99": 30.0, "max": 40.0})
    row = run_row(r, cpu_s=4.0, cache=None)
    assert list(row) == ["rps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "cpu_s_per_req", "cache_hit_rate"]
    assert row["rps"] == 50.0 and row["errors"] == 1 and row["cpu_s_per_req"] == 0.04


METRICS = """# HELP supportkb_cache_hits_total Answer cache hits.
# TYPE supportkb_cache_hits_total counter
supportkb_cache_hits_total{cache="answer"} 30.0
supportkb_cache_hits_total{cache="embedding"} 50.0
supportkb_cache_requests_total{cache="answer"} 120.0
supportkb_cache_requests_total{cache="embedding"} 90.0
supportkb_requests_total{route="/v1/ask",status="200"} 120.0
"""


def test_cache_counts_prefer_the_answer_cache() -> None:
    assert cache_counts(parse_prometheus(METRICS)) == (30.0, 120.0)


def test_cache_counts_from_hits_and_misses_without_labels() -> None:
    text = "supportkb_cache_hits_total 3\nsupportkb_cache_misses_total 1\n"
    assert cache_counts(parse_prometheus(text)) == (3.0, 4.0)


def test_cache_counts_none_without_a_cache_counter() -> None:
    assert cache_counts(parse_prometheus('http_requests_total{code="200"} 5\n')) is None


def test_top_entry_reads_citations_then_related_then_the_peer() -> None:
    assert top_entry({"citations": [{"entry_id": "a"}], "related": [{"entry_id": "b"}]}) == "a"
    assert top_entry({"decision": "handoff", "citations": [], "related": [{"entry_id": "b"}]}) == "b"
    assert top_entry({"entry_id": "p", "score": 0.9}) == "p"
    assert top_entry({"citations": [], "related": []}) is None
