"""Schema migrations: a fresh database comes up at the Alembic head with exactly the tables of ``Base``; a database
created by the code before Alembic (tables, no ``alembic_version``) is adopted with its rows; the same on Postgres."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from core.store import Store, migrate
from core.store.tables import Base, load_all
from tests.postgres import fresh_schema

OLD_SCHEMA = (Path(__file__).with_name("old_schema.sql")  # what the pre-Alembic core/store.py left in SQLite
              .read_text(encoding="utf-8").strip().splitlines())


def _diffs(store: Store) -> list[object]:
    load_all()
    with store.db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def _revision(store: Store) -> str | None:
    with store.db.engine.connect() as conn:
        return migrate.current(conn)


def test_one_head() -> None:
    assert migrate.head() >= "0002"


def test_a_fresh_database_is_at_head_with_exactly_the_declared_schema(store_url: str) -> None:
    store = Store(store_url)
    assert _revision(store) == migrate.head()
    assert _diffs(store) == []
    store.close()
    again = Store(store_url)  # opening again is a no-op
    assert _revision(again) == migrate.head()
    again.close()


def _old_sqlite(path: Path, drop: tuple[str, ...] = ()) -> None:
    con = sqlite3.connect(path)
    for statement in sorted(OLD_SCHEMA, key=lambda s: not s.startswith("CREATE TABLE")):
        if not any(f"TABLE {t} " in statement or f" ON {t} " in statement for t in drop):
            con.execute(statement)
    con.execute("INSERT INTO entries VALUES ('e1', 'faq.jsonl', 'How?', 'Like this.', '[]', NULL, NULL, '[]', 'en', "
                "'{}', 'h1', 'flagged', '2026-01-01 00:00:00')")
    con.execute("INSERT INTO kb_meta VALUES ('manifest', '{\"model\": \"m\"}')")
    con.execute("INSERT INTO asks VALUES ('r1', 'How?', 'answer', 0.9, 'e1', '2026-01-01 00:00:00')")
    con.commit()
    con.close()


def test_a_database_made_before_alembic_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_sqlite(path, drop=("sessions",))  # a table added later is created on adoption
    store = Store(f"sqlite:///{path}")
    assert _revision(store) == migrate.head()
    assert _diffs(store) == []
    state = store.entries.state("e1")
    assert state is not None and state.status == "flagged" and state.entry.answer == "Like this."
    assert store.meta.get("manifest") == {"model": "m"}
    ask = store.asks.get("r1")
    assert ask is not None and ask.top_id == "e1"
    store.asks.remember_question("s1", "How?")
    store.close()


def test_an_old_database_missing_later_columns_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "older.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE feedback (id VARCHAR(200) PRIMARY KEY, request_id VARCHAR(64), helpful BOOLEAN, "
                "entry_id VARCHAR(200), comment TEXT, user VARCHAR(200), outcome VARCHAR(200), created_at DATETIME)")
    con.execute("INSERT INTO feedback VALUES ('f1', 'r1', 0, NULL, 'no', 'u', '', '2026-01-01 00:00:00')")
    con.commit()
    con.close()
    store = Store(f"sqlite:///{path}")
    assert _revision(store) == migrate.head()
    with store.db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, answered_id FROM feedback")).all() == [("f1", None)]
    store.close()


def test_an_old_database_on_postgres_is_adopted() -> None:
    with fresh_schema() as url:
        engine = create_engine(url)
        with engine.begin() as conn:  # the same old tables, as create_all made them on Postgres
            conn.execute(text("CREATE TABLE kb_meta (key VARCHAR(100) PRIMARY KEY, value TEXT NOT NULL)"))
            conn.execute(text("INSERT INTO kb_meta VALUES ('manifest', '{\"model\": \"m\"}')"))
            conn.execute(text("CREATE TABLE feedback (id VARCHAR(200) PRIMARY KEY, request_id VARCHAR(64) NOT NULL, "
                              "helpful BOOLEAN NOT NULL, entry_id VARCHAR(200), comment TEXT, \"user\" VARCHAR(200), "
                              "outcome VARCHAR(200) NOT NULL, created_at TIMESTAMP WITH TIME ZONE NOT NULL)"))
        engine.dispose()
        store = Store(url)
        assert _revision(store) == migrate.head()
        assert store.meta.get("manifest") == {"model": "m"}
        assert store.learning.negative_feedback("e1") == []  # the later answered_id column is there
        store.close()


def test_two_heads_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic.script import ScriptDirectory

    monkeypatch.setattr(ScriptDirectory, "get_heads", lambda self: ["a", "b"])
    with pytest.raises(RuntimeError, match="2 heads"):
        migrate.head()
