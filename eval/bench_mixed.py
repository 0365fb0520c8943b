"""One knowledge base, several sources: how answer / clarify / hand-off fare per source.

The answering benchmark (``eval.bench_answering``) gives each set a knowledge base of its own. A support team's
knowledge base holds several sources at once, and labelled questions come unevenly from them: one source
well covered and easy, another small and hard. This benchmark builds one knowledge base from banking77 (77
intents as FAQ entries, English), the sample corpus (Chinese and English FAQ and documents) and cmrc2018
(Chinese passages as documents), fits fusion and calibration on a mixed dev split (as ``kb fit-fusion`` and
``kb calibrate`` would) and reports, per source of the test questions and over all of them, the figures
of ``eval.bench_answering`` (self-served, precision of answers, clarifications, out-of-scope hand-off), with
labels and with none: the package default, as ``kb ingest`` leaves a knowledge base that holds documents
(``kb calibrate --auto`` has questions for FAQ entries only and refuses one), and, for comparison,
``auto_faq_only``: the automatic fit forced anyway.

Dev: 300 banking77 questions + clinc150's 100 validation out-of-scope questions + the sample's dev split +
150 cmrc2018 questions. Test: 600 banking77 test questions + 300 clinc150 test out-of-scope questions + the
sample's test split + 300 cmrc2018 questions (fixed seeds).

    python -m eval.bench_mixed            # -> eval/results/mixed.json (~12 min on 2 cores)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.offline import apply_offline_env

apply_offline_env()

from answering.calibration import Calibration, default_calibration  # noqa: E402
from eval.bench_answering import (  # noqa: E402
    SAMPLE,
    Item,
    _cal_summary,
    _git_commit,
    _ingest,
    fit_on_dev,
    open_kb,
    outcomes,
)
from eval.datasets import REPO, banking77_answering, cmrc2018, sample_eval  # noqa: E402
from ingest.pipeline import IngestReport  # noqa: E402
from retrieval.fusion import default_fusion  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402

Tagged = tuple[str, frozenset[str], str]
"""(question, gold ids, the source it was drawn from; "out_of_scope" for questions to hand off)."""


def mixed_questions(seed: int = 0) -> tuple[list[Tagged], list[Tagged], Any, Any]:
    """(dev, test, banking77 set, cmrc2018 bench): the mixed splits described in the module doc."""
    rng = random.Random(seed)
    bank = banking77_answering()
    cmrc = cmrc2018(n_test=300, n_dev=150)
    sample_dev, sample_test = sample_eval()

    def tag(items: Sequence[tuple[str, Sequence[str]]], source: str) -> list[Tagged]:
        return [(q, frozenset(g), source) for q, g in items]

    bank_dev = [x for x in bank.dev if x[1]]
    bank_test = [x for x in bank.test if x[1]]
    oos_test = [x for x in bank.test if not x[1]]
    for items in (bank_dev, bank_test, oos_test):
        rng.shuffle(items)
    dev = (tag(bank_dev[:300], "banking77") + tag([x for x in bank.dev if not x[1]], "out_of_scope")
           + tag([(q.question, q.gold_ids) for q in sample_dev], "sample")
           + tag([(q.question, q.gold_ids) for q in cmrc.dev], "cmrc2018"))
    test = (tag(bank_test[:600], "banking77") + tag(oos_test[:300], "out_of_scope")
            + tag([(q.question, q.gold_ids) for q in sample_test], "sample")
            + tag([(q.question, q.gold_ids) for q in cmrc.test], "cmrc2018"))
    return dev, test, bank, cmrc


def report(kb: KnowledgeBase, cal: Calibration, test: Sequence[Tagged]) -> dict[str, Any]:
    """Figures over all test questions and per source."""
    def items(rows: Sequence[Tagged]) -> list[Item]:
        return [(q, g) for q, g, _ in rows]

    by_source = {source: outcomes(kb, cal, items([t for t in test if t[2] == source]))
                 for source in sorted({t[2] for t in test})}
    return {"all": outcomes(kb, cal, items(test)), "by_source": by_source, "calibration": _cal_summary(cal),
            "segment_thresholds": {k: round(v, 4) for k, v in sorted(cal.segment_thresholds.items())}}


def run(home: Path) -> dict[str, Any]:
    started = time.perf_counter()
    dev, test, bank, cmrc = mixed_questions()
    kb = open_kb(home, user_dict=SAMPLE / "userdict.txt", auto_calibrate=False)
    try:
        kb.ingest([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
        _ingest(kb, "banking77", bank.entries)
        kb.ingestor().write_source("cmrc2018", "docs", "bench", [], list(cmrc.documents), IngestReport())
        kb.refresh_products()
        out: dict[str, Any] = {}
        kb.searcher.fusion = default_fusion()
        kb.fitter.unanswerable_share = None
        # with no labels, what `kb ingest` leaves: `kb calibrate --auto` refuses a knowledge base that holds
        # documents (it has questions for FAQ entries only), so the package default stays
        packaged = default_calibration()
        assert packaged is not None, "the package default calibration ships with the package"
        out["no_labels"] = report(kb, packaged, test)
        out["auto_faq_only"] = report(kb, kb.fitter.auto(), test)
        cal, fusion = fit_on_dev(kb, [(q, g) for q, g, _ in dev], "mixed dev")
        out["calibrated"] = {**report(kb, cal, test), "fusion": fusion}
    finally:
        kb.close()
    out["setup"] = {"dev": len(dev), "test": len(test),
                    "test_by_source": {s: sum(t[2] == s for t in test) for s in sorted({t[2] for t in test})},
                    "seconds": round(time.perf_counter() - started, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "results" / "mixed.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-mixed-") as tmp:
        results = run(Path(tmp))
    results["meta"] = {"commit": _git_commit(), "date": dt.date.today().isoformat(), "target_precision": 0.9,
                       "command": "python -m eval.bench_mixed"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for setting in ("calibrated", "no_labels", "auto_faq_only"):
        print(setting, {s: (r["self_served"], r["precision"], r["oos_handoff_recall"])
                        for s, r in results[setting]["by_source"].items()}, flush=True)


if __name__ == "__main__":
    main()
