"""The knowledge base and the question pool of the load benchmark, from the public data in ../shared/data.

Entries (FAQ records: ``id``, ``question``, ``alt_questions``, ``answer``, ``lang``):

* the sample corpus's FAQ (``corpora/sample/faq.jsonl``), as it is;
* clinc150: each in-scope intent an entry, its first five training utterances as phrasings, an answer
  written here from the intent's name;
* cmrc2018 (dev): each passage an entry, its first question as the entry's question, the passage as the
  answer; its other questions are held out for the pool;
* dstc11 track 5: the hotel and restaurant FAQs, the entity's name before the question and as the product;
  its questions are the customer's last turn with the earlier turns as ``context``.

Question pool (real questions nobody here wrote, none of them a phrasing in the knowledge base, each with
its gold entry): clinc150 test (in scope), cmrc2018's held-out questions, dstc11's knowledge-seeking
validation turns whose gold is an FAQ (with the two turns before, where the entity is named), the sample
corpus's evaluation questions answered by one of its FAQ entries. Shuffled with a fixed seed, so the mix
is proportional.

``new_entries`` are held out of the knowledge base (and their questions out of the pool): the benchmark
ingests them while the API is under load. Everything is deterministic for a given ``quick``/``seed``."""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("KB_SHARED_DATA", REPO.parent / "shared" / "data"))


@dataclass
class PoolQuestion:
    question: str
    gold: list[str]
    source: str
    context: tuple[str, ...] = ()
    """Earlier turns of the conversation (dialogue sets), sent as ``/v1/ask``'s ``context``."""


@dataclass
class LoadData:
    entries: list[dict[str, Any]]
    new_entries: list[dict[str, Any]]
    pool: list[PoolQuestion]

    def digest(self) -> str:
        """Hash of what goes into the knowledge base: the key of the cached, ingested KB_HOME."""
        h = hashlib.sha256()
        for row in self.entries:
            h.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        return h.hexdigest()[:16]


def _clinc150(n_pool: int | None) -> tuple[list[dict[str, Any]], list[PoolQuestion]]:
    data = json.loads((shared_data_dir() / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    entries = []
    for intent, texts in sorted(by_intent.items()):
        topic = intent.replace("_", " ")
        entries.append({
            "id": f"clinc-{intent}", "question": texts[0], "alt_questions": texts[1:5], "lang": "en",
            "answer": f"About {topic}: open the assistant in the app, choose '{topic}' and follow the steps "
                      f"it shows. If something does not work, reply 'agent' and a colleague will help.",
        })
    pool = [PoolQuestion(t, [f"clinc-{i}"], "clinc150") for t, i in data["test"]]
    return entries, pool[:n_pool] if n_pool else pool


def _cmrc2018(n_passages: int | None) -> tuple[list[dict[str, Any]], list[PoolQuestion]]:
    data = json.loads((shared_data_dir() / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = []
    pool: list[PoolQuestion] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            qas = para["qas"]
            if not qas:
                continue
            eid = f"cmrc-{para['id']}"
            entries.append({"id": eid, "question": qas[0]["question"], "alt_questions": [],
                            "answer": para["context"], "lang": "zh"})
            pool += [PoolQuestion(qa["question"], [eid], "cmrc2018") for qa in qas[1:]]
            if n_passages and len(entries) >= n_passages:
                return entries, pool
    return entries, pool


def _dstc11(n_entries: int | None) -> tuple[list[dict[str, Any]], list[PoolQuestion]]:
    base = shared_data_dir() / "dstc11_track5"
    knowledge = json.loads((base / "knowledge.json").read_text(encoding="utf-8"))
    entries: list[dict[str, Any]] = []
    for domain, entities in knowledge.items():
        for entity_id, entity in entities.items():
            name = entity.get("name") or ""
            for doc_id, faq in (entity.get("faqs") or {}).items():
                entries.append({"id": f"{domain}:{entity_id}:faq:{doc_id}", "question": f"{name}: {faq['question']}",
                                "alt_questions": [], "answer": faq["answer"], "lang": "en", "product": name or None})
    if n_entries:
        entries = entries[:n_entries]
    known = {e["id"] for e in entries}
    logs = json.loads((base / "val" / "logs.json").read_text(encoding="utf-8"))
    labels = json.loads((base / "val" / "labels.json").read_text(encoding="utf-8"))
    pool = []
    for log, label in zip(logs, labels, strict=True):
        if not label.get("target"):
            continue
        gold = [f"{k['domain']}:{k['entity_id']}:faq:{k['doc_id']}" for k in label.get("knowledge", [])
                if k.get("doc_type") == "faq"]
        if gold and set(gold) <= known:
            # as a chatbot asks: the customer's last turn, the earlier turns (its own and the customer's) as context
            pool.append(PoolQuestion(log[-1]["text"], gold, "dstc11_track5", tuple(t["text"] for t in log[:-1])))
    return entries, pool


def _sample() -> tuple[list[dict[str, Any]], list[PoolQuestion]]:
    root = REPO / "corpora" / "sample"
    entries = [json.loads(x) for x in (root / "faq.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    ids = {e["id"] for e in entries}
    pool = []
    for line in (root / "eval.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            # Only questions an FAQ entry answers: the sample's documents are not in this knowledge base.
            gold = [g for g in row.get("gold_ids") or [] if g in ids]
            if gold and row.get("expected_decision", "answer") == "answer":
                pool.append(PoolQuestion(row["question"], gold, "sample"))
    return entries, pool


def build_load_data(quick: bool = False, n_new: int | None = None, seed: int = 0) -> LoadData:
    """Full: about 4,000 entries (3,500 in the knowledge base, 500 held out), about 7,000 pool questions.
    Quick: about 800 entries (50 held out) for a smoke test."""
    if quick:
        parts = [_sample(), _clinc150(600), _cmrc2018(150), _dstc11(400)]
        n_new = 50 if n_new is None else n_new
    else:
        parts = [_sample(), _clinc150(None), _cmrc2018(None), _dstc11(None)]
        n_new = 500 if n_new is None else n_new
    entries = [e for part, _ in parts for e in part]
    pool = [q for _, part in parts for q in part]
    rng = random.Random(seed)
    # New entries come from the per-entity/per-passage sets (sample and clinc150 have few, shared entries).
    eligible = [e["id"] for e in entries if e["id"].startswith(("cmrc-", "hotel:", "restaurant:"))]
    held = set(rng.sample(eligible, min(n_new, len(eligible))))
    base = [e for e in entries if e["id"] not in held]
    new = [e for e in entries if e["id"] in held]
    pool = [q for q in pool if not set(q.gold) & held]
    rng.shuffle(pool)
    return LoadData(entries=base, new_entries=new, pool=pool)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
