"""Security benchmark: the role x route matrix (every route, every role, no key, wrong, expired and revoked
keys) and schema-driven fuzzing of the whole API from its OpenAPI schema (schemathesis, in process, fake
embedder). Writes ``eval/results/security.json``; ``tests/unit/api/test_security.py`` runs a small version.

    python -m eval.security --cases 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from api.testing import Harness, app_routes, harness
from core.caller import Role

RESULTS = Path(__file__).resolve().parent / "results" / "security.json"

# The least role each route needs (None: no key). A new route must be added here: the matrix test fails on a
# route it does not know (an unknown route is still checked for 401s without a valid key).
ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    ("POST", "/v1/search"): Role.chatbot,
    ("POST", "/v1/ask"): Role.chatbot,
    ("POST", "/v1/ask/stream"): Role.chatbot,
    ("POST", "/v1/feedback"): Role.chatbot,
    ("POST", "/v1/resolutions"): Role.agent,
    ("GET", "/v1/candidates"): Role.agent,
    ("GET", "/v1/candidates/{candidate_id}"): Role.agent,
    ("POST", "/v1/candidates/{candidate_id}"): Role.editor,
    ("GET", "/v1/entries/flagged"): Role.editor,
    ("GET", "/v1/entries/{entry_id}"): Role.editor,
    ("POST", "/v1/entries/{entry_id}"): Role.editor,
    ("GET", "/v1/gaps"): Role.editor,
    ("GET", "/v1/stats"): Role.admin,
    ("GET", "/v1/keys"): Role.admin,
    ("POST", "/v1/keys"): Role.admin,
    ("DELETE", "/v1/keys/{key_id}"): Role.admin,
    ("GET", "/metrics"): Role.admin,  # KB_METRICS_AUTH=true (the default)
    ("POST", "/v1/ingest"): Role.editor,
    ("GET", "/v1/jobs"): Role.editor,
    ("GET", "/v1/jobs/{job_id}"): Role.editor,
    ("DELETE", "/v1/jobs/{job_id}"): Role.editor,
    ("POST", "/v1/admin/reindex"): Role.admin,
    ("POST", "/v1/admin/calibrate"): Role.admin,
    ("POST", "/v1/admin/fit-fusion"): Role.admin,
    ("POST", "/v1/admin/train/{kind}"): Role.admin,
    ("POST", "/v1/admin/eval"): Role.admin,
}


def _concrete(path: str) -> str:
    for name, value in (("{candidate_id}", "res-none"), ("{entry_id}", "pw-1"), ("{key_id}", "nokey"),
                        ("{job_id}", "abc123"), ("{kind}", "router")):
        path = path.replace(name, value)
    return path


def role_matrix(h: Harness) -> dict[str, Any]:
    """Every route x (each role, no key, wrong, expired, revoked key): the status must be the expected one
    (401 for a missing or bad key, 403 for a role below the route's, anything else when allowed)."""
    checks, failures = 0, []
    routes = app_routes(h.app)
    for method, path in routes:
        known = (method, path) in ROUTE_ROLES
        needed = ROUTE_ROLES[(method, path)] if known else Role.admin
        url = _concrete(path)
        presented: list[tuple[str, str | None]] = [("none", None), ("wrong", h.keys["wrong"]),
                                                   ("expired", h.keys["expired"]), ("revoked", h.keys["revoked"]),
                                                   *((r.value, h.keys[r.value]) for r in Role)]
        for label, key in presented:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            status = h.client.request(method, url, headers=headers, json={}).status_code
            if needed is None:
                ok = status not in (401, 403)
                expected = "not 401/403"
            elif label in ("none", "wrong", "expired", "revoked"):
                ok, expected = status == 401, "401"
            elif not known:
                continue
            elif Role(label).allows(needed):
                ok, expected = status not in (401, 403), "not 401/403"
            else:
                ok, expected = status == 403, "403"
            checks += 1
            if not ok:
                failures.append(f"{method} {path} as {label}: {status}, expected {expected}")
    unlisted = [f"{m} {p}" for m, p in routes if (m, p) not in ROUTE_ROLES]
    return {"checks": checks, "failures": len(failures), "failed": failures[:50], "routes": len(routes),
            "unlisted_routes": unlisted}


class _Tally:
    """Counts of fuzz responses: 5xx, error responses that are not JSON, statuses, a few samples."""

    def __init__(self) -> None:
        self.cases = self.status_5xx = self.non_json_errors = 0
        self.statuses: Counter[str] = Counter()
        self.samples: list[str] = []

    def record(self, label: str, response: Any) -> None:
        self.cases += 1
        status = response.status_code
        self.statuses[str(status)] += 1
        kind = response.headers.get("content-type", "")
        kind = kind[0] if isinstance(kind, list) else kind
        problem = ""
        if status >= 500:
            self.status_5xx += 1
            problem = "5xx"
        if status >= 400 and not _is_json(response.text, kind):
            self.non_json_errors += 1
            problem += " non-JSON"
        if problem and len(self.samples) < 20:
            self.samples.append(f"{label}:{problem} {status} {response.text[:200]}")


def _is_json(text: str, kind: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return "json" in kind


def _case_runner(tally: _Tally, label: str, headers: dict[str, str]) -> Any:
    def one(case: Any) -> None:
        tally.record(label, case.call(headers=headers))

    return one


def fuzz(h: Harness, cases: int, seed: int = 0) -> dict[str, Any]:
    """Schema-driven requests (valid and invalid, from /openapi.json) to every operation, spread evenly,
    as the admin key: counts responses 5xx and error responses that are not JSON."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_asgi("/openapi.json", h.app)
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    modes = list(schemathesis.GenerationMode)
    tally = _Tally()
    auth = {"Authorization": f"Bearer {h.keys['admin']}"}
    per = 0
    for round_ in range(5):  # hypothesis may generate fewer cases than asked (small input spaces): top up
        if tally.cases >= cases:
            break
        per = max(1, math.ceil((cases - tally.cases) / (len(operations) * len(modes))))
        for operation in operations:
            for mode in modes:
                one = _case_runner(tally, f"{operation.label} [{mode.value}]", auth)
                one = settings(max_examples=per, deadline=None, database=None,
                               suppress_health_check=list(HealthCheck), phases=[Phase.generate])(
                    given(case=operation.as_strategy(generation_mode=mode))(one))
                try:
                    hyp_seed(seed + round_)(one)()
                except Unsatisfiable:  # nothing invalid to send (e.g. negative cases of a route without inputs)
                    continue
    return {"cases": tally.cases, "status_5xx": tally.status_5xx, "non_json_errors": tally.non_json_errors,
            "operations": len(operations), "per_operation_and_mode": per,
            "statuses": dict(sorted(tally.statuses.items())), "samples": tally.samples}


def run(cases: int, seed: int = 0) -> dict[str, Any]:
    import schemathesis

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        # the fuzz and the matrix send thousands of requests from one key: limits are tested on their own
        generous = {r.value: "1000000/minute" for r in Role}
        with harness(Path(tmp) / "kb", rate_limits=generous) as h:
            matrix = role_matrix(h)
            fuzzed = fuzz(h, cases, seed)
    return {
        "fuzz": fuzzed,
        "role_matrix": matrix,
        "meta": {"requested_cases": cases, "seed": seed, "schemathesis": schemathesis.__version__,
                 "embedder": "fake", "transport": "in-process ASGI", "key": "admin (the matrix covers roles)",
                 "modes": "positive and negative", "seconds": round(time.perf_counter() - started, 1),
                 "python": platform.python_version(), "date": dt.date.today().isoformat(),
                 "command": f"python -m eval.security --cases {cases}"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from core.offline import apply_offline_env

    apply_offline_env()
    result = run(args.cases, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    f, m = result["fuzz"], result["role_matrix"]
    print(f"fuzz: {f['cases']} cases, {f['status_5xx']} 5xx, {f['non_json_errors']} non-JSON errors; "
          f"role matrix: {m['checks']} checks, {m['failures']} failures -> {args.out}")


if __name__ == "__main__":
    main()
