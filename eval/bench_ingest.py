"""Ingestion benchmark: throughput of profile, clean+mask and full ingest, and PII-masking precision and
recall. Writes ``eval/results/ingest.json``.

PII labelled set (built here, deterministic, seed 0): 300 real CFPB complaint narratives, cleaned; into
150 of them one or two synthetic PII values are inserted between sentences (Chinese mobile and
international phones, e-mail addresses, Chinese resident IDs with valid checksums, Luhn-valid card
numbers, IPv4 addresses, order numbers), so every true value and its type is known by construction;
the other 150 are left as they are (their masks count as false positives unless they hide something
the narrative really contains). Plus the dstc11_intents utterances that spell out an account/card/PIN/
SSN number in words (selected by a separate pattern), each expected to lose its spelled digits.

Scale (issue 15): a long-answer FAQ from cmrc2018 with the packaged embedder (seconds until it answers by
its questions, whole ingest, the raw embedder on the same texts) and the fake embedder at 10k/50k/100k.

    python -m eval.bench_ingest [--only scale]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from core.offline import apply_offline_env

apply_offline_env()

from core.settings import Settings  # noqa: E402
from eval.bench_retrieval import SAMPLE, _git_commit  # noqa: E402
from eval.datasets import REPO, shared_data_dir  # noqa: E402
from ingest.clean import clean_message  # noqa: E402
from ingest.indexing import dense_text  # noqa: E402
from ingest.pii import PiiMasker, luhn_ok  # noqa: E402
from ingest.profile import profile  # noqa: E402
from ingest.tickets import load_mapping  # noqa: E402
from retrieval.embed import build_embedder  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402

CFPB_MAP = ["id=Complaint ID", "text=Consumer complaint narrative", "status=Company response to consumer",
            "team=Product"]
SPELLED = re.compile(r"\b(account|card|pin|social security)\b[^.?!]{0,30}?((?:\b(?:zero|one|two|three|four|five|six|"
                     r"seven|eight|nine)\b[ ,-]+){3,}\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b)", re.I)


def _cn_id(rng: random.Random) -> str:
    body = f"{rng.choice(['110105', '310104', '440305'])}{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}" \
           f"{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _card(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(str(rng.randint(0, 9)) for _ in range(15))
        if luhn_ok(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


GENERATORS = {
    "PHONE": lambda r: rng_choice(r, [f"13{r.randint(0, 9)}{r.randint(10000000, 99999999)}",
                                      f"+1 415 555 {r.randint(1000, 9999)}"]),
    "EMAIL": lambda r: f"{rng_choice(r, ['li.na', 'john.doe', 'mary88'])}{r.randint(1, 99)}@example.com",
    "ID_CN": _cn_id,
    "CARD": _card,
    "IP": lambda r: f"{r.randint(11, 200)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "ORDER": lambda r: f"CN{r.randint(10**11, 10**12 - 1)}",
}


def rng_choice(rng: random.Random, items: list[str]) -> str:
    return items[rng.randrange(len(items))]


def _narratives(limit: int) -> list[str]:
    path = shared_data_dir() / "cfpb_complaints" / "complaints_sample.csv"
    rows = csv.DictReader(path.open(encoding="utf-8"))
    out = []
    for r in rows:
        text = clean_message(r.get("Consumer complaint narrative") or "")
        if text:
            out.append(text)
        if len(out) >= limit:
            break
    return out


def pii_labelled_scores(masker: PiiMasker) -> dict[str, Any]:
    rng = random.Random(0)
    per_type: dict[str, dict[str, int]] = {k: {"tp": 0, "fn": 0} for k in GENERATORS}
    fp = total_masks = 0
    for i, text in enumerate(_narratives(300)):
        injected: list[tuple[str, str]] = []
        if i % 2 == 0:
            sentences = re.split(r"(?<=[.!?]) ", text)
            for _ in range(rng.randint(1, 2)):
                kind = rng_choice(rng, list(GENERATORS))
                value = GENERATORS[kind](rng)
                cue = {"ORDER": "my order ", "CARD": "card ", "ID_CN": "ID ", "IP": "from IP "}.get(kind, "")
                sentences.insert(rng.randint(0, len(sentences)), f"Contact: {cue}{value}.")
                injected.append((kind, value))
            text = " ".join(sentences)
        result = masker.mask(text)
        masks = sum(result.counts.values())
        total_masks += masks
        hits = 0
        for kind, value in injected:
            if value in result.text:
                per_type[kind]["fn"] += 1
            else:
                per_type[kind]["tp"] += 1
                hits += 1
        fp += max(masks - hits, 0)
    tp = sum(v["tp"] for v in per_type.values())
    fn = sum(v["fn"] for v in per_type.values())
    spoken = [json.loads(line)["utterance"] for f in sorted((shared_data_dir() / "dstc11_intents").glob("*.jsonl"))
              for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    spelled = [u for u in spoken if SPELLED.search(u)]
    spelled_hits = sum(1 for u in spelled if not SPELLED.search(masker.mask(u).text))
    return {
        "synthetic_in_cfpb": {
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0, "recall": round(tp / (tp + fn), 4),
            "true_positives": tp, "false_positives": fp, "false_negatives": fn, "texts": 300,
            "per_type_recall": {k: round(v["tp"] / max(v["tp"] + v["fn"], 1), 4) for k, v in per_type.items()}},
        "spelled_numbers_dstc11_intents": {"utterances": len(spelled),
                                           "recall": round(spelled_hits / max(len(spelled), 1), 4)},
        "labelling": __doc__.split("PII labelled set")[1].split("python -m")[0].strip() if __doc__ else "",
    }


def throughput() -> dict[str, Any]:
    out: dict[str, Any] = {}
    cfpb = shared_data_dir() / "cfpb_complaints" / "complaints_sample.csv"
    mapping = load_mapping(None, CFPB_MAP)
    t = time.perf_counter()
    report = profile([cfpb], mapping)
    out["profile_records_per_s"] = {"cfpb": round(report["totals"]["records"] / (time.perf_counter() - t), 1)}
    t = time.perf_counter()
    report = profile([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
    out["profile_records_per_s"]["sample"] = round(report["totals"]["records"] / (time.perf_counter() - t), 1)
    masker = PiiMasker()
    texts = _narratives(10_000)
    t = time.perf_counter()
    for text in texts:
        masker.mask(clean_message(text))
    out["clean_mask_records_per_s"] = {"cfpb": round(len(texts) / (time.perf_counter() - t), 1)}
    faq = [json.loads(line) for line in (SAMPLE / "faq.jsonl").read_text(encoding="utf-8").splitlines()]
    t = time.perf_counter()
    for r in faq:
        masker.mask(clean_message(r["question"]))
        masker.mask(r["answer"])
    out["clean_mask_records_per_s"]["sample"] = round(len(faq) / (time.perf_counter() - t), 1)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase.open(Settings(home=Path(tmp) / "a", user_dict=SAMPLE / "userdict.txt",
                                         auto_calibrate=False))  # ingestion alone, not the confidence fit after it
        t = time.perf_counter()
        r = kb.ingest([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
        out["full_ingest_records_per_s"] = {"sample (with embedding)": round((r.entries + r.documents)
                                                                            / (time.perf_counter() - t), 2)}
        t = time.perf_counter()
        r = kb.ingest_tickets([cfpb], mapping)
        out["full_ingest_records_per_s"]["cfpb tickets (cleaned, masked, mined; not embedded)"] = round(
            (r.tickets + len(r.quarantined)) / (time.perf_counter() - t), 1)
        kb.close()
    return out


def long_faq_rows(limit: int = 4000) -> list[dict[str, str]]:
    """cmrc2018 (dev, then trial) questions with their whole passage as the answer: a long-answer FAQ."""
    rows: list[dict[str, str]] = []
    for name in ("cmrc2018_dev.json", "cmrc2018_trial.json"):
        data = json.loads((shared_data_dir() / "cmrc2018" / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for para in article["paragraphs"]:
                rows += [{"id": f"cmrc-{qa['id']}", "question": qa["question"], "answer": para["context"]}
                         for qa in para["qas"]]
    return rows[:limit]


def _timed_replace(kb: KnowledgeBase, started: float, marks: list[tuple[float, str]]) -> None:
    """Record when each write of a source lands (``partial:`` = the entries answer by their questions)."""
    real = kb.store.sources.replace

    def replace(uri: str, kind: str, digest: str, *args: Any, **kwargs: Any) -> None:
        real(uri, kind, digest, *args, **kwargs)
        marks.append((time.perf_counter() - started, digest))

    kb.store.sources.replace = replace  # type: ignore[method-assign,assignment]


def long_faq(limit: int = 4000) -> dict[str, Any]:
    """Seconds until every entry of a long-answer FAQ answers by its question, seconds for the whole ingest,
    and the raw embedder on exactly the texts the pipeline embedded (their ratio: what the rest costs)."""
    rows = long_faq_rows(limit)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long_faq.jsonl"
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
        kb = KnowledgeBase.open(Settings(home=Path(tmp) / "kb", auto_calibrate=False))
        marks: list[tuple[float, str]] = []
        started = time.perf_counter()
        _timed_replace(kb, started, marks)
        report = kb.ingest([path])
        total = time.perf_counter() - started
        units = list(kb.store.sources.iter_units())
        kb.close()
        # exactly the texts the pipeline embedded (answer units capped), through a fresh embedder: the
        # knowledge base's own one would answer the questions from its query cache
        cap = Settings().answer_unit_max_tokens
        questions = list(dict.fromkeys(u.text for u in units if u.kind == "question"))
        passages = list(dict.fromkeys(dense_text(u, cap) for u in units if u.kind != "question"))
        raw_embedder = build_embedder(Settings(home=Path(tmp) / "raw"))
        raw_embedder.warm_up()
        t = time.perf_counter()
        for start in range(0, len(questions), 256):
            raw_embedder.embed_queries(questions[start : start + 256])
        for start in range(0, len(passages), 256):
            raw_embedder.embed_passages(passages[start : start + 256])
        raw = time.perf_counter() - t
    answerable = next((s for s, digest in marks if digest.startswith("partial:")), marks[-1][0] if marks else total)
    texts = len(questions) + len(passages)
    return {
        "embedding": {"raw_texts_per_s": round(texts / raw, 2), "pipeline_texts_per_s": round(texts / total, 2),
                      "ratio": round(raw / total, 3)},
        "long_faq": {"entries": report.entries, "entries_per_s": round(report.entries / total, 2),
                     "seconds_to_answerable": round(answerable, 1), "seconds_total": round(total, 1),
                     "source": "cmrc2018 dev+trial questions, each with its whole passage as the answer"},
    }


def fake_embedder_scale(sizes: tuple[int, ...] = (10_000, 50_000, 100_000)) -> dict[str, float]:
    """Seconds per 10k entries of a whole ingest with the fake embedder: everything but the model."""
    out: dict[str, float] = {}
    for n in sizes:
        rows = [{"id": f"e{i}", "question": f"Is code {i:06d}-{i * 7919 % 100_000:05d} valid?",
                 "answer": f"Code {i} works; see page {i % 997} of the manual."} for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "faq.jsonl"
            path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
            kb = KnowledgeBase.open(Settings(home=Path(tmp) / "kb", embedder="fake", auto_calibrate=False))
            t = time.perf_counter()
            kb.ingest([path])
            out[str(n)] = round((time.perf_counter() - t) / n * 10_000, 1)
            kb.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", choices=["all", "scale", "long-faq", "fake-scale"], default="all",
                        help="scale: only the long-FAQ and fake-embedder scale figures; long-faq or fake-scale: "
                             "one of them (merged into the file)")
    args = parser.parse_args()
    out = REPO / "eval" / "results" / "ingest.json"
    results: dict[str, Any] = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    if args.only == "all":
        results.update({"throughput": throughput(), "pii": pii_labelled_scores(PiiMasker())})
    if args.only in ("all", "scale", "long-faq"):
        results.update(long_faq())
    if args.only in ("all", "scale", "fake-scale"):
        results["fake_embedder_scale"] = fake_embedder_scale()
    results["meta"] = {"commit": _git_commit(), "date": dt.date.today().isoformat(),
                       "command": f"python -m eval.bench_ingest --only {args.only}"}
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
