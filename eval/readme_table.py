"""Render the project's figures from ``eval/results/*.json`` as Markdown, and write them into README.md
between the ``<!-- figures:start -->`` and ``<!-- figures:end -->`` markers (never typed by hand).

    python -m eval.readme_table [--write]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eval.datasets import REPO

RESULTS = REPO / "eval" / "results"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def render() -> str:
    out: list[str] = []
    retrieval = _load("retrieval.json")
    if retrieval:
        out += ["**Retrieval** (test splits; hybrid fusion fitted on each set's dev split)", "",
                "| set | mode | hit@1 | hit@5 | MRR@10 | n |", "|---|---|---|---|---|---|"]
        for name in ("cmrc2018", "dstc11_track5", "sample"):
            for mode in ("bm25", "dense", "hybrid"):
                m = (retrieval.get(name) or {}).get(mode)
                if m:
                    out.append(f"| {name} | {mode} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['mrr@10']:.3f} "
                               f"| {m['n']} |")
        lat = retrieval.get("latency_ms") or {}
        if lat:
            out += ["", f"In-process latency on the sample corpus: search p50 {lat['search']['p50']} ms, "
                        f"p95 {lat['search']['p95']} ms; ask p50 {lat['ask']['p50']} ms, p95 {lat['ask']['p95']} ms. "
                        f"Ingestion with embedding: {retrieval.get('ingest_entries_per_s')} entries/s."]
        meta = retrieval.get("meta") or {}
        out += ["", f"_{meta.get('command', '')} at {meta.get('commit', '?')} on {meta.get('date', '?')}_", ""]
    answering = _load("answering.json")
    rows = [(n, answering[n]) for n in ("clinc150", "dstc11_track5", "sample") if isinstance(answering.get(n), dict)]
    if rows:
        out += ["**Answer or hand off** (threshold from a 90% target precision, calibrated on dev, reported on test; "
                "clinc150's dev reweighted to its test mix of 18% out-of-scope questions, `KB_UNANSWERABLE_SHARE`)",
                "", "| set | precision | coverage | handoff recall (unanswerable) | coverage@p90 | precision@c85 |",
                "|---|---|---|---|---|---|"]
        for name, r in rows:
            out.append(f"| {name} | {r['precision']:.3f} | {r['coverage']:.3f} | {r['oos_handoff_recall']:.3f} | "
                       f"{r['coverage@p90']:.3f} | {r['precision@c85']:.3f} |")
        meta = answering.get("meta") or {}
        out += ["", f"_{meta.get('command', '')} at {meta.get('commit', '?')} on {meta.get('date', '?')}_", ""]
    routing = [(n, answering[n]) for n in ("banking77",) if isinstance(answering.get(n), dict)]
    intents = answering.get("dstc11_intents") or {}
    routing += [(f"dstc11_intents/{k}", v) for k, v in intents.items() if isinstance(v, dict)]
    if routing:
        out += ["**Routing** (team classifier on the shared embedding + lexical features; target 94%)", "",
                "| set | accuracy | macro-F1 | classes |", "|---|---|---|---|"]
        out += [f"| {n} | {r['routing_accuracy']:.3f} | {r['macro_f1']:.3f} | {r.get('classes', '')} |"
                for n, r in routing]
        out.append("")
    emo = answering.get("goemotions")
    if isinstance(emo, dict):
        out += ["**Emotion alerts** (GoEmotions anger+annoyance vs rest, test; threshold set on dev for 91% "
                "precision)", "", "| operating point | precision | recall | F1 |", "|---|---|---|---|",
                f"| 91% precision target | {emo['precision']:.3f} | {emo['recall']:.3f} | {emo['f1']:.3f} |"]
        best = emo.get("at_best_dev_f1")
        if isinstance(best, dict):
            out.append(f"| best F1 on dev | {best['precision']:.3f} | {best['recall']:.3f} | {best['f1']:.3f} |")
        out.append("")
    out += _learning(_load("learning.json"))
    return "\n".join(out).strip() + "\n"


def _learning(r: dict[str, Any]) -> list[str]:
    if not r.get("checkpoints"):
        return []
    setup = r.get("setup") or {}
    out = [f"**Self-learning** ({r['dataset']}: {setup.get('kb_entries')} entries with "
           f"{setup.get('phrasings_per_entry')} phrasings, {setup.get('missing_intents')} intents missing; "
           f"{setup.get('stream_questions')} questions replayed with simulated feedback; test split)", "",
           "| feedback events | coverage@p90 | coverage@p90 before refit | precision at threshold | "
           "answered right: known intents | answered right: missing intents |", "|---|---|---|---|---|---|"]
    for key, c in r["checkpoints"].items():
        before = c.get("before_refit", c)
        at = c["at_threshold"]
        right = at["answered_correctly"]
        out.append(f"| {key} | {c['coverage@p90']:.3f} | {before['coverage@p90']:.3f} | {at['precision']:.3f} | "
                   f"{right['kb_intents']:.3f} | {right['missing_intents']:.3f} |")
    learned = r.get("learned") or {}
    out += ["", "Learned: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in learned.items()) + ".",
            "", f"_python -m eval.bench_learning at {r.get('commit', '?')} on {r.get('run_at', '?')}_", ""]
    return out


def write(readme: Path = REPO / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{render()}{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if args.write:
        write()
    else:
        print(render())


if __name__ == "__main__":
    main()
