"""What a confidence prediction costs per question: the boosted model through scikit-learn and through the flat
tree arrays ``/v1/ask`` uses (``answering.tree_ensemble``), beside the logistic model; and how far apart the two
boosted predictions are.

The models are fitted as ``kb calibrate`` fits them (``fit_probability``, every signal of ``SIGNALS``) on rows
drawn to look like answer signals (scores in [0, 1], counts, flags) with a label that needs interactions, so the
boosted model is the one cross-validation keeps. The cost of a prediction depends on the trees' shape (3 folds of
150 trees of 15 leaves), not on what the rows mean.

    python -m eval.bench_confidence   ->  eval/results/confidence_cost.json
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from answering.confidence import ProbabilityModel, fit_probability
from answering.signals import SIGNALS
from eval.bench_retrieval import _git_commit

OUT = Path(__file__).resolve().parent / "results" / "confidence_cost.json"


def _rows(n: int, seed: int) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, len(SIGNALS)))
    x[:, 1::4] = rng.integers(0, 2, size=(n, len(SIGNALS[1::4])))  # some flags
    logit = 4 * (x[:, 0] - 0.5) + 3 * (x[:, 2] - 0.5) * (x[:, 3] - 0.5) * 4 + rng.normal(size=n)
    rows = [{name: float(v) for name, v in zip(SIGNALS, r, strict=True)} for r in x]
    return rows, [bool(v) for v in logit > 0]


def _per_call_ms(model: ProbabilityModel, rows: list[dict[str, float]], fn: Any) -> float:
    fn(model, rows[0])  # load / first call outside the timing
    started = time.perf_counter()
    for row in rows:
        fn(model, row)
    return (time.perf_counter() - started) / len(rows) * 1000


def run(n_fit: int = 3000, n_probe: int = 300) -> dict[str, Any]:
    import joblib

    rows, labels = _rows(n_fit, 0)
    boosted, _ = fit_probability(rows, labels, SIGNALS)
    logistic, _ = fit_probability(rows, labels, SIGNALS, allow_boosted=False)
    if boosted.kind != "boosted":
        raise RuntimeError("cross-validation kept the logistic model: nothing to compare")
    probe, _ = _rows(n_probe, 1)
    sklearn_model = joblib.load(io.BytesIO(base64.b64decode(boosted.blob or "")))

    def through_sklearn(m: ProbabilityModel, row: dict[str, float]) -> float:
        return float(sklearn_model.predict_proba(m.matrix([row]))[0, 1])

    def through_arrays(m: ProbabilityModel, row: dict[str, float]) -> float:
        return m.probability(row)

    diff = float(np.max(np.abs(sklearn_model.predict_proba(boosted.matrix(probe))[:, 1] - boosted.predict(probe))))
    return {
        "boosted_sklearn_ms": round(_per_call_ms(boosted, probe, through_sklearn), 3),
        "boosted_arrays_ms": round(_per_call_ms(boosted, probe, through_arrays), 3),
        "logistic_ms": round(_per_call_ms(logistic, probe, through_arrays), 4),
        "max_abs_difference": diff,
        "meta": {"commit": _git_commit(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "fit_rows": n_fit, "probe_rows": n_probe, "features": len(SIGNALS),
                 "note": "one question per call, as /v1/ask calls it (answer model; the set model costs the same)"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = run()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
