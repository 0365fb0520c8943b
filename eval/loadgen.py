"""HTTP load generation for the load benchmark: ``wrk`` with a Lua script when it is installed, an asyncio
httpx client otherwise. Both post the JSON bodies of a file (one per line) in order, cycling, split across
the generator's threads/connections so that no body is sent twice before the file wraps, and both report
the same summary, including the generator's own CPU seconds (a generator on the same cores as the server
takes CPU from it: the figure says how much).

Body sequences are pre-generated here: ``unique`` (each question once, in pool order from an offset) and
``zipf`` (questions sampled with P(rank k) ~ 1/k^s, s about 1.1, the usual shape of support traffic).

    python -m eval.loadgen BODIES URL --concurrency 4 --duration 10 [--header 'Authorization: Bearer KEY']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

MARKER = "LOADGEN_JSON "

# wrk runs one Lua state per thread. setup() numbers the threads; thread i sends bodies i, i+T, i+2T, ...
# so the threads together walk the file in order and no body repeats before it wraps.
WRK_LUA = r"""
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  f:close()
  step = tonumber(args[2])
  pos = tid
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[(pos % #bodies) + 1]
  pos = pos + step
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  -- bodies used: every index below the furthest thread's next position (in-flight requests included)
  local next_index = 0
  for _, t in ipairs(threads) do
    local p = t:get("pos")
    if p and p > next_index then next_index = p end
  end
  io.write(string.format(
    'LOADGEN_JSON {"requests":%d,"next_index":%d,"duration_s":%.6f,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p95":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f}}\n',
    summary.requests, next_index, summary.duration / 1e6, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3))
end
"""


@dataclass
class LoadResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    generator: str = ""
    next_index: int | None = None  # bodies of the file consumed, in-flight ones included (None: unknown)
    generator_cpu_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return int(sum(self.errors.values()))

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["rps"] = round(self.rps, 2)
        return out


# ---------------------------------------------------------------------------------------------- sequences


def zipf_indices(pool_size: int, n: int, exponent: float = 1.1, seed: int = 0) -> np.ndarray:
    """``n`` indices into a pool of ``pool_size``, index k drawn with probability proportional to 1/(k+1)^s.

    Bounded (the pool is finite), so any exponent works, including s <= 1 where an unbounded Zipf has no
    normalisation. Index 0 is the most frequent question."""
    if pool_size < 1 or n < 0:
        raise ValueError("pool_size must be >= 1 and n >= 0")
    weights = 1.0 / np.arange(1, pool_size + 1, dtype=np.float64) ** exponent
    rng = np.random.default_rng(seed)
    return rng.choice(pool_size, size=n, p=weights / weights.sum())


def unique_indices(pool_size: int, n: int, offset: int = 0) -> np.ndarray:
    """``n`` indices walking the pool in order from ``offset`` (cycling only once it is exhausted)."""
    return (np.arange(n, dtype=np.int64) + offset) % pool_size


CONTEXT_TURNS = 20
"""The most earlier turns a body carries (``/v1/ask`` takes up to 20)."""


def ask_body(question: str, context: Sequence[str] = ()) -> str:
    body: dict[str, object] = {"question": question}
    if context:
        body["context"] = list(context)[-CONTEXT_TURNS:]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def write_bodies(path: Path, bodies: Sequence[str], indices: Sequence[int] | np.ndarray) -> Path:
    """One JSON body (``ask_body``) per line, for wrk's Lua script and the Python client alike."""
    path.write_text("\n".join(bodies[int(i)] for i in indices) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- parsing


def _duration_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def parse_wrk_output(text: str) -> LoadResult:
    """The summary of a wrk run: the JSON line printed by our Lua ``done()``, else wrk's own text
    (``--latency`` percentiles, requests, Socket errors, Non-2xx), which has no p95."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            nxt = data.get("next_index")
            return LoadResult(requests=int(data["requests"]), duration_s=float(data["duration_s"]),
                              errors={k: int(v) for k, v in data["errors"].items()},
                              latency_ms={k: float(v) for k, v in data["latency_ms"].items()},
                              next_index=None if nxt is None else int(nxt))
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"not a wrk summary: {text[-500:]!r}")
    requests, duration_s = int(m.group(1)), _duration_ms(m.group(2), m.group(3)) / 1e3
    latency: dict[str, float] = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        latency[f"p{pct}"] = _duration_ms(value, unit)
    row = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s|m)\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)", text, re.M)
    if row:
        latency["mean"] = _duration_ms(row.group(1), row.group(2))
        latency["max"] = _duration_ms(row.group(3), row.group(4))
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors.update(connect=int(sock.group(1)), read=int(sock.group(2)), write=int(sock.group(3)),
                      timeout=int(sock.group(4)))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errors["status"] = int(non2xx.group(1))
    return LoadResult(requests=requests, duration_s=duration_s, errors=errors, latency_ms=latency)


def percentiles_ms(latencies_s: Sequence[float]) -> dict[str, float]:
    if not latencies_s:
        return {k: 0.0 for k in ("p50", "p90", "p95", "p99", "max", "mean")}
    arr = np.asarray(latencies_s, dtype=np.float64) * 1e3
    p50, p90, p95, p99 = np.percentile(arr, [50, 90, 95, 99])
    return {"p50": float(p50), "p90": float(p90), "p95": float(p95), "p99": float(p99),
            "max": float(arr.max()), "mean": float(arr.mean())}


# ---------------------------------------------------------------------------------------------- running


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


class LoadRun:
    """A generator process started in the background; ``stop()`` ends it early (SIGINT: wrk still prints
    its summary), ``wait()`` returns the summary with the process's own CPU seconds (from wait4)."""

    def __init__(self, bodies: Path, url: str, concurrency: int, duration_s: float,
                 headers: Sequence[str] = (), generator: str = "auto", timeout_s: float = 30.0) -> None:
        self.generator = ("wrk" if wrk_available() else "python") if generator == "auto" else generator
        self._tmp = tempfile.TemporaryDirectory(prefix="loadgen-")
        self._out = Path(self._tmp.name) / "out.txt"
        self._err = Path(self._tmp.name) / "err.txt"
        if self.generator == "wrk":
            threads = max(1, min(concurrency, os.cpu_count() or 1, 2))
            script = Path(self._tmp.name) / "bodies.lua"
            script.write_text(WRK_LUA, encoding="utf-8")
            cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(duration_s))}s",
                   "--timeout", f"{max(1, round(timeout_s))}s", "--latency", "-s", str(script)]
            for h in headers:
                cmd += ["-H", h]
            cmd += [url, "--", str(bodies), str(threads)]
        else:
            cmd = [sys.executable, "-m", "eval.loadgen", str(bodies), url, "--concurrency", str(concurrency),
                   "--duration", str(duration_s), "--timeout", str(timeout_s)]
            for h in headers:
                cmd += ["--header", h]
        self.cmd = cmd
        self.started = time.monotonic()
        with self._out.open("w") as out, self._err.open("w") as err:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=Path(__file__).resolve().parents[1])

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        if self._proc.returncode is None:
            self._proc.send_signal(signal.SIGINT)

    def wait(self, timeout_s: float | None = None) -> LoadResult:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(self._proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                self._proc.kill()
                deadline = None
            time.sleep(0.05)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        text = self._out.read_text(encoding="utf-8", errors="replace")
        try:
            result = parse_wrk_output(text)
        except ValueError as exc:
            err = self._err.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"{self.generator} failed (exit {self._proc.returncode}): {err or exc}") from exc
        finally:
            self._tmp.cleanup()
        result.generator = self.generator
        result.generator_cpu_s = round(usage.ru_utime + usage.ru_stime, 3)
        return result


