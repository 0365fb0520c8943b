"""What capping the embedded text of FAQ answer units costs and saves (``KB_ANSWER_UNIT_MAX_TOKENS``).

A long-answer FAQ from cmrc2018: one entry per passage (its first question, the whole passage as the
answer); the passage's other questions are the test queries, so they can only be found through the
answer (question-to-answer matching, where the cap can hurt). The sample corpus (short answers) is the
control. Per cap: hit@1 / hit@5 of search, and the seconds the ingest took (the same machine, one run).

    python -m eval.bench_answer_cap [--passages 300] [--caps none,256,128]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from core.offline import apply_offline_env
from core.settings import Settings
from eval.datasets import shared_data_dir
from service.knowledge_base import KnowledgeBase

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "eval" / "results" / "ingest.json"


def long_answer_set(passages: int) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """(FAQ rows, (query, gold entry id)) from cmrc2018's dev split."""
    data = json.loads((shared_data_dir() / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    rows: list[dict[str, str]] = []
    queries: list[tuple[str, str]] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            if len(rows) >= passages or len(para["qas"]) < 2:
                continue
            entry_id = f"cmrc-{para['id']}"
            rows.append({"id": entry_id, "question": para["qas"][0]["question"], "answer": para["context"]})
            queries += [(qa["question"], entry_id) for qa in para["qas"][1:]]
    return rows, queries


def sample_set() -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    rows = [json.loads(line) for line in (REPO / "corpora/sample/faq.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    evals = [json.loads(line) for line in (REPO / "corpora/sample/eval.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    ids = {r.get("id") for r in rows}
    queries = [(e["question"], e["gold_ids"][0]) for e in evals
               if e.get("split") == "test" and e.get("gold_ids") and e["gold_ids"][0] in ids]
    return rows, queries


def measure(rows: list[dict[str, Any]], queries: list[tuple[str, str]], cap: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "faq.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
        kb = KnowledgeBase.open(Settings(home=Path(tmp) / "kb", answer_unit_max_tokens=cap))
        t = time.perf_counter()
        kb.ingest([path])
        seconds = time.perf_counter() - t
        ranked = [[h.target_id for h in kb.search(q, 5)] for q, _ in queries]
        kb.close()
    hit1 = sum(r[:1] == [g] for r, (_, g) in zip(ranked, queries, strict=True)) / len(queries)
    hit5 = sum(g in r for r, (_, g) in zip(ranked, queries, strict=True)) / len(queries)
    return {"hit@1": round(hit1, 4), "hit@5": round(hit5, 4), "ingest_s": round(seconds, 1),
            "entries": len(rows), "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--caps", default="none,256,128")
    args = parser.parse_args()
    apply_offline_env()
    caps = [None if c == "none" else int(c) for c in args.caps.split(",")]
    sets = {"cmrc2018_long_answers": long_answer_set(args.passages), "sample": sample_set()}
    result: dict[str, Any] = {}
    for name, (rows, queries) in sets.items():
        result[name] = {str(cap or "none"): measure(rows, queries, cap) for cap in caps}
        print(name, json.dumps(result[name]), flush=True)
    results = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
    results["answer_cap"] = {**result, "default": Settings().answer_unit_max_tokens,
                             "command": f"python -m eval.bench_answer_cap --passages {args.passages}"}
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
