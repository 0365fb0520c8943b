"""The system of record: sources, FAQ entries, documents, units and the learning loop's records in SQL (SQLite
by default, Postgres by ``KB_DATABASE_URL``). The vector index is derived data: ``kb reindex`` rebuilds it.

``Store`` composes one repository per aggregate, each a thin layer of transactions with no business rules:

- ``store.entries``  entries, their units and version history (``entries.py``)
- ``store.sources``  ingested sources: their entries, documents, units, tickets and mined candidates (``sources.py``)
- ``store.learning`` feedback, resolutions, candidates, demotions (``learning.py``)
- ``store.asks``     the ask log and conversation sessions (``asks.py``)
- ``store.meta``     ``kb_meta`` values under ``core.meta_keys.MetaKey`` (``meta.py``)

Opening a ``Store`` upgrades the schema to the newest Alembic revision (``migrations/``), on SQLite and Postgres
alike. SQLite runs in WAL mode with a busy timeout (``database.py``), so a long write never stalls readers.

Adding a table (as ``keys.py`` and ``jobs.py`` did):

1. ``core/store/<name>.py``: the rows on the same ``Base`` (``from .tables import Base``) and a repository
   class taking the ``Database`` (``def __init__(self, db: Database)``; one ``with self._db.session() as s,
   s.begin():`` per write). Rows stay inside the store or are turned into records; rules live in the domain.
   ``tables.load_all()`` imports every module of this package, so Alembic sees the new rows.
2. Add the repository to ``Store.__init__`` (``self.keys = KeyRepository(self.db)``).
3. An Alembic revision ``migrations/versions/NNNN_<what>.py`` whose ``down_revision`` is the current head (the
   highest number; copy the shape of ``0002_api_keys.py``, or run ``alembic -c core/store/migrations/alembic.ini
   revision --autogenerate -m "..."`` against a scratch database at head). Only add, never edit, a revision
   that has shipped. ``tests/unit/core/test_migrations.py`` checks there is one head and that the revisions give
   exactly the tables of ``Base``, on SQLite and on Postgres (``KB_TEST_DATABASE_URL``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .asks import AskRepository
from .database import Database
from .entries import EntryRepository, EntryState, VersionRecord
from .jobs import JobRepository, JobRow
from .keys import KeyRepository, KeyRow
from .learning import LearningRepository
from .meta import MetaRepository
from .sources import SourceRepository
from .tables import (
    AskRow,
    Base,
    CandidateRow,
    DemotionRow,
    DocumentRow,
    EntryRow,
    EntryVersionRow,
    FeedbackRow,
    MetaRow,
    ResolutionRow,
    SessionRow,
    SourceRow,
    TicketRow,
    UnitRow,
    entry_of,
)

__all__ = [
    "AskRow", "Base", "CandidateRow", "Database", "DemotionRow", "DocumentRow", "EntryRow", "EntryState",
    "EntryVersionRow", "FeedbackRow", "JobRepository", "JobRow", "KeyRepository", "KeyRow",
    "MetaRow", "ResolutionRow", "SessionRow", "SourceRow", "Store", "TicketRow",
    "UnitRow", "VersionRecord", "entry_of",
]


class Store:
    """The system of record: one database, one repository per aggregate."""

    def __init__(self, url: str, migrate: bool = True) -> None:
        self.url = url
        self.db = Database(url, migrate=migrate)
        self.entries = EntryRepository(self.db)
        self.sources = SourceRepository(self.db)
        self.learning = LearningRepository(self.db)
        self.asks = AskRepository(self.db)
        self.meta = MetaRepository(self.db)
        self.keys = KeyRepository(self.db)
        self.jobs = JobRepository(self.db)

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            def n(table: Any) -> int:
                return int(s.scalar(select(func.count()).select_from(table)) or 0)

            units_by_kind = dict(s.execute(select(UnitRow.kind, func.count()).group_by(UnitRow.kind)).all())
            return {
                "sources": n(SourceRow), "entries": n(EntryRow), "documents": n(DocumentRow), "units": n(UnitRow),
                "tickets": n(TicketRow), "candidates": n(CandidateRow), "resolutions": n(ResolutionRow),
                "entry_versions": n(EntryVersionRow),
                "flagged_entries": int(s.scalar(select(func.count()).select_from(EntryRow)
                                                .where(EntryRow.status == "flagged")) or 0),
                "question_units": int(units_by_kind.get("question", 0)),
                "answer_units": int(units_by_kind.get("answer", 0)),
                "chunk_units": int(units_by_kind.get("chunk", 0)),
            }

    def close(self) -> None:
        self.db.close()
