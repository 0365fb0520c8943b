"""A database written by an earlier version opens: columns added since are added in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.store import CandidateRow, Store


def test_missing_columns_are_added_and_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE candidates (id VARCHAR(200) PRIMARY KEY, source VARCHAR(1000), question TEXT, "
                "answer TEXT, count INTEGER, examples JSON, tickets JSON, team VARCHAR(200), status VARCHAR(20), "
                "updated_at DATETIME)")
    con.execute("INSERT INTO candidates VALUES ('c1', 's', 'q?', 'a.', 2, '[\"q?\"]', '[\"t1\"]', NULL, 'review', "
                "'2026-01-01 00:00:00')")
    con.execute("CREATE TABLE feedback (id VARCHAR(200) PRIMARY KEY, request_id VARCHAR(64), helpful BOOLEAN, "
                "entry_id VARCHAR(200), comment TEXT, user VARCHAR(200), outcome VARCHAR(200), created_at DATETIME)")
    con.commit()
    con.close()

    store = Store(f"sqlite:///{path}")
    row = store.learning.get_candidate("c1")
    assert row is not None and row.count == 2 and row.entry_id is None and row.reviewed_by is None
    row.reviewed_by = "eve"
    store.learning.save_candidate(row)
    again = store.learning.get_candidate("c1")
    assert isinstance(again, CandidateRow) and again.reviewed_by == "eve"
    assert store.learning.negative_feedback("e1") == []  # the new feedback.answered_id column is queryable
    store.close()
    Store(f"sqlite:///{path}").close()  # idempotent


def test_a_version_number_taken_by_another_writer_is_retaken(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two replicas numbering a version at once: the unique (entry_id, version) makes the loser retry."""
    from core.store import EntryVersionRow, VersionRecord, entries

    store = Store(store_url)
    assert store.entries.add_version(VersionRecord("e1", {"entry": {}}, "imported")) == 1
    real = entries.add_version
    calls = {"n": 0}

    def racing(s, record):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:  # we read max = 1; another writer commits version 2; we insert 2 too
            with store.db.session() as other, other.begin():
                other.add(EntryVersionRow(entry_id=record.entry_id, version=2, snapshot={}, provenance="other"))
            s.add(EntryVersionRow(entry_id=record.entry_id, version=2, snapshot=record.snapshot,
                                  provenance=record.provenance))
            s.flush()
            return 2
        return real(s, record)

    monkeypatch.setattr(entries, "add_version", racing)
    assert store.entries.add_version(VersionRecord("e1", {"entry": {}}, "edited", "eve")) == 3
    assert calls["n"] == 2
    assert [(v.version, v.provenance, v.actor) for v in store.entries.versions("e1")] == [
        (1, "imported", None), (2, "other", None), (3, "edited", "eve")]
    store.close()
