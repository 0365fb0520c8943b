"""The database connection of the system of record: URL, engine (SQLite in WAL mode), sessions, migrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import BackendError

_T = TypeVar("_T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before failing (readers never wait in WAL mode)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers see the last committed state while one writer writes; a busy timeout instead of an
    immediate "database is locked"; NORMAL sync is durable in WAL mode up to the last checkpoint."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """One engine per process; each repository call opens a short session (one transaction)."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if migrate:
                from .migrate import upgrade

                upgrade(self.engine)
        except BackendError:
            raise
        except Exception as exc:  # driver errors vary by database
            raise BackendError(f"cannot open the system of record at {redact(url)}: {exc}") from exc

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


def retry_on_clash(write: Callable[[], _T], attempts: int = 3) -> _T:
    """Run a transaction again when another writer (an API replica) took the same unique key first (e.g.
    the next version number of an entry: the unique constraint turns that race into an error)."""
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