def run_load(bodies: Path, url: str, concurrency: int, duration_s: float, headers: Sequence[str] = (),
             generator: str = "auto") -> LoadResult:
    run = LoadRun(bodies, url, concurrency, duration_s, headers, generator)
    return run.wait(timeout_s=duration_s + 120)


# ---------------------------------------------------------------------------------------------- Python client


async def _python_load(bodies: list[bytes], url: str, concurrency: int, duration_s: float,
                       headers: dict[str, str], timeout_s: float) -> LoadResult:
    import httpx

    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json", **headers}
    start = time.perf_counter()
    end = start + duration_s
    positions = list(range(concurrency))

    async def worker(client: httpx.AsyncClient, first: int) -> None:
        pos = first
        while not stop.is_set() and time.perf_counter() < end:
            body = bodies[pos % len(bodies)]
            pos += concurrency
            positions[first] = pos
            t0 = time.perf_counter()
            try:
                resp = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code >= 400:
                    errors["status"] += 1
            except httpx.TimeoutException:
                errors["timeout"] += 1
            except httpx.ConnectError:
                errors["connect"] += 1
            except httpx.HTTPError:
                errors["read"] += 1

    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:
        await asyncio.gather(*(worker(client, i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    return LoadResult(requests=len(latencies) + errors["timeout"] + errors["connect"] + errors["read"],
                      duration_s=elapsed, errors=errors, latency_ms=percentiles_ms(latencies),
                      next_index=max(positions))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bodies", type=Path, help="file of JSON bodies, one per line")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    args = parser.parse_args(argv)
    bodies = [line.encode("utf-8") for line in args.bodies.read_text(encoding="utf-8").splitlines() if line]
    headers = dict(h.split(":", 1) for h in args.header)
    result = asyncio.run(_python_load(bodies, args.url, args.concurrency, args.duration,
                                      {k.strip(): v.strip() for k, v in headers.items()}, args.timeout))
    print(MARKER + json.dumps({"requests": result.requests, "next_index": result.next_index,
                               "duration_s": result.duration_s, "bytes": 0,
                               "errors": result.errors, "latency_ms": result.latency_ms}), flush=True)


if __name__ == "__main__":
    main()
