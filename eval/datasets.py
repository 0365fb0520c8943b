"""Adapters from the public data sets in ``../shared/data`` to knowledge-base records and labelled queries.

Each adapter returns a ``Bench``: entries and/or documents to ingest, and dev/test query lists
(``question``, ``gold_ids``). Dev is for fitting (fusion, calibration); figures are reported on test."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from core.models import Document, KnowledgeEntry

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA", REPO.parent / "shared" / "data"))


class Query(BaseModel):
    id: str
    question: str
    gold_ids: list[str]
    lang: str | None = None
    expected_decision: str = "answer"


class Bench(BaseModel):
    name: str
    entries: list[KnowledgeEntry] = []
    documents: list[Document] = []
    dev: list[Query] = []
    test: list[Query] = []


def cmrc2018(root: Path | None = None, n_test: int = 500, n_dev: int = 300, seed: int = 0) -> Bench:
    """Chinese passages as documents; a fixed random ``n_test`` questions reported, ``n_dev`` others for fitting."""
    data = json.loads(((root or shared_data_dir()) / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    docs: list[Document] = []
    queries: list[Query] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            doc_id = f"cmrc-{para['id']}"
            title = article.get("title") or para["context"][:20]
            docs.append(Document(id=doc_id, title=title, body=para["context"], format="text", lang="zh",
                                 source="cmrc2018"))
            for qa in para["qas"]:
                queries.append(Query(id=qa["id"], question=qa["question"], gold_ids=[doc_id], lang="zh"))
    rng = random.Random(seed)
    rng.shuffle(queries)
    return Bench(name="cmrc2018", documents=docs, test=queries[:n_test], dev=queries[n_test : n_test + n_dev])


def _dstc_turn_query(log: Sequence[dict[str, str]]) -> str:
    """The knowledge-seeking user turn with the two turns before it (the entity is usually named earlier)."""
    return "\n".join(turn["text"] for turn in log[-3:])


def dstc11_track5(root: Path | None = None, dev_fraction: float = 0.3) -> Bench:
    base = (root or shared_data_dir()) / "dstc11_track5"
    knowledge = json.loads((base / "knowledge.json").read_text(encoding="utf-8"))
    entries: list[KnowledgeEntry] = []
    for domain, entities in knowledge.items():
        for entity_id, entity in entities.items():
            name = entity.get("name") or ""
            for doc_id, faq in (entity.get("faqs") or {}).items():
                entries.append(KnowledgeEntry(
                    id=f"{domain}:{entity_id}:faq:{doc_id}", question=f"{name}: {faq['question']}",
                    answer=faq["answer"], category=domain, product=name or None, lang="en",
                    source="dstc11_track5", metadata={"entity": name},
                ))
    logs = json.loads((base / "val" / "logs.json").read_text(encoding="utf-8"))
    labels = json.loads((base / "val" / "labels.json").read_text(encoding="utf-8"))
    dev: list[Query] = []
    test: list[Query] = []
    for i, (log, label) in enumerate(zip(logs, labels, strict=True)):
        if not label.get("target"):
            continue
        gold = [f"{k['domain']}:{k['entity_id']}:faq:{k['doc_id']}" for k in label.get("knowledge", [])
                if k.get("doc_type") == "faq"]
        if not gold:
            continue
        q = Query(id=f"val-{i}", question=_dstc_turn_query(log), gold_ids=gold, lang="en")
        # A fixed, deterministic split by turn index.
        (dev if (i * 2654435761) % 1000 < dev_fraction * 1000 else test).append(q)
    return Bench(name="dstc11_track5", entries=entries, dev=dev, test=test)


def sample_eval(path: Path | None = None) -> tuple[list[Query], list[Query]]:
    """(dev, test) queries of the sample corpus's evaluation file, all of them (handoffs included)."""
    path = path or REPO / "corpora" / "sample" / "eval.jsonl"
    dev: list[Query] = []
    test: list[Query] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        q = Query(id=row["id"], question=row["question"], gold_ids=row.get("gold_ids") or [], lang=row.get("lang"),
                  expected_decision=row.get("expected_decision", "answer"))
        (dev if row.get("split") == "dev" else test).append(q)
    return dev, test


