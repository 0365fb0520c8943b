"""Re-ingesting a file whose entry changed only its answer: the question units keep their ids, and the
index must still serve the new answer (found by the throughput work: the payload used to stay stale)."""

from __future__ import annotations

import json
from pathlib import Path

from answering.calibration import SIGNALS, Calibration
from answering.records import Decision, Question
from core.settings import Settings
from service.knowledge_base import KnowledgeBase

ALWAYS = Calibration(coef=tuple(0.0 for _ in SIGNALS), intercept=10.0, answer_threshold=0.5, target_precision=0.9)


def _write(path: Path, answer: str) -> Path:
    rows = [{"id": "pw", "question": "How do I reset my password?", "answer": answer,
             "alt_questions": ["forgot my password"]},
            {"id": "ship", "question": "Do you ship to Canada?", "answer": "Yes, in 7-14 days."}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_changed_answer_is_served_after_reingest(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none"))
    faq = _write(tmp_path / "faq.jsonl", "Tap Forgot password.")
    kb.ingest([faq])
    kb.calibration = ALWAYS
    before = kb.ask(Question(question="forgot my password"))
    assert (before.decision, before.answer) == (Decision.answer, "Tap Forgot password.")

    kb.ingest([_write(faq, "Open Settings > Account > Reset password.")])
    hits = kb.search("forgot my password", 5)
    assert {h.answer for h in hits if h.entry_id == "pw"} == {"Open Settings > Account > Reset password."}
    after = kb.ask(Question(question="forgot my password"))
    assert after.answer == "Open Settings > Account > Reset password."
    stored = {u.id: u.metadata["answer"] for u in kb.store.entries.units("pw")}
    assert set(stored.values()) == {"Open Settings > Account > Reset password."}
    kb.close()
