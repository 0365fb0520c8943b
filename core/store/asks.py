"""Repository of the ask log and conversation sessions (``store.asks``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple, cast

from sqlalchemy import Table, delete, insert, select

from .database import Database
from .tables import AskRow, FeedbackRow, ResolutionRow, SessionRow, now

AskLogRow = tuple[str, str, str, float, str | None] | tuple[str, str, str, float, str | None, tuple[str, ...]]
"""(request_id, masked question, decision, confidence, top_id[, entry ids cited or offered])"""


class SessionContext(NamedTuple):
    """What a conversation leaves for its next question."""

    question: str
    product: str | None


class AskRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def log(self, request_id: str, question: str, decision: str, confidence: float, top_id: str | None,
            offered: Sequence[str] = ()) -> None:
        self.log_many([(request_id, question, decision, confidence, top_id, tuple(offered))])

    def log_many(self, rows: Sequence[AskLogRow]) -> None:
        """Several asks in one transaction (the background ask-log writer's batches), as one Core
        ``executemany``: the ORM's unit of work cost ~40 us a row, a sixth of a cached answer's CPU."""
        if not rows:
            return
        written = now()
        values = [{"request_id": r[0], "question": r[1], "decision": str(r[2]), "confidence": r[3], "top_id": r[4],
                   "offered": list(r[5]) if len(r) > 5 else [], "created_at": written}  # type: ignore[misc]
                  for r in rows]
        with self._db.session() as s, s.begin():
            s.execute(insert(cast(Table, AskRow.__table__)), values)

    def get(self, request_id: str) -> AskRow | None:
        with self._db.session() as s:
            return s.get(AskRow, request_id)

    def since(self, since: dt.datetime) -> list[AskRow]:
        """Asks logged since a time, oldest first."""
        with self._db.session() as s:
            return list(s.scalars(select(AskRow).where(AskRow.created_at >= since).order_by(AskRow.created_at)))

    def handled_request_ids(self) -> set[str]:
        """Request ids an agent resolved or a vote picked an entry for."""
        with self._db.session() as s:
            handled = set(s.scalars(select(ResolutionRow.request_id).where(ResolutionRow.request_id.is_not(None))))
            handled |= set(s.scalars(select(FeedbackRow.request_id).where(FeedbackRow.entry_id.is_not(None))))
            return {r for r in handled if r}

    # -- sessions -----------------------------------------------------------------------------
    def session(self, session_id: str, ttl_s: int) -> SessionContext | None:
        """The conversation's context, unless it is older than ``ttl_s``."""
        with self._db.session() as s:
            row = s.get(SessionRow, session_id)
            if row is None:
                return None
            updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.UTC)
            if (now() - updated).total_seconds() > ttl_s:
                return None
            return SessionContext(row.last_question, row.product)

    def last_question(self, session_id: str, ttl_s: int) -> str | None:
        context = self.session(session_id, ttl_s)
        return context.question if context else None

    def remember_question(self, session_id: str, question: str, max_chars: int = 2000,
                          product: str | None = None) -> None:
        """Keep the conversation's context, bounded: the newest ``max_chars`` characters, cut at a word; and
        the product it is about (None: none named so far)."""
        text = question if len(question) <= max_chars else question[-max_chars:].split(" ", 1)[-1]
        with self._db.session() as s, s.begin():
            s.merge(SessionRow(id=session_id, last_question=text, product=product, updated_at=now()))

    # -- retention ----------------------------------------------------------------------------
    def purge(self, before: dt.datetime) -> int:
        """Delete asks logged before ``before``; how many."""
        with self._db.session() as s, s.begin():
            result = s.execute(delete(AskRow).where(AskRow.created_at < before))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def purge_sessions(self, before: dt.datetime) -> int:
        """Delete sessions last used before ``before``; how many."""
        with self._db.session() as s, s.begin():
            result = s.execute(delete(SessionRow).where(SessionRow.updated_at < before))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
