"""Writes as jobs: a job is recorded in the system of record (``store.jobs``), claimed by one worker thread of
the server that owns the knowledge base, run one at a time, reported with progress (records done/total, rate,
ETA) and outcome, and cancelled cooperatively between batches. Readers are never blocked by it: the job writes
in the same batches a direct ingest does, and nothing here holds a lock across a job."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from core.caller import Caller
from core.errors import Cancelled, KBError, NotFound
from core.progress import Progress
from core.store.jobs import JobRow

if TYPE_CHECKING:
    from service.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

FLUSH_S = 0.5
"""Progress is written to the record (and a cancel looked for) at most this often."""
INTERRUPTED = ("interrupted: the server stopped during this job; run the same command again to finish it "
               "(ingestion is idempotent: what was written is kept, the rest is done)")


class JobView(BaseModel):
    """What ``GET /v1/jobs/{id}`` returns."""

    id: str
    kind: str
    state: str = Field(description="queued, running, done, failed or cancelled")
    label: str = ""
    done: int = Field(0, description="records (units, questions, examples) done")
    total: int = Field(0, description="records to do, as far as known (grows as files are read)")
    rate_per_s: float | None = None
    eta_s: float | None = None
    created_by: str = ""
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    quarantined: list[dict[str, Any]] = Field(default_factory=list, description="rows set aside, with reasons")
    result: dict[str, Any] | None = Field(None, description="the final report")
    error: str | None = None
    error_code: str | None = None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def view_of(row: JobRow) -> JobView:
    started, finished = _aware(row.started_at), _aware(row.finished_at)
    rate = eta = None
    if started is not None and row.done:
        elapsed = ((finished or dt.datetime.now(dt.UTC)) - started).total_seconds()
        rate = round(row.done / elapsed, 2) if elapsed > 0 else None
        if rate and row.state == "running":
            eta = round(max(row.total - row.done, 0) / rate, 1)
    result = row.result or None
    return JobView(
        id=row.id, kind=row.kind, state=row.state, label=row.label, done=row.done, total=row.total,
        rate_per_s=rate, eta_s=eta, created_by=row.created_by, created_at=_aware(row.created_at) or row.created_at,
        started_at=started, finished_at=finished,
        quarantined=list((result or {}).get("quarantined", [])) if row.kind == "ingest" else [],
        result=result, error=row.error, error_code=row.error_code)


class JobProgress(Progress):
    """The progress of one job, as a ``ProgressFactory`` (each part adds its total) and a ``Progress``; every
    update may raise ``Cancelled`` when a cancel was asked for (between batches: nothing half-written)."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner, self._job_id = runner, job_id
        self.done = self.total = 0
        self.label = ""
        self._flushed = 0.0

    def __call__(self, total: int, label: str) -> Progress:
        self.total += total
        self.label = label
        self.flush(force=True)
        return self

    def update(self, n: int = 1) -> None:
        self.done += n
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._flushed < FLUSH_S:
            return
        self._flushed = now
        asked = self._runner.store.jobs.progress(self._job_id, self.done, self.total, self.label)
        if asked or self._runner.cancel_asked(self._job_id):
            raise Cancelled(f"job {self._job_id} cancelled")


Handler = Callable[["KnowledgeBase", dict[str, Any], JobProgress], dict[str, Any]]


class JobRunner:
    """One background thread per server process that claims queued jobs and runs them one at a time."""

    def __init__(self, kb: KnowledgeBase, handlers: dict[str, Handler], poll_s: float = 0.5) -> None:
        self.kb = kb
        self.store = kb.store
        self.handlers = handlers
        self.poll_s = poll_s
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel: set[str] = set()
        self._thread: threading.Thread | None = None
        self.current: str | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, exclusive: bool) -> None:
        """Fail the jobs a crashed owner left running (all of them with the embedded index, whose server is the
        only owner; with the server backends those of dead workers on this machine), then start the thread."""
        running = self.store.jobs.with_state("running")
        host = socket.gethostname()
        orphans = [r.worker for r in running if r.worker and (exclusive or _dead_here(r.worker, host))]
        if self.store.jobs.fail_interrupted(sorted({w for w in orphans if w}), INTERRUPTED):
            log.warning("jobs interrupted by a stop of the previous server were marked failed")
        self._thread = threading.Thread(target=self._loop, name="kb-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the running job to stop at its next batch (it is recorded as interrupted) and end the thread."""
        self._stop.set()
        if self.current is not None:
            self._cancel.add(self.current)
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- requests ---------------------------------------------------------------------------
    def submit(self, kind: str, params: dict[str, Any], caller: Caller | None = None) -> JobView:
        if kind not in self.handlers:
            raise NotFound(f"no such job kind: {kind!r}")
        row = JobRow(id=uuid.uuid4().hex, kind=kind, state="queued", params=params,
                     created_by=caller.name if caller else "", done=0, total=0, label="", cancel_requested=False,
                     created_at=dt.datetime.now(dt.UTC))
        self.store.jobs.add(row)
        self._wake.set()
        return self.get(row.id)

    def get(self, job_id: str) -> JobView:
        row = self.store.jobs.get(job_id)
        if row is None:
            raise NotFound(f"no such job: {job_id!r}")
        return view_of(row)

    def recent(self, limit: int = 50) -> list[JobView]:
        return [view_of(r) for r in self.store.jobs.recent(limit)]

    def cancel(self, job_id: str) -> JobView:
        row = self.store.jobs.request_cancel(job_id)
        if row is None:
            raise NotFound(f"no such job: {job_id!r}")
        if row.state == "running":
            self._cancel.add(job_id)
        return view_of(row)

    def cancel_asked(self, job_id: str) -> bool:
        return job_id in self._cancel

    def wait_idle(self, timeout_s: float = 30.0) -> None:
        """Until no job is queued or running (tests)."""
        deadline = time.monotonic() + timeout_s
        while self.store.jobs.with_state("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- the worker -------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                row = self.store.jobs.claim(self.worker)
            except Exception:  # the record is unreachable for a moment: try again at the next poll
                log.exception("claiming a job failed")
                row = None
            if row is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            self._run(row)

    def _run(self, row: JobRow) -> None:
        self.current = row.id
        progress = JobProgress(self, row.id)
        try:
            result = self.handlers[row.kind](self.kb, dict(row.params or {}), progress)
            self.store.jobs.progress(row.id, max(progress.done, progress.total), progress.total, progress.label)
            self.store.jobs.finish(row.id, "done", result=json.loads(json.dumps(result, default=str)))
        except Cancelled as exc:
            if self._stop.is_set():
                self.store.jobs.finish(row.id, "failed", error=INTERRUPTED, error_code="interrupted")
            else:
                self.store.jobs.finish(row.id, "cancelled", error=str(exc), error_code=Cancelled.code)
        except KBError as exc:
            self.store.jobs.finish(row.id, "failed", error=str(exc), error_code=exc.code)
        except Exception as exc:  # a job must end in a state, whatever broke; the trace goes to the server log
            log.exception("job %s (%s) failed", row.id, row.kind)
            self.store.jobs.finish(row.id, "failed", error=f"{type(exc).__name__}: {exc}", error_code="kb_error")
        finally:
            self._cancel.discard(row.id)
            self.current = None


def _dead_here(worker: str, host: str) -> bool:
    """A worker id ``host:pid:tag`` of this machine whose process is gone."""
    from service.ownership import pid_alive

    parts = worker.split(":")
    if len(parts) < 2 or parts[0] != host or not parts[1].isdigit():
        return False
    return not pid_alive(int(parts[1]))
