"""Repository of the ask log and conversation sessions (``store.asks``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from .database import Database
from .tables import AskRow, FeedbackRow, ResolutionRow, SessionRow, now


class AskRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def log(self, request_id: str, question: str, decision: str, confidence: float, top_id: str | None) -> None:
        with self._db.session() as s, s.begin():
            s.add(AskRow(request_id=request_id, question=question, decision=decision, confidence=confidence,
                         top_id=top_id))

    def log_many(self, rows: Sequence[tuple[str, str, str, float, str | None]]) -> None:
        """Several asks in one transaction: (request_id, question, decision, confidence, top_id) each (the
        background ask-log writer's batches)."""
        if not rows:
            return
        with self._db.session() as s, s.begin():
            s.add_all([AskRow(request_id=r, question=q, decision=d, confidence=c, top_id=t) for r, q, d, c, t in rows])

    def get(self, request_id: str) -> AskRow | None:
        with self._db.session() as s:
            return s.get(AskRow, request_id)

    def recent(self, since: dt.datetime, max_confidence: float, unresolved: bool = False) -> list[AskRow]:
        """Handed-off, clarified or low-confidence questions since a time, oldest first; ``unresolved``
        leaves out those an agent resolved or answered with an entry."""
        with self._db.session() as s:
            q = select(AskRow).where(AskRow.created_at >= since).order_by(AskRow.created_at)
            rows = [r for r in s.scalars(q) if r.decision != "answer" or r.confidence < max_confidence]
            if unresolved and rows:
                handled = set(s.scalars(select(ResolutionRow.request_id).where(ResolutionRow.request_id.is_not(None))))
                handled |= set(s.scalars(select(FeedbackRow.request_id).where(FeedbackRow.entry_id.is_not(None))))
                rows = [r for r in rows if r.request_id not in handled]
            return rows

    # -- sessions -----------------------------------------------------------------------------
    def last_question(self, session_id: str, ttl_s: int) -> str | None:
        with self._db.session() as s:
            row = s.get(SessionRow, session_id)
            if row is None:
                return None
            updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.UTC)
            if (now() - updated).total_seconds() > ttl_s:
                return None
            return row.last_question

    def remember_question(self, session_id: str, question: str) -> None:
        with self._db.session() as s, s.begin():
            s.merge(SessionRow(id=session_id, last_question=question, updated_at=now()))
