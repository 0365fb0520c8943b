"""Reports of an evaluation run: ``report.json`` (everything), ``report.md`` (the tables) and a
self-contained ``report.html`` (tables and plots as inline PNG); and ``compare`` for quality gates."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

# Higher is better for every metric compared, except latency (lower is better).
GATED = {
    "retrieval.hybrid.hit@1", "retrieval.hybrid.hit@5", "retrieval.hybrid.mrr@10", "retrieval.hybrid.ndcg@10",
    "decisions.precision", "decisions.coverage_of_answerable", "decisions.handoff_recall_unanswerable",
    "routing.accuracy", "routing.macro_f1", "emotion.precision", "emotion.recall", "emotion.f1",
    "answer_text.rouge_l", "answer_text.chrf",
}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(result: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = result["metrics"]
    out: dict[str, str] = {}
    curve = metrics["decisions"]["curve"]
    if curve:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([c for _, c, _ in curve], [p for _, _, p in curve], marker=".", lw=1)
        ax.axhline(0.9, color="grey", ls="--", lw=0.8, label="90% precision")
        ax.set_xlabel("coverage (share answered)")
        ax.set_ylabel("precision of answered")
        ax.set_title("Coverage-precision of auto-answering")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left")
        out["coverage_precision"] = _png(fig)
    if "retrieval" in metrics:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ks = ["hit@1", "hit@3", "hit@5", "hit@10"]
        for i, mode in enumerate(("bm25", "dense", "hybrid")):
            vals = [metrics["retrieval"][mode][k] for k in ks]
            ax.bar([x + i * 0.27 for x in range(len(ks))], vals, width=0.27, label=mode)
        ax.set_xticks([x + 0.27 for x in range(len(ks))], ks)
        ax.set_ylim(0, 1.05)
        ax.set_title("hit@k by retriever")
        ax.legend(loc="lower right")
        out["hit_at_k"] = _png(fig)
    for name in ("routing", "emotion"):
        if name in metrics:
            labels, matrix = metrics[name]["labels"], metrics[name]["confusion"]
            fig, ax = plt.subplots(figsize=(1.2 + 0.5 * len(labels), 1 + 0.5 * len(labels)))
            ax.imshow(matrix, cmap="Blues")
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
            ax.set_yticks(range(len(labels)), labels)
            for r, row in enumerate(matrix):
                for c, v in enumerate(row):
                    ax.text(c, r, str(v), ha="center", va="center", fontsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("gold")
            ax.set_title(f"{name} confusion matrix")
            out[f"confusion_{name}"] = _png(fig)
    lat = [r["timings_ms"] for r in result["records"]]
    stages = [s for s in metrics["latency_ms"] if s != "total"]
    if lat and stages:
        fig, axes = plt.subplots(1, len(stages) + 1, figsize=(2.2 * (len(stages) + 1), 2.4))
        for ax, stage in zip(axes, [*stages, "total"], strict=True):
            ax.hist([t[stage] for t in lat if stage in t], bins=20)
            ax.set_title(stage, fontsize=9)
            ax.tick_params(labelsize=7)
        fig.suptitle("latency per stage (ms)", fontsize=10)
        out["latency"] = _png(fig)
    return out


def _flat(prefix: str, data: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            if k in ("curve", "confusion", "labels"):
                continue
            out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix] = float(data)
    return out


def markdown(result: dict[str, Any]) -> str:
    metrics, prov = result["metrics"], result["provenance"]
    lines = [f"# Evaluation report: {prov['eval_file']}", "",
             f"commit `{prov['commit']}`, {prov['date']}, model `{prov['manifest']['embedding_model']}`, "
             f"eval file sha256 `{prov['eval_sha256']}`, {metrics['decisions']['n']} questions", ""]
    if "retrieval" in metrics:
        lines += ["## Retrieval", "", "| retriever | hit@1 | hit@5 | recall@10 | MRR@10 | nDCG@10 |",
                  "|---|---|---|---|---|---|"]
        for mode, r in metrics["retrieval"].items():
            lines.append(f"| {mode} | {r['hit@1']} | {r['hit@5']} | {r['recall@10']} | {r['mrr@10']} "
                         f"| {r['ndcg@10']} |")
        lines += ["", "| language | hit@1 | MRR@10 | n |", "|---|---|---|---|"]
        lines += [f"| {k} | {v['hit@1']} | {v['mrr@10']} | {v['n']} |" for k, v in metrics["retrieval_by_lang"].items()]
        lines.append("")
    d = metrics["decisions"]
    lines += ["## Decisions", "", "| coverage | coverage of answerable | precision | handoff recall (unanswerable) "
              "| clarify rate |", "|---|---|---|---|---|",
              f"| {d['coverage']} | {d['coverage_of_answerable']} | {d['precision']} | "
              f"{d['handoff_recall_unanswerable']} | {d['clarify_rate']} |", ""]
    for name in ("routing", "emotion"):
        if name in metrics:
            r = metrics[name]
            extra = f", precision {r['precision']}, recall {r['recall']}, F1 {r['f1']}" if name == "emotion" else ""
            lines += [f"## {name.title()}", "", f"accuracy {r['accuracy']}, macro-F1 {r['macro_f1']}{extra} "
                      f"(n = {r['n']})", ""]
    if "answer_text" in metrics:
        t = metrics["answer_text"]
        lines += ["## Answer text", "", f"ROUGE-L {t['rouge_l']}, chrF {t['chrf']} (n = {t['n']})", ""]
    if "ragas" in metrics:
        lines += ["## ragas", "", *(f"- {k}: {v}" for k, v in metrics["ragas"].items()), ""]
    lines += ["## Latency (ms)", "", "| stage | p50 | p95 | p99 |", "|---|---|---|---|"]
    lines += [f"| {s} | {v['p50']} | {v['p95']} | {v['p99']} |" for s, v in metrics["latency_ms"].items()]
    return "\n".join(lines) + "\n"


def html_report(result: dict[str, Any], md: str) -> str:
    images = plots(result)
    figs = "\n".join(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>"
                     for name, data in images.items())
    body: list[str] = []
    in_table = False
    for line in md.splitlines():
        is_row = line.startswith("|")
        if in_table and not is_row:
            body.append("</table>")
            in_table = False
        if is_row:
            if line.startswith("|---"):
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            cells = "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|"))
            body.append(f"<tr>{cells}</tr>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    text = "\n".join(body)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>supportkb evaluation</title><style>"
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}td{border:1px solid #ccc;padding:2px 8px}"
        "table{border-collapse:collapse;margin:0.5em 0}"
        "figure{display:inline-block;margin:0.5em;max-width:100%}img{max-width:100%}"
        f"</style></head><body>{text}<h2>Plots</h2>{figs}</body></html>"
    )


def write_report(result: dict[str, Any], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(result)
    paths = [out / "report.json", out / "report.md", out / "report.html"]
    paths[0].write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    paths[1].write_text(md, encoding="utf-8")
    paths[2].write_text(html_report(result, md), encoding="utf-8")
    return paths


def compare(a: dict[str, Any], b: dict[str, Any], tolerance: float = 0.01) -> tuple[list[dict[str, Any]], bool]:
    """Rows of (metric, before, after, delta, status) for every gated metric in both; True if one regressed
    by more than ``tolerance`` (absolute)."""
    fa, fb = _flat("", a["metrics"]), _flat("", b["metrics"])
    rows, regressed = [], False
    for key in sorted(GATED & fa.keys() & fb.keys()):
        delta = fb[key] - fa[key]
        status = "regressed" if delta < -tolerance else ("improved" if delta > tolerance else "same")
        regressed |= status == "regressed"
        rows.append({"metric": key, "before": fa[key], "after": fb[key], "delta": round(delta, 4), "status": status})
    return rows, regressed
