"""``kb eval``: run an evaluation file through the service (the same ``KnowledgeBase.ask`` the API
serves), compute every metric the file's fields allow, and record what produced them."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from answering.records import Question
from core.errors import BadInput
from eval import metrics as m
from eval.datasets import REPO
from ingest.encoding import decode
from ingest.records import parse_records
from retrieval.fusion_fit import Labelled
from service.knowledge_base import KnowledgeBase


class EvalRow(BaseModel):
    id: str
    question: str
    reference_answer: str | None = None
    gold_ids: list[str] = Field(default_factory=list)
    expected_decision: str | None = None
    team: str | None = None
    emotion: str | None = None
    lang: str | None = None
    category: str | None = None
    split: str | None = None


def load_rows(path: Path, split: str | None = None) -> list[EvalRow]:
    if not path.is_file():
        raise BadInput(f"no such evaluation file: {path}")
    rows = []
    _, records = parse_records(decode(path.read_bytes()).text, "jsonl")
    for record in records:
        if record.data is None:
            raise BadInput(f"{path} {record.location}: {record.error}")
        data = {"id": record.location.replace(" ", "-"), **record.data}
        try:
            row = EvalRow.model_validate({k: v for k, v in data.items() if k in EvalRow.model_fields})
        except ValueError as exc:
            raise BadInput(f"{path} {record.location}: {exc}") from exc
        if split is None or row.split == split:
            rows.append(row)
    if not rows:
        raise BadInput(f"{path}: no evaluation rows" + (f" in split {split!r}" if split else ""))
    return rows


def labelled(rows: Sequence[EvalRow]) -> list[Labelled]:
    """The rows with gold ids, for fitting the fusion."""
    return [Labelled(question=r.question, gold=frozenset(r.gold_ids)) for r in rows if r.gold_ids]


def _tokens(kb: KnowledgeBase, text: str) -> list[str]:
    """Words for text metrics: jieba segmentation for Chinese, so ROUGE sees Chinese words."""
    return kb.tokenizer.segment(text)


def provenance(kb: KnowledgeBase, path: Path) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "eval_file": str(path), "eval_sha256": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
        "commit": commit, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "manifest": kb.manifest.model_dump(), "fusion": kb.searcher.fusion.model_dump(),
        "calibration": kb.calibration.model_dump() if kb.calibration else None,
        "settings": kb.settings.redacted(),
        "counts": kb.store.counts(),
    }


def evaluate(kb: KnowledgeBase, rows: Sequence[EvalRow], path: Path,
             progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Per-question records and the metrics over them."""
    records: list[dict[str, Any]] = []
    for row in rows:
        response, hits = kb.ask_with_hits(Question(question=row.question))
        ranked = {"hybrid": [h.target_id for h in hits]}
        if row.gold_ids:
            for mode in ("dense", "bm25"):
                ranked[mode] = [h.target_id for h in kb.search(row.question, 10, mode=mode)]  # type: ignore[arg-type]
        top = hits[0].target_id if hits else None
        answer_ids = {c.entry_id or c.doc_id for c in response.citations}
        records.append({
            "id": row.id, "question": row.question, "lang": row.lang, "category": row.category,
            "contexts": [h.text for h in hits[:3]],
            "gold_ids": row.gold_ids, "ranked": ranked, "top": top,
            "decision": response.decision, "expected_decision": row.expected_decision
            or ("answer" if row.gold_ids else "handoff"),
            "confidence": response.confidence, "answer": response.answer, "reference_answer": row.reference_answer,
            "correct": bool(response.decision == "answer" and row.gold_ids and answer_ids & set(row.gold_ids)),
            "top_correct": bool(top and top in set(row.gold_ids)),
            "team": row.team, "route": response.route.team if response.route else None,
            "emotion": row.emotion, "escalate": response.emotion.escalate if response.emotion else None,
            "timings_ms": {**response.timings_ms, "total": response.latency_ms},
        })
        if progress:
            progress(1)
    return {"provenance": provenance(kb, path), "metrics": compute_metrics(kb, records), "records": records}


def compute_metrics(kb: KnowledgeBase, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    answerable = [r for r in records if r["gold_ids"]]
    if answerable:
        out["retrieval"] = {mode: m.ranking_metrics([(r["ranked"][mode], set(r["gold_ids"])) for r in answerable])
                            for mode in ("bm25", "dense", "hybrid")}
        out["retrieval_by_lang"] = m.grouped(
            answerable, "lang", lambda rs: m.ranking_metrics([(r["ranked"]["hybrid"], set(r["gold_ids"])) for r in rs]))
        out["retrieval_by_category"] = m.grouped(
            answerable, "category",
            lambda rs: m.ranking_metrics([(r["ranked"]["hybrid"], set(r["gold_ids"])) for r in rs]))
    answered = [r for r in records if r["decision"] == "answer"]
    unanswerable = [r for r in records if not r["gold_ids"]]
    curve = m.coverage_precision_curve([r["confidence"] for r in records], [r["correct"] for r in records])
    out["decisions"] = {
        "answered": len(answered), "n": len(records),
        "coverage": round(len(answered) / max(len(records), 1), 4),
        "coverage_of_answerable": round(sum(1 for r in answered if r["gold_ids"]) / max(len(answerable), 1), 4),
        "precision": round(sum(r["correct"] for r in answered) / len(answered), 4) if answered else None,
        "handoff_recall_unanswerable": round(sum(r["decision"] != "answer" for r in unanswerable)
                                             / len(unanswerable), 4) if unanswerable else None,
        "clarify_rate": round(sum(r["decision"] == "clarify" for r in records) / max(len(records), 1), 4),
        "decision_accuracy": round(sum((r["decision"] == "answer") == (r["expected_decision"] == "answer")
                                       for r in records) / max(len(records), 1), 4),
        "curve": [[round(t, 4), round(c, 4), round(p, 4)] for t, c, p in curve],
    }
    with_team = [r for r in records if r["team"]]
    if with_team:
        out["routing"] = m.classification_metrics([r["team"] for r in with_team], [r["route"] for r in with_team])
    with_emotion = [r for r in records if r["emotion"]]
    if with_emotion:
        gold = [r["emotion"] == "angry" for r in with_emotion]
        pred = [bool(r["escalate"]) for r in with_emotion]
        out["emotion"] = {**m.binary_metrics(gold, pred), **m.classification_metrics(
            ["angry" if g else "neutral" for g in gold], ["angry" if p else "neutral" for p in pred])}
    with_ref = [r for r in answered if r["reference_answer"] and r["answer"]]
    if with_ref:
        out["answer_text"] = {
            "rouge_l": m.mean([m.rouge_l(_tokens(kb, r["reference_answer"]), _tokens(kb, r["answer"]))
                               for r in with_ref]),
            "chrf": m.mean([m.chrf(r["reference_answer"], r["answer"]) for r in with_ref]),
            "n": len(with_ref),
        }
    stages = sorted({k for r in records for k in r["timings_ms"]})
    out["latency_ms"] = {s: m.percentiles([r["timings_ms"][s] for r in records if s in r["timings_ms"]])
                         for s in stages}
    return out
