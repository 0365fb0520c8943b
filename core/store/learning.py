"""Repository of the learning loop's records: feedback, resolutions, candidates, demotions (``store.learning``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select, update

from .database import Database
from .tables import AskRow, CandidateRow, DemotionRow, FeedbackRow, ResolutionRow, now


class LearningRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- feedback -----------------------------------------------------------------------------
    def get_feedback(self, feedback_id: str) -> FeedbackRow | None:
        with self._db.session() as s:
            return s.get(FeedbackRow, feedback_id)

    def feedback_for_request(self, request_id: str) -> FeedbackRow | None:
        """The first vote recorded on this request, if any."""
        with self._db.session() as s:
            q = select(FeedbackRow).where(FeedbackRow.request_id == request_id).order_by(FeedbackRow.created_at)
            return s.scalars(q.limit(1)).first()

    def purge_feedback(self, before: dt.datetime) -> int:
        """Delete feedback recorded before ``before``; how many."""
        with self._db.session() as s, s.begin():
            result = s.execute(delete(FeedbackRow).where(FeedbackRow.created_at < before))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def add_feedback(self, row: FeedbackRow) -> None:
        with self._db.session() as s, s.begin():
            s.add(row)

    def set_feedback_outcome(self, feedback_id: str, outcome: str) -> None:
        with self._db.session() as s, s.begin():
            s.execute(update(FeedbackRow).where(FeedbackRow.id == feedback_id).values(outcome=outcome[:200]))

    def negative_feedback(self, entry_id: str) -> list[tuple[FeedbackRow, AskRow]]:
        """Not-helpful feedback on answers that gave ``entry_id``, with the asks, oldest first."""
        with self._db.session() as s:
            q = (select(FeedbackRow, AskRow).join(AskRow, AskRow.request_id == FeedbackRow.request_id)
                 .where(FeedbackRow.answered_id == entry_id, FeedbackRow.helpful.is_(False))
                 .order_by(FeedbackRow.created_at))
            return [(f, a) for f, a in s.execute(q).tuples()]

    # -- resolutions --------------------------------------------------------------------------
    def get_resolution(self, resolution_id: str) -> ResolutionRow | None:
        with self._db.session() as s:
            return s.get(ResolutionRow, resolution_id)

    def add_resolution(self, row: ResolutionRow) -> None:
        with self._db.session() as s, s.begin():
            s.add(row)

    # -- candidates ---------------------------------------------------------------------------
    def candidates(self, status: str | None = None) -> list[CandidateRow]:
        """Candidates in this status (all when None), most asked first."""
        with self._db.session() as s:
            q = select(CandidateRow).order_by(CandidateRow.count.desc(), CandidateRow.id)
            return list(s.scalars(q.where(CandidateRow.status == str(status)) if status is not None else q))

    def get_candidate(self, candidate_id: str) -> CandidateRow | None:
        with self._db.session() as s:
            return s.get(CandidateRow, candidate_id)

    def save_candidate(self, row: CandidateRow) -> None:
        with self._db.session() as s, s.begin():
            row.updated_at = now()
            s.merge(row)

    # -- demotions ----------------------------------------------------------------------------
    def add_demotion(self, row: DemotionRow) -> None:
        with self._db.session() as s, s.begin():
            s.add(row)

    def demotions(self, entry_id: str | None = None, active: bool = True) -> list[DemotionRow]:
        with self._db.session() as s:
            q = select(DemotionRow).where(DemotionRow.active == active).order_by(DemotionRow.id)
            return list(s.scalars(q.where(DemotionRow.entry_id == entry_id) if entry_id else q))

    def clear_demotions(self, entry_ids: Sequence[str]) -> int:
        """End the active demotions of these entries; how many ended."""
        with self._db.session() as s, s.begin():
            result = s.execute(update(DemotionRow).where(DemotionRow.entry_id.in_(list(entry_ids)),
                                                         DemotionRow.active.is_(True)).values(active=False))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
