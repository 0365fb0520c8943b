"""Schema upgrades of the system of record: Alembic to head when a ``Store`` opens, SQLite and Postgres alike.

A database created before Alembic (tables present, no ``alembic_version``) is adopted by the first revision,
which creates what is missing and adds missing columns. Concurrent openers take a lock first (an advisory lock
on Postgres, the write lock on SQLite), so two processes starting at once do not both create the tables."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK = 7_316_204_415  # any constant shared by every process of this product


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    """The newest revision (a single head: two revisions with the same parent are a mistake to fix)."""
    heads = ScriptDirectory.from_config(config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations have {len(heads)} heads {heads}: give one a later down_revision")
    return heads[0]


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (a no-op when it is there already)."""
    target = head() if revision == "head" else revision
    with engine.connect() as conn:
        if current(conn) == target:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        elif conn.dialect.name == "sqlite":  # the write lock first: a second opener waits, then finds it done
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg = config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
