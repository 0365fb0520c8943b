"""Repository of jobs (``store.jobs``): the ``jobs`` rows the server's background writes are recorded in
(ingest, reindex, calibration, training, evaluation), their atomic claim by one worker, progress and outcome."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, exists, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from .database import Database
from .tables import Base, now

ACTIVE = ("queued", "running")
_PG_CLAIM_LOCK = 7_316_204_416  # serialises claims across Postgres workers (one running job per knowledge base)


class JobRow(Base):
    """One job: what to do (kind, params), who asked, who runs it, how far it got and how it ended."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(300), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, row: JobRow) -> None:
        with self._db.session() as s, s.begin():
            s.add(row)

    def get(self, job_id: str) -> JobRow | None:
        with self._db.session() as s:
            return s.get(JobRow, job_id)

    def recent(self, limit: int = 50) -> list[JobRow]:
        with self._db.session() as s:
            return list(s.scalars(select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit)))

    def with_state(self, *states: str) -> list[JobRow]:
        with self._db.session() as s:
            return list(s.scalars(select(JobRow).where(JobRow.state.in_(states)).order_by(JobRow.created_at)))

    def claim(self, worker: str) -> JobRow | None:
        """Take the oldest queued job for ``worker`` unless a job is running: one atomic conditional UPDATE
        (the loser of a race updates no row); on Postgres an advisory lock also orders concurrent claims."""
        with self._db.session() as s, s.begin():
            if self._db.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
            job_id = s.scalar(select(JobRow.id).where(JobRow.state == "queued")
                              .order_by(JobRow.created_at, JobRow.id).limit(1))
            if job_id is None:
                return None
            running = exists().where(JobRow.state == "running")
            claimed = s.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.state == "queued", ~running)
                .values(state="running", worker=worker, started_at=now())
                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return self.get(job_id)

    def progress(self, job_id: str, done: int, total: int, label: str) -> bool:
        """Record progress; returns whether a cancel was asked for."""
        with self._db.session() as s, s.begin():
            s.execute(update(JobRow).where(JobRow.id == job_id)
                      .values(done=done, total=total, label=label[:300]))
            return bool(s.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def finish(self, job_id: str, state: str, result: dict[str, Any] | None = None, error: str | None = None,
               error_code: str | None = None) -> None:
        with self._db.session() as s, s.begin():
            s.execute(update(JobRow).where(JobRow.id == job_id)
                      .values(state=state, result=result, error=error, error_code=error_code, finished_at=now()))

    def request_cancel(self, job_id: str) -> JobRow | None:
        """A queued job is cancelled at once; a running one is asked to stop at its next batch."""
        with self._db.session() as s, s.begin():
            row = s.get(JobRow, job_id)
            if row is None:
                return None
            if row.state == "queued":
                row.state, row.finished_at = "cancelled", now()
            elif row.state == "running":
                row.cancel_requested = True
        return self.get(job_id)

    def fail_interrupted(self, workers: list[str], message: str) -> int:
        """Jobs left running by workers that are gone (a crash, a kill) are failed with ``message``."""
        if not workers:
            return 0
        with self._db.session() as s, s.begin():
            done = s.execute(update(JobRow).where(JobRow.state == "running", JobRow.worker.in_(workers))
                             .values(state="failed", error=message, error_code="interrupted", finished_at=now())
                             .execution_options(synchronize_session=False))
            return int(done.rowcount)  # type: ignore[attr-defined]