def abcd_guidelines(root: Path | None = None) -> list[Document]:
    """ABCD's agent guidelines (flows > subflows > actions) as one Markdown help document per flow."""
    from core.models import Document as Doc

    data = json.loads(((root or shared_data_dir()) / "abcd" / "guidelines.json").read_text(encoding="utf-8"))
    docs = []
    for flow, content in data.items():
        lines = [f"# {flow}", "", str(content.get("description") or "").strip(), ""]
        for subflow, body in (content.get("subflows") or {}).items():
            lines += [f"## {subflow}", ""]
            if body.get("instructions"):
                lines += [" ".join(str(x) for x in body["instructions"]), ""]
            for action in body.get("actions") or []:
                button = f"[{action['button']}] " if action.get("button") else ""
                lines.append(f"- {button}{str(action.get('text') or '').strip()}")
                lines += [f"  - {str(s).strip()}" for s in action.get("subtext") or [] if str(s).strip()]
            lines.append("")
        slug = "-".join(flow.lower().split())
        docs.append(Doc(id=f"abcd-{slug}", title=flow, body="\n".join(lines), format="markdown", lang="en",
                        source="abcd/guidelines.json"))
    return docs


Item = tuple[str, frozenset[str]]
"""A labelled question: text and gold entry ids (empty: must be handed off)."""


class AnsweringSet(BaseModel):
    """A knowledge base plus labelled dev/test questions for the answer / clarify / hand-off benchmark."""

    name: str
    entries: list[KnowledgeEntry]
    dev: list[tuple[str, list[str]]]
    test: list[tuple[str, list[str]]]
    unanswerable_share: float | None = None
    setup: str = ""


def _intent_entries(by_intent: dict[str, list[str]], source: str, n_phrasings: int = 5) -> list[KnowledgeEntry]:
    return [KnowledgeEntry(id=intent, question=texts[0], alt_questions=tuple(texts[1:n_phrasings]), lang="en",
                           answer=intent.replace("_", " ").capitalize() + ".", source=source, category=intent)
            for intent, texts in sorted(by_intent.items())]


def banking77_answering(root: Path | None = None, n_phrasings: int = 5, dev_per_intent: int = 12) -> AnsweringSet:
    """banking77 as an FAQ: each of the 77 intents an entry with its first ``n_phrasings`` train questions
    as phrasings and the intent name as the written answer. Dev: ``dev_per_intent`` further train questions
    per intent plus clinc150's 100 validation out-of-scope questions; test: all 3,080 test questions plus
    clinc150's 1,000 test out-of-scope questions (24.5% of the test mix, the share the threshold is set for)."""
    import csv

    base = root or shared_data_dir()
    by_intent: dict[str, list[str]] = {}
    for row in csv.DictReader((base / "banking77" / "train.csv").open(encoding="utf-8")):
        by_intent.setdefault(row["category"], []).append(row["text"])
    clinc = json.loads((base / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    dev = [(t, [intent]) for intent, texts in sorted(by_intent.items())
           for t in texts[n_phrasings : n_phrasings + dev_per_intent]]
    dev += [(t, []) for t, _ in clinc["oos_val"]]
    test = [(r["text"], [r["category"]])
            for r in csv.DictReader((base / "banking77" / "test.csv").open(encoding="utf-8"))]
    test += [(t, []) for t, _ in clinc["oos_test"]]
    n_oos = len(clinc["oos_test"])
    return AnsweringSet(
        name="banking77", entries=_intent_entries(by_intent, "banking77", n_phrasings), dev=dev, test=test,
        unanswerable_share=round(n_oos / len(test), 3),
        setup=(f"77 entries, {n_phrasings} train phrasings each, intent name as answer; dev {len(dev)} "
               f"({dev_per_intent} other train questions per intent + 100 clinc150 oos_val); test {len(test)} "
               f"(3,080 banking77 test + {n_oos} clinc150 oos_test, {n_oos / len(test):.1%} out of scope)"))


def clinc150_answering(root: Path | None = None, n_phrasings: int = 5) -> AnsweringSet:
    """clinc150: each in-scope intent an entry (first ``n_phrasings`` train utterances); dev = val (3,000 +
    100 oos), test = test (4,500 + 1,000 oos, 18.2% out of scope)."""
    data = json.loads(((root or shared_data_dir()) / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    dev = [(t, [i]) for t, i in data["val"]] + [(t, []) for t, _ in data["oos_val"]]
    test = [(t, [i]) for t, i in data["test"]] + [(t, []) for t, _ in data["oos_test"]]
    return AnsweringSet(
        name="clinc150", entries=_intent_entries(by_intent, "clinc150", n_phrasings), dev=dev, test=test,
        unanswerable_share=round(len(data["oos_test"]) / len(test), 3),
        setup="150 entries, 5 train phrasings each; dev = val (3,000 + 100 oos), test 4,500 + 1,000 oos (18.2%)")
