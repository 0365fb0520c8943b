"""A database written by an earlier version opens: columns added since are added in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
    row = store.get_candidate("c1")
    assert row is not None and row.count == 2 and row.entry_id is None and row.reviewed_by is None
    row.reviewed_by = "eve"
    store.save_candidate(row)
    again = store.get_candidate("c1")
    assert isinstance(again, CandidateRow) and again.reviewed_by == "eve"
    assert store.negative_feedback("e1") == []  # the new feedback.answered_id column is queryable
    store.close()
    Store(f"sqlite:///{path}").close()  # idempotent
