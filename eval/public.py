"""Public data sets in the evaluation format, and one command that reproduces a report on each.

    python -m eval.public export NAME DIR   # DIR/kb/ (files for `kb ingest`) + DIR/eval.jsonl
    python -m eval.public report NAME DIR   # a fresh knowledge base, fusion and calibration fitted on
                                            # the dev split, `kb eval` on test -> DIR/report.{json,md,html}

NAME: cmrc2018, dstc11_track5, clinc150, banking77, goemotions (goemotions has no knowledge base:
its rows carry only ``emotion``)."""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from core.offline import apply_offline_env

apply_offline_env()

from eval.datasets import Bench, cmrc2018, dstc11_track5, shared_data_dir  # noqa: E402


def _rows(bench: Bench) -> list[dict[str, Any]]:
    out = []
    for split, queries in (("dev", bench.dev), ("test", bench.test)):
        for q in queries:
            out.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "gold_ids": q.gold_ids,
                    "lang": q.lang,
                    "split": split,
                    "expected_decision": "answer" if q.gold_ids else "handoff",
                }
            )
    return out


def _clinc150() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    data = json.loads((shared_data_dir() / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    faq = [
        {"id": i, "question": t[0], "alt_questions": t[1:5], "answer": i.replace("_", " "), "lang": "en"}
        for i, t in sorted(by_intent.items())
    ]
    rows = []
    for split, key, oos in (("dev", "val", "oos_val"), ("test", "test", "oos_test")):
        rows += [{"question": t, "gold_ids": [i], "split": split, "lang": "en"} for t, i in data[key]]
        rows += [
            {"question": t, "gold_ids": [], "split": split, "lang": "en", "expected_decision": "handoff"}
            for t, _ in data[oos]
        ]
    return faq, rows


def _banking77() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = shared_data_dir() / "banking77"
    train = list(csv.DictReader((base / "train.csv").open(encoding="utf-8")))
    by_cat: dict[str, list[str]] = {}
    for r in train:
        by_cat.setdefault(r["category"], []).append(r["text"])
    faq = [
        {"id": c, "question": t[0], "alt_questions": t[1:5], "answer": c.replace("_", " "), "lang": "en", "team": c}
        for c, t in sorted(by_cat.items())
    ]
    test = list(csv.DictReader((base / "test.csv").open(encoding="utf-8")))
    rnd = random.Random(0)
    rows = [
        {
            "question": r["text"],
            "gold_ids": [r["category"]],
            "team": r["category"],
            "lang": "en",
            "split": "dev" if rnd.random() < 0.3 else "test",
        }
        for r in test
    ]
    return faq, rows


def _goemotions() -> list[dict[str, Any]]:
    rows = []
    for split, name in (("dev", "dev"), ("test", "test")):
        for line in (
            (shared_data_dir() / "goemotions" / "original" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        ):
            parts = line.split("\t")
            if len(parts) >= 2:
                angry = bool({"2", "3"} & set(parts[1].split(",")))
                rows.append(
                    {
                        "question": parts[0],
                        "gold_ids": [],
                        "emotion": "angry" if angry else "neutral",
                        "split": split,
                        "lang": "en",
                    }
                )
    return rows


def export(name: str, out: Path) -> Path:
    """Write DIR/kb/ and DIR/eval.jsonl; returns the eval file."""
    kb_dir = out / "kb"
    kb_dir.mkdir(parents=True, exist_ok=True)
    faq: list[dict[str, Any]] = []
    if name in ("cmrc2018", "dstc11_track5"):
        bench = cmrc2018() if name == "cmrc2018" else dstc11_track5()
        faq = [
            {"id": e.id, "question": e.question, "answer": e.answer, "category": e.category, "lang": e.lang}
            for e in bench.entries
        ]
        for d in bench.documents:
            (kb_dir / f"{d.id}.md").write_text(
                f"---\nid: {d.id}\ntitle: {json.dumps(d.title, ensure_ascii=False)}\nlang: {d.lang}\n---\n{d.body}\n",
                encoding="utf-8",
            )
        rows = _rows(bench)
    elif name == "clinc150":
        faq, rows = _clinc150()
    elif name == "banking77":
        faq, rows = _banking77()
    elif name == "goemotions":
        rows = _goemotions()
    else:
        raise SystemExit(f"unknown data set {name!r}")
    if faq:
        (kb_dir / "faq.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in faq) + "\n", encoding="utf-8"
        )
    path = out / "eval.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": r.get("id", f"{name}-{i}"), **r}, ensure_ascii=False) for i, r in enumerate(rows))
        + "\n",
        encoding="utf-8",
    )
    return path


def report(name: str, out: Path) -> None:
    from core.settings import Settings
    from eval.ragas_metrics import ragas_scores
    from eval.report import write_report
    from eval.run import evaluate, labelled, load_rows
    from retrieval.fusion_fit import fit_fusion
    from service.knowledge_base import KnowledgeBase

    with tempfile.TemporaryDirectory(prefix=f"kb-{name}-") as tmp:
        eval_file = export(name, Path(tmp) / "data")
        kb = KnowledgeBase.open(Settings(home=Path(tmp) / "kb"))
        kb.ingest([Path(tmp) / "data" / "kb"])
        dev = load_rows(eval_file, "dev")
        kb.set_fusion(fit_fusion(kb.searcher, labelled(dev)).model)
        kb.fit_calibration(
            [(q.question, q.gold_ids) for q in dev], fitted_on=f"{name} dev"
        )
        result = evaluate(kb, load_rows(eval_file, "test"), eval_file)
        result["metrics"]["ragas"] = ragas_scores(kb, result["records"])
        result["provenance"]["eval_file"] = f"eval.public {name} (test split)"
        kb.close()
    for p in write_report(result, out):
        print(f"wrote {p}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["export", "report"])
    parser.add_argument("name")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.action == "export":
        print(export(args.name, args.out))
    else:
        report(args.name, args.out)


if __name__ == "__main__":
    main()
