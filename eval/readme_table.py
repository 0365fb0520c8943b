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
    out += _answering(answering)
    routing = [(n, answering[n]) for n in ("banking77",) if isinstance(answering.get(n), dict)]
    intents = answering.get("dstc11_intents") or {}
    routing += [(f"dstc11_intents/{k}", v) for k, v in intents.items() if isinstance(v, dict)]
    if routing:
        out += ["**Routing** (team classifier on the shared embedding + lexical features; target 94%)", "",
                "| set | accuracy | macro-F1 | classes |", "|---|---|---|---|"]
        out[-2:] = ["| set | accuracy | char n-gram SVM baseline | macro-F1 | classes |", "|---|---|---|---|---|"]
        out += [f"| {n} | {r['routing_accuracy']:.3f} | {_num(r.get('routing_baseline_accuracy'))} | "
                f"{r['macro_f1']:.3f} | {r.get('classes', '')} |" for n, r in routing]
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
    out += _ingest(_load("ingest.json")) + _load_figures(_load("load.json")) + _security(_load("security.json"))
    return "\n".join(out).strip() + "\n"


def _num(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def _answering(answering: dict[str, Any]) -> list[str]:
    sets = [n for n in ("banking77", "clinc150", "sample") if isinstance((answering.get(n) or {}).get("calibrated"),
                                                                       dict)]
    if not sets:
        return []
    out = ["**Answer, clarify or hand off** (test splits; thresholds from a 90% target precision; self-served = "
           "answered right + clarified with the right entry among the choices, over answerable questions; "
           "out-of-scope questions must be handed off)", "",
           "| set | labels | self-served | answered right | clarified (gold offered) | clarify rate | precision of "
           "answers | out-of-scope handed off |", "|---|---|---|---|---|---|---|---|"]
    for name in sets:
        for mode, label in (("calibrated", "`kb calibrate` on dev"),
                            ("calibrated_learning", "`kb calibrate --learn` on dev"),
                            ("no_labels", "none (`--auto`)"),
                            ("package_default_loso", "none (package default fitted without this set)")):
            r = answering[name].get(mode)
            if isinstance(r, dict):
                out.append(f"| {name} | {label} | {_num(r.get('self_served'))} | {_num(r.get('answered_correct'))} "
                           f"| {_num(r.get('clarified_gold'))} | {_num(r.get('clarify_rate'))} | "
                           f"{_num(r.get('precision'))} | {_num(r.get('oos_handoff_recall'))} |")
    dstc = (answering.get("dstc11_track5") or {}).get("calibrated")
    if isinstance(dstc, dict):
        out += ["", f"dstc11_track5 (knowledge-seeking turns vs the rest): coverage at 90% precision "
                    f"{_num(dstc.get('coverage@p90'))}, precision at 85% coverage {_num(dstc.get('precision@c85'))}."]
    meta = answering.get("meta") or {}
    out += ["", f"_{meta.get('command', '')} at {meta.get('commit', '?')} on {meta.get('date', '?')}. "
                f"{meta.get('note', '')}_", ""]
    return out


def _ingest(r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    long_faq, emb = r.get("long_faq"), r.get("embedding") or {}
    if isinstance(long_faq, dict):
        out += ["**Ingestion at scale**", "",
                f"Long-answer FAQ ({long_faq.get('entries')} entries, {long_faq.get('source', '')}): every entry "
                f"answers by its question after {long_faq.get('seconds_to_answerable')} s, whole ingest "
                f"{long_faq.get('seconds_total')} s; pipeline {emb.get('pipeline_texts_per_s')} texts/s against "
                f"the raw embedder's {emb.get('raw_texts_per_s')} on the same texts (ratio {emb.get('ratio')})."]
    scale = r.get("fake_embedder_scale")
    if isinstance(scale, dict):
        out.append("Everything but the model (fake embedder), seconds per 10k entries: "
                   + ", ".join(f"{int(k):,} entries {v}" for k, v in scale.items()) + ".")
    opt = r.get("optimize")
    if isinstance(opt, dict):
        before, after = opt["before"], opt["after"]
        out.append(f"Dense query at {opt['points']:,} points: p50/p95 {before['p50_ms']}/{before['p95_ms']} ms "
                   f"exact, {after['p50_ms']}/{after['p95_ms']} ms after `optimize()` (HNSW).")
    cap = r.get("answer_cap")
    if isinstance(cap, dict):
        parts = [f"{name}: " + ", ".join(f"{k} hit@1 {v['hit@1']:.3f} in {v['ingest_s']} s" for k, v in runs.items())
                 for name, runs in cap.items() if isinstance(runs, dict)]
        out.append(f"Answer units embedded from their first `KB_ANSWER_UNIT_MAX_TOKENS` (default {cap.get('default')}):"
                   f" {'; '.join(parts)}.")
    return [line for item in out for line in (item, "")] if out else []


def _load_figures(r: dict[str, Any]) -> list[str]:
    if not isinstance(r.get("unique"), dict):
        return []
    out = ["**`/v1/ask` under load** (`kb serve`, one process, 2 cores; " + str((r.get("meta") or {}).get("entries"))
           + " entries; generator " + str((r.get("meta") or {}).get("generator")) + ")", "",
           "| questions | concurrency | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU s/req | cache hits |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for mode in ("unique", "zipf"):
        for c, run in (r.get(mode) or {}).items():
            out.append(f"| {mode} | {c[1:]} | {_num(run.get('rps'), 1)} | {_num(run.get('p50_ms'), 1)} | "
                       f"{_num(run.get('p95_ms'), 1)} | {_num(run.get('p99_ms'), 1)} | {_num(run.get('max_ms'), 1)} "
                       f"| {run.get('errors')} | {_num(run.get('cpu_s_per_req'), 4)} | "
                       f"{_num(run.get('cache_hit_rate'), 2)} |")
    peer, meta = r.get("peer") or {}, r.get("meta") or {}
    pu = (peer.get("unique") or {}).get("c4") or {}
    pz = (peer.get("zipf") or {}).get("c4") or {}
    ceiling = r.get("embedder_ceiling") or {}
    during = r.get("ingest_during_load") or {}
    out += ["", f"Embedder alone (the ceiling): {ceiling.get('rps')} questions/s. LlamaIndex peer at concurrency 4: "
                f"unique {_num(pu.get('rps'), 1)} req/s (p95 {_num(pu.get('p95_ms'), 1)} ms), Zipf "
                f"{_num(pz.get('rps'), 1)} req/s; hit@1 ours {_num(r.get('hit@1'))}, peer {_num(peer.get('hit@1'))}. "
                f"Ingest through the server during load: {during.get('failed_requests')} failed requests, p95 "
                f"{during.get('p95_ms_before')} ms before, {during.get('p95_ms_during')} ms during, new entries "
                f"answering {during.get('seconds_until_visible')} s after the job ended.", "",
            f"_python -m eval.bench_load at {meta.get('commit')} on {meta.get('date')}_", ""]
    return out


def _security(r: dict[str, Any]) -> list[str]:
    fuzz, matrix = r.get("fuzz"), r.get("role_matrix")
    if not isinstance(fuzz, dict) or not isinstance(matrix, dict):
        return []
    return [f"**Security**: {fuzz.get('cases')} schema-generated requests, {fuzz.get('status_5xx')} answered 5xx, "
            f"{fuzz.get('non_json_errors')} errors not JSON; role x route matrix {matrix.get('checks')} checks, "
            f"{matrix.get('failures')} failures (`python -m eval.security --cases 1000`).", ""]


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
