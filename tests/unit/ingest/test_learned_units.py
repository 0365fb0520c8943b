"""Learned phrasings as units, and entry snapshots (pure)."""

from __future__ import annotations

from core.models import KnowledgeEntry
from ingest.units import LEARNED_SOURCE, all_entry_units, from_snapshot, learned_of, snapshot

ENTRY = KnowledgeEntry(id="pw", question="How do I reset my password?", answer="Tap Forgot password.",
                       alt_questions=("forgot password",), tags=("account",), lang="en", source="/faq.jsonl",
                       metadata={"_hash": "h1"})


def test_learned_phrasings_become_question_units_once() -> None:
    learned = [{"text": "locked out", "from": "feedback:f1"}, {"text": "forgot password", "from": "feedback:f2"},
               {"text": "locked out", "from": "feedback:f3"}]
    units = all_entry_units(ENTRY, learned)
    assert [(u.kind, u.text, u.source) for u in units] == [
        ("question", "How do I reset my password?", "/faq.jsonl"), ("question", "forgot password", "/faq.jsonl"),
        ("answer", "How do I reset my password?\nTap Forgot password.", "/faq.jsonl"),
        ("question", "locked out", LEARNED_SOURCE)]
    extra = units[-1]
    assert extra.id.startswith("pw:q:") and extra.entry_id == "pw" and extra.tags == ("account",)
    assert extra.metadata == {"question": ENTRY.question, "answer": ENTRY.answer, "learned_from": "feedback:f1"}
    assert learned_of(units) == [{"text": "locked out", "from": "feedback:f1"}]


def test_snapshot_round_trips() -> None:
    learned = [{"text": "locked out", "from": "feedback:f1"}]
    entry, back, status = from_snapshot(snapshot(ENTRY, learned, "flagged"))
    assert entry == ENTRY and back == learned and status == "flagged"
