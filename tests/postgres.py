"""The test PostgreSQL: its URL (``KB_TEST_DATABASE_URL``), and a fresh schema per test so tests never see each
other's rows. Skipped with a clear message where no server answers (a newcomer's laptop)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    return os.environ.get("KB_TEST_DATABASE_URL", DEFAULT_URL)


def _skip_reason() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(base_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"no PostgreSQL answers at {base_url()} (set KB_TEST_DATABASE_URL): {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


_REASON: list[str | None] = []


def require_postgres() -> None:
    if not _REASON:
        _REASON.append(_skip_reason())
    if _REASON[0] is not None:
        pytest.skip(_REASON[0])


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema (dropped afterwards)."""
    require_postgres()
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url())
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url() else "?"
    try:
        yield f"{base_url()}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
