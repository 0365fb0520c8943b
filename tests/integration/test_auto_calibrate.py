"""The automatic calibration after an ingest (KB_AUTO_CALIBRATE): a knowledge base with no labelled calibration
fits its confidence on its own phrasings; a labelled calibration is never replaced; where no fit is possible
the package default stays and the report says why."""

from __future__ import annotations

import json
from pathlib import Path

from answering.fitting import AUTO_LABEL
from answering.signals import AUTO_SIGNALS
from core.meta_keys import MetaKey
from core.settings import Settings
from eval.run import load_rows
from service.knowledge_base import KnowledgeBase
from tests.conftest import SAMPLE


def test_ingest_calibrates_then_keeps_a_labelled_calibration(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", user_dict=SAMPLE / "userdict.txt", auto_calibrate=True))
    try:
        report = kb.ingest([SAMPLE / "faq.jsonl"])
        assert report.calibration is not None
        assert report.calibration.startswith("confidence calibrated without labels")
        assert report.calibration in report.summary()
        cal = kb.calibration
        assert cal is not None and cal.fitted_on.startswith(AUTO_LABEL)
        assert cal.dev_precision is not None and cal.dev_precision >= 0.9  # its own target, out of fold
        # on the signals that stored phrasings do not flatter (answering.signals.AUTO_SIGNALS)
        assert cal.answer_model.features == AUTO_SIGNALS
        assert cal.set_model is not None and cal.set_model.features == AUTO_SIGNALS
        stored = kb.store.meta.get(MetaKey.calibration)
        assert stored is not None and stored["fitted_on"] == cal.fitted_on

        # an unchanged re-ingest touches nothing, so it fits nothing either; nor does a small edit
        assert kb.ingest([SAMPLE / "faq.jsonl"]).calibration is None
        small = tmp_path / "one.jsonl"
        small.write_text(json.dumps({"id": "extra-1", "question": "Do you ship to Iceland?",
                                     "answer": "Yes, within 10 working days."}) + "\n", encoding="utf-8")
        report = kb.ingest([small])
        assert report.units_added > 0 and report.calibration is None
        assert kb.calibration is not None and kb.calibration.fitted_on == cal.fitted_on

        # documents: --auto has no questions for them, and a fit without any would never answer from one; the
        # automatic calibration goes, the package default (fitted with documents) is back
        report = kb.ingest([SAMPLE / "docs"])
        assert report.calibration is not None
        assert report.calibration.startswith("confidence: package default in use (the knowledge base holds documents")
        assert kb.store.meta.get(MetaKey.calibration) is None
        assert kb.calibration is not None and kb.calibration.fitted_on.startswith("package default")

        # labelled questions: from now on ingests leave the confidence to the editor
        rows = load_rows(SAMPLE / "eval.jsonl", "dev")
        labelled_cal = kb.fit_calibration([(r.question, r.gold_ids) for r in rows], fitted_on="sample dev")
        small.write_text(json.dumps({"id": "extra-2", "question": "Do you ship to Norway?",
                                     "answer": "Yes, within 12 working days."}) + "\n", encoding="utf-8")
        report = kb.ingest([small])
        assert report.units_added > 0 and report.calibration is None
        assert kb.calibration is not None and kb.calibration.fitted_on == labelled_cal.fitted_on
    finally:
        kb.close()


def test_too_few_phrasings_keep_the_package_default(tmp_path: Path) -> None:
    faq = tmp_path / "faq.jsonl"
    faq.write_text("".join(json.dumps({"id": f"e{i}", "question": f"How do I change setting number {i}?",
                                       "answer": f"Open the settings page and change number {i}."}) + "\n"
                           for i in range(5)), encoding="utf-8")
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none",
                                     auto_calibrate=True))
    try:
        report = kb.ingest([faq])
        assert report.calibration is not None
        assert report.calibration.startswith("confidence: package default in use (--auto needs entries with at least")
        assert kb.store.meta.get(MetaKey.calibration) is None
    finally:
        kb.close()
