"""The record's repositories, each test on SQLite and on PostgreSQL (``store_url``): what is written is read back
exactly, a source is replaced atomically, versions are numbered per entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.models import KnowledgeEntry
from core.store import CandidateRow, DemotionRow, FeedbackRow, ResolutionRow, Store, VersionRecord
from ingest.units import all_entry_units, snapshot


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    yield s
    s.close()


def _entry(i: str, answer: str = "Tap Forgot password.", source: str = "faq.jsonl") -> KnowledgeEntry:
    return KnowledgeEntry(id=i, question=f"How do I {i}?", answer=answer, alt_questions=("alt?",), tags=("t",),
                          lang="en", source=source, metadata={"_hash": f"h-{i}"})


def test_meta_round_trip(store: Store) -> None:
    assert store.meta.get("calibration") is None
    store.meta.set("calibration", {"t": 0.5, "zh": "中文"})
    store.meta.set("calibration", {"t": 0.6, "zh": "中文"})
    assert store.meta.get("calibration") == {"t": 0.6, "zh": "中文"}
    store.meta.delete("calibration")
    assert store.meta.get("calibration") is None
    store.meta.delete("calibration")  # forgetting what is not there is no error
    assert store.meta.get("calibration") is None


def test_replace_source_then_remove(store: Store) -> None:
    a, b = _entry("a"), _entry("b")
    units = all_entry_units(a, []) + all_entry_units(b, [])
    store.sources.replace("faq.jsonl", "faq", "d1", [a, b], [], units, statuses={"b": "retired"},
                          versions=[VersionRecord("a", snapshot(a, [], "live"), "imported", "faq.jsonl")])
    assert store.sources.content_hash("faq.jsonl") == "d1" and store.sources.uris() == ["faq.jsonl"]
    assert sorted(store.sources.entry_ids("faq.jsonl")) == ["a", "b"]
    assert store.entries.statuses(["a", "b", "zz"]) == {"a": ("live", "h-a"), "b": ("retired", "h-b")}
    assert store.entries.get("a") == a
    assert store.entries.owners(["a", "zz"]) == {"a": "faq.jsonl"}
    assert store.sources.unit_ids("faq.jsonl") == {u.id for u in units}
    assert sorted(u.id for u in store.sources.iter_units(batch=2)) == sorted(u.id for u in units)
    [v] = store.entries.versions("a")
    assert (v.version, v.provenance, v.actor, v.snapshot) == (1, "imported", "faq.jsonl", snapshot(a, [], "live"))
    checkpoint = all_entry_units(a.model_copy(update={"source": "bench:label"}), [])  # same ids, other label
    store.entries.add_units(checkpoint)  # written by an ingest's checkpoint, then replaced by the source
    store.sources.replace("faq.jsonl", "faq", "d2", [a], [], all_entry_units(a, []))
    assert store.sources.entry_ids("faq.jsonl") == ["a"] and store.entries.get("b") is None
    store.sources.remove("faq.jsonl")
    assert store.sources.uris() == [] and store.entries.all() == [] and store.counts()["units"] == 0


def test_save_entry_numbers_versions_and_replaces_units(store: Store) -> None:
    e = _entry("e")
    assert store.entries.save(e, all_entry_units(e, []), "live", VersionRecord("e", {"v": 1}, "imported")) == 1
    learned = [{"text": "forgot my password", "from": "feedback:f1"}]
    e2 = e.model_copy(update={"answer": "New."})
    assert store.entries.save(e2, all_entry_units(e2, learned), "flagged",
                              VersionRecord("e", {"v": 2}, "edited", "eve", "why")) == 2
    assert store.entries.save(e2, [], "retired") is None
    state = store.entries.state("e")
    assert state is not None and (state.status, state.entry.answer, state.content_hash) == ("retired", "New.", "h-e")
    assert store.entries.units("e") == []
    assert [(v.version, v.provenance, v.actor, v.note) for v in store.entries.versions("e")] == [
        (1, "imported", None, None), (2, "edited", "eve", "why")]
    assert store.entries.latest_snapshots(["e", "x"]) == {"e": {"v": 2}}
    assert store.entries.set_status("e", "live", only_if="flagged") is False
    assert store.entries.set_status("e", "live") is True
    assert [x.id for x in store.entries.with_status("live")] == ["e"]


def test_learning_records(store: Store) -> None:
    store.asks.log("r1", "Why?", "answer", 0.9, "e")
    store.learning.add_feedback(FeedbackRow(id="f1", request_id="r1", helpful=False, answered_id="e", comment="no"))
    store.learning.add_feedback(FeedbackRow(id="f2", request_id="r1", helpful=True, answered_id="e"))
    store.learning.set_feedback_outcome("f1", "x" * 300)
    got = store.learning.get_feedback("f1")
    assert got is not None and got.outcome == "x" * 200
    assert [(f.id, a.request_id) for f, a in store.learning.negative_feedback("e")] == [("f1", "r1")]
    store.learning.add_demotion(DemotionRow(entry_id="e", questions=["Why?"], vectors=[[0.5, 0.5]],
                                            feedback_ids=["f1"]))
    assert [d.vectors for d in store.learning.demotions("e")] == [[[0.5, 0.5]]]
    assert store.learning.clear_demotions(["e"]) == 1 and store.learning.demotions() == []
    assert len(store.learning.demotions("e", active=False)) == 1
    store.learning.add_resolution(ResolutionRow(id="res1", questions=["Why?"], answer="Because.", outcome="candidate"))
    res = store.learning.get_resolution("res1")
    assert res is not None and res.questions == ["Why?"]
    for cid, count in (("c1", 1), ("c2", 5)):
        store.learning.save_candidate(CandidateRow(id=cid, source="resolutions", question="q", answer="a", count=count,
                                                   examples=[], tickets=[], status="review", evidence=[], tags=[]))
    assert [c.id for c in store.learning.candidates("review")] == ["c2", "c1"]
    assert store.learning.candidates("approved") == [] and len(store.learning.candidates()) == 2


def test_asks_and_sessions(store: Store) -> None:
    store.asks.log("r1", "Hi?", "handoff", 0.1, None)
    store.asks.log("r2", "Yes?", "answer", 0.95, "e")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert [a.request_id for a in store.asks.since(since)] == ["r1", "r2"]
    assert store.asks.since(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)) == []
    store.learning.add_resolution(ResolutionRow(id="x", request_id="r1", questions=["Hi?"], answer="A."))
    store.learning.add_feedback(FeedbackRow(id="f", request_id="r2", helpful=True, entry_id=None))
    assert store.asks.handled_request_ids() == {"r1"}
    store.asks.remember_question("s1", "Hi?")
    assert store.asks.last_question("s1", 60) == "Hi?" and store.asks.last_question("s2", 60) is None


def test_sqlite_runs_in_wal_mode_so_a_long_write_does_not_stall_readers(tmp_path: Path) -> None:
    import time

    from sqlalchemy import text

    store = Store(f"sqlite:///{tmp_path}/kb.sqlite3")
    store.meta.set("k", 1)
    with store.db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    with store.db.session() as writer, writer.begin():  # a write transaction left open
        writer.execute(text("INSERT INTO kb_meta VALUES ('pending', '2')"))
        writer.flush()
        t0 = time.monotonic()
        assert store.meta.get("k") == 1 and store.meta.get("pending") is None  # the committed state, at once
        assert time.monotonic() - t0 < 1.0
    assert store.meta.get("pending") == 2
    store.close()
