"""The system of record: sources, FAQ entries, documents and index units in SQL (SQLite by default,
Postgres by ``KB_DATABASE_URL``). The vector index is derived data: ``kb reindex`` rebuilds it from here."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.errors import BackendError
from core.models import Document, KnowledgeEntry, Unit

_T = TypeVar("_T")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "kb_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SourceRow(Base):
    __tablename__ = "sources"
    uri: Mapped[str] = mapped_column(String(1000), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class EntryRow(Base):
    __tablename__ = "entries"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alt_questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    lang: Mapped[str | None] = mapped_column(String(20), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="live")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DocumentRow(Base):
    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    title: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    lang: Mapped[str | None] = mapped_column(String(20), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class UnitRow(Base):
    __tablename__ = "units"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    doc_id: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketRow(Base):
    """A cleaned, PII-masked support ticket (kept for profiling, routing history and mining)."""

    __tablename__ = "tickets"
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    customer: Mapped[list[str]] = mapped_column(JSON)
    agent: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str | None] = mapped_column(String(200), nullable=True)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(100), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CandidateRow(Base):
    """A question/answer mined from resolved tickets, waiting for review (not in the answer index)."""

    __tablename__ = "candidates"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(1000), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    tickets: Mapped[list[str]] = mapped_column(JSON, default=list)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="review")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # agents' resolutions merged into this candidate: [{"resolution_id", "question", "answer", "agent", "at"}]
    evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True, default=list)
    tags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=list)
    entry_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class ResolutionRow(Base):
    """An agent's resolution of a handed-off conversation (masked), idempotent on the client's id."""

    __tablename__ = "resolutions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    questions: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(Text)
    team: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent: Mapped[str | None] = mapped_column(String(200), nullable=True)
    entry_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    candidate_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class EntryVersionRow(Base):
    """One version of an entry: a full snapshot with where it came from (imported, learned, edited...)."""

    __tablename__ = "entry_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    provenance: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DemotionRow(Base):
    """Entry E is not to be given for questions like these (repeated negative feedback)."""

    __tablename__ = "demotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(200), index=True)
    questions: Mapped[list[str]] = mapped_column(JSON)
    vectors: Mapped[list[list[float]]] = mapped_column(JSON)
    feedback_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class AskRow(Base):
    """Every answered or handed-off question (PII-masked), so feedback can refer to it by request id."""

    __tablename__ = "asks"
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column()
    top_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column()
    entry_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    user: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    answered_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)


class SessionRow(Base):
    """The last question of a conversation, so a follow-up can be understood (shared by API replicas)."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_question: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


def entry_of(row: EntryRow) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=row.id, question=row.question, answer=row.answer, alt_questions=tuple(row.alt_questions or ()),
        category=row.category, product=row.product, tags=tuple(row.tags or ()), lang=row.lang,
        source=row.source, metadata=dict(row.extra or {}),
    )


def _retry_version_clash(write: Callable[[], _T], attempts: int = 3) -> _T:
    """Run a transaction that numbers a new version again if another writer (an API replica) took the
    same number first (the unique constraint on entry_id + version turns that race into an error)."""
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


class Store:
    """Thin repository over SQLAlchemy. Each public method is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            kwargs: dict[str, Any] = {}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            self._engine: Engine = create_engine(url, **kwargs)
            Base.metadata.create_all(self._engine)
            self._add_missing_columns()
        except Exception as exc:  # driver errors vary by database
            raise BackendError(f"cannot open the system of record at {url}: {exc}") from exc

    def _add_missing_columns(self) -> None:
        """Columns added by later versions (all nullable) are added to an existing database in place."""
        inspector = inspect(self._engine)
        with self._engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                have = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in have:
                        kind = column.type.compile(dialect=self._engine.dialect)
                        conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))

    def session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        with self.session() as s:
            row = s.get(MetaRow, key)
            return json.loads(row.value) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.session() as s, s.begin():
            s.merge(MetaRow(key=key, value=json.dumps(value, ensure_ascii=False, sort_keys=True)))

    # -- sources ----------------------------------------------------------------------------
    def source_hash(self, uri: str) -> str | None:
        with self.session() as s:
            row = s.get(SourceRow, uri)
            return row.content_hash if row else None

    def source_uris(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(SourceRow.uri).order_by(SourceRow.uri)))

    def entry_ids_for_source(self, uri: str) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(EntryRow.id).where(EntryRow.source == uri)))

    def unit_ids_for_source(self, uri: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(UnitRow.id).where(UnitRow.source == uri)))

    def entry_owner(self, entry_ids: Sequence[str]) -> dict[str, str]:
        """Which source currently holds each of these entry ids."""
        with self.session() as s:
            rows = s.execute(select(EntryRow.id, EntryRow.source).where(EntryRow.id.in_(list(entry_ids))))
            return {r[0]: r[1] for r in rows}

    def replace_source(
        self,
        uri: str,
        kind: str,
        content_hash: str,
        entries: Sequence[KnowledgeEntry],
        documents: Sequence[Document],
        units: Sequence[Unit],
        statuses: dict[str, str] | None = None,
        versions: Sequence[tuple[str, dict[str, Any], str, str | None, str | None]] = (),
    ) -> None:
        """Make the source's rows exactly these, atomically; ``statuses`` keeps an entry's curation status
        (flagged, retired) and ``versions`` are history records written in the same transaction."""
        statuses = statuses or {}
        with self.session() as s, s.begin():
            for table in (UnitRow, EntryRow, DocumentRow):
                s.execute(delete(table).where(table.source == uri))
            s.merge(SourceRow(uri=uri, kind=kind, content_hash=content_hash, records=len(entries) + len(documents),
                              ingested_at=_now()))
            for e in entries:
                s.add(EntryRow(
                    id=e.id, source=uri, question=e.question, answer=e.answer, alt_questions=list(e.alt_questions),
                    category=e.category, product=e.product, tags=list(e.tags), lang=e.lang, extra=e.metadata,
                    content_hash=str(e.metadata.get("_hash", "")), status=statuses.get(e.id, "live"),
                ))
            for entry_id, snapshot, provenance, actor, note in versions:
                self._add_version(s, entry_id, snapshot, provenance, actor, note)
            for d in documents:
                s.add(DocumentRow(
                    id=d.id, source=uri, title=d.title, format=d.format, category=d.category, product=d.product,
                    tags=list(d.tags), lang=d.lang, extra=d.metadata, content_hash=str(d.metadata.get("_hash", "")),
                ))
            for u in units:
                s.add(UnitRow(id=u.id, source=uri, kind=u.kind, entry_id=u.entry_id, doc_id=u.doc_id,
                              payload=u.payload()))

    def replace_tickets(self, uri: str, content_hash: str, tickets: Sequence[Any], candidates: Sequence[Any]) -> None:
        """Make the source's tickets and mined candidates exactly these (candidates already reviewed keep
        their status), atomically."""
        with self.session() as s, s.begin():
            reviewed = {r.id: r for r in s.scalars(select(CandidateRow).where(CandidateRow.source == uri))
                        if r.status != "review"}
            for r in reviewed.values():
                s.expunge(r)
            s.execute(delete(TicketRow).where(TicketRow.source == uri))
            s.execute(delete(CandidateRow).where(CandidateRow.source == uri))
            s.merge(SourceRow(uri=uri, kind="tickets", content_hash=content_hash, records=len(tickets),
                              ingested_at=_now()))
            for t in tickets:
                s.add(TicketRow(id=f"{uri}#{t.id}", source=uri, customer=t.customer, agent=t.agent, status=t.status,
                                team=t.team, created=t.created, channel=t.channel, extra=t.metadata))
            for c in candidates:
                old = reviewed.get(c.id)
                s.add(CandidateRow(id=c.id, source=uri, question=c.question, answer=c.answer, count=c.count,
                                   examples=c.examples, tickets=c.tickets, team=c.team, evidence=[], tags=[],
                                   status=old.status if old else c.status,
                                   entry_id=old.entry_id if old else None,
                                   reviewed_by=old.reviewed_by if old else None,
                                   reviewed_at=old.reviewed_at if old else None, note=old.note if old else None))

    def candidates(self, status: str | None = "review") -> list[CandidateRow]:
        with self.session() as s:
            q = select(CandidateRow).order_by(CandidateRow.count.desc(), CandidateRow.id)
            return list(s.scalars(q.where(CandidateRow.status == status) if status else q))

    def get_candidate(self, candidate_id: str) -> CandidateRow | None:
        with self.session() as s:
            return s.get(CandidateRow, candidate_id)

    def save_candidate(self, row: CandidateRow) -> None:
        with self.session() as s, s.begin():
            row.updated_at = _now()
            s.merge(row)

    # -- resolutions ------------------------------------------------------------------------
    def get_resolution(self, resolution_id: str) -> ResolutionRow | None:
        with self.session() as s:
            return s.get(ResolutionRow, resolution_id)

    def add_resolution(self, row: ResolutionRow) -> None:
        with self.session() as s, s.begin():
            s.add(row)

    # -- entry versions ---------------------------------------------------------------------
    @staticmethod
    def _add_version(s: Session, entry_id: str, snapshot: dict[str, Any], provenance: str, actor: str | None,
                     note: str | None) -> int:
        last = s.scalar(select(func.max(EntryVersionRow.version)).where(EntryVersionRow.entry_id == entry_id))
        version = int(last or 0) + 1
        s.add(EntryVersionRow(entry_id=entry_id, version=version, snapshot=snapshot, provenance=provenance,
                              actor=actor, note=note, created_at=_now()))
        s.flush()
        return version

    def add_version(self, entry_id: str, snapshot: dict[str, Any], provenance: str, actor: str | None = None,
                    note: str | None = None) -> int:
        def write() -> int:
            with self.session() as s, s.begin():
                return self._add_version(s, entry_id, snapshot, provenance, actor, note)

        return _retry_version_clash(write)

    def versions(self, entry_id: str) -> list[EntryVersionRow]:
        with self.session() as s:
            q = select(EntryVersionRow).where(EntryVersionRow.entry_id == entry_id).order_by(EntryVersionRow.version)
            return list(s.scalars(q))

    def latest_snapshots(self, entry_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The newest snapshot of each of these entries that has a history."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(entry_ids)
        with self.session() as s:
            for start in range(0, len(ids), 500):
                q = (select(EntryVersionRow.entry_id, EntryVersionRow.snapshot)
                     .where(EntryVersionRow.entry_id.in_(ids[start:start + 500])).order_by(EntryVersionRow.version))
                for entry_id, snapshot in s.execute(q):
                    out[entry_id] = snapshot
        return out

    def entry_status(self, entry_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(status, content hash) of each of these entries that exists."""
        ids = list(entry_ids)
        out: dict[str, tuple[str, str]] = {}
        with self.session() as s:
            for start in range(0, len(ids), 500):  # stay under the database's bound-parameter limit
                rows = s.execute(select(EntryRow.id, EntryRow.status, EntryRow.content_hash)
                                 .where(EntryRow.id.in_(ids[start:start + 500])))
                out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def save_entry(self, entry: KnowledgeEntry, units: Sequence[Unit], status: str = "live",
                   version: tuple[dict[str, Any], str, str | None, str | None] | None = None) -> int | None:
        """Make entry ``entry.id`` exactly this, with exactly these units (file and learned), and record
        the version, atomically. Returns the version number written, if any."""

        def write() -> int | None:
            with self.session() as s, s.begin():
                row = s.get(EntryRow, entry.id)
                content_hash = row.content_hash if row else str(entry.metadata.get("_hash", ""))
                s.execute(delete(UnitRow).where(UnitRow.entry_id == entry.id))
                s.merge(EntryRow(
                    id=entry.id, source=entry.source, question=entry.question, answer=entry.answer,
                    alt_questions=list(entry.alt_questions), category=entry.category, product=entry.product,
                    tags=list(entry.tags), lang=entry.lang, extra=entry.metadata, content_hash=content_hash,
                    status=status, updated_at=_now(),
                ))
                for u in units:
                    s.add(UnitRow(id=u.id, source=u.source, kind=u.kind, entry_id=u.entry_id, doc_id=u.doc_id,
                                  payload=u.payload()))
                if version is None:
                    return None
                snapshot, provenance, actor, note = version
                return self._add_version(s, entry.id, snapshot, provenance, actor, note)

        return _retry_version_clash(write)

    def set_entry_status(self, entry_id: str, status: str) -> None:
        with self.session() as s, s.begin():
            s.execute(update(EntryRow).where(EntryRow.id == entry_id).values(status=status, updated_at=_now()))

    def entries_with_status(self, status: str) -> list[KnowledgeEntry]:
        with self.session() as s:
            return [entry_of(r) for r in s.scalars(select(EntryRow).where(EntryRow.status == status)
                                                 .order_by(EntryRow.id))]

    def get_entry_row(self, entry_id: str) -> EntryRow | None:
        with self.session() as s:
            return s.get(EntryRow, entry_id)

    # -- demotions --------------------------------------------------------------------------
    def add_demotion(self, row: DemotionRow) -> None:
        with self.session() as s, s.begin():
            s.add(row)
            s.execute(update(EntryRow).where(EntryRow.id == row.entry_id, EntryRow.status == "live")
                      .values(status="flagged"))

    def demotions(self, entry_id: str | None = None, active: bool = True) -> list[DemotionRow]:
        with self.session() as s:
            q = select(DemotionRow).where(DemotionRow.active == active).order_by(DemotionRow.id)
            return list(s.scalars(q.where(DemotionRow.entry_id == entry_id) if entry_id else q))

    def clear_demotions(self, entry_ids: Sequence[str]) -> int:
        with self.session() as s, s.begin():
            result = s.execute(update(DemotionRow).where(DemotionRow.entry_id.in_(list(entry_ids)),
                                                         DemotionRow.active.is_(True)).values(active=False))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def negative_feedback(self, entry_id: str) -> list[tuple[FeedbackRow, AskRow]]:
        """Not-helpful feedback on answers that gave ``entry_id``, with the asks, oldest first."""
        with self.session() as s:
            q = (select(FeedbackRow, AskRow).join(AskRow, AskRow.request_id == FeedbackRow.request_id)
                 .where(FeedbackRow.answered_id == entry_id).order_by(FeedbackRow.created_at))
            return [(f, a) for f, a in s.execute(q).tuples()]

    def remove_source(self, uri: str) -> None:
        with self.session() as s, s.begin():
            s.execute(delete(TicketRow).where(TicketRow.source == uri))
            s.execute(delete(CandidateRow).where(CandidateRow.source == uri))
            s.execute(delete(UnitRow).where(UnitRow.source == uri))
            s.execute(delete(EntryRow).where(EntryRow.source == uri))
            s.execute(delete(DocumentRow).where(DocumentRow.source == uri))
            s.execute(delete(SourceRow).where(SourceRow.uri == uri))

    # -- asks and feedback ------------------------------------------------------------------
    def log_ask(self, request_id: str, question: str, decision: str, confidence: float, top_id: str | None) -> None:
        with self.session() as s, s.begin():
            s.add(AskRow(request_id=request_id, question=question, decision=decision, confidence=confidence,
                         top_id=top_id))

    def recent_asks(self, since: dt.datetime, max_confidence: float, unresolved: bool = False) -> list[AskRow]:
        """Handed-off, clarified or low-confidence questions since a time, oldest first; ``unresolved``
        leaves out those an agent resolved or answered with an entry (they are not gaps any more)."""
        with self.session() as s:
            q = select(AskRow).where(AskRow.created_at >= since).order_by(AskRow.created_at)
            rows = [r for r in s.scalars(q) if r.decision != "answer" or r.confidence < max_confidence]
            if unresolved and rows:
                handled = set(s.scalars(select(ResolutionRow.request_id).where(ResolutionRow.request_id.is_not(None))))
                handled |= set(s.scalars(select(FeedbackRow.request_id).where(FeedbackRow.entry_id.is_not(None))))
                rows = [r for r in rows if r.request_id not in handled]
            return rows

    def get_ask(self, request_id: str) -> AskRow | None:
        with self.session() as s:
            return s.get(AskRow, request_id)

    def get_feedback(self, feedback_id: str) -> FeedbackRow | None:
        with self.session() as s:
            return s.get(FeedbackRow, feedback_id)

    def set_feedback_outcome(self, feedback_id: str, outcome: str) -> None:
        with self.session() as s, s.begin():
            s.execute(update(FeedbackRow).where(FeedbackRow.id == feedback_id).values(outcome=outcome[:200]))

    def add_feedback(self, row: FeedbackRow) -> None:
        with self.session() as s, s.begin():
            s.add(row)

    def add_units(self, units: Sequence[Unit]) -> None:
        """Units outside any source file (learned phrasings), kept across re-ingests of the files."""
        with self.session() as s, s.begin():
            for u in units:
                s.merge(UnitRow(id=u.id, source=u.source, kind=u.kind, entry_id=u.entry_id, doc_id=u.doc_id,
                                payload=u.payload()))

    def remove_entry_units(self, entry_id: str) -> list[str]:
        """Delete every unit of the entry from the record; their ids (to delete from the index)."""
        with self.session() as s, s.begin():
            ids = list(s.scalars(select(UnitRow.id).where(UnitRow.entry_id == entry_id)))
            s.execute(delete(UnitRow).where(UnitRow.entry_id == entry_id))
            return ids

    def units_for_entry(self, entry_id: str) -> list[Unit]:
        with self.session() as s:
            rows = s.scalars(select(UnitRow).where(UnitRow.entry_id == entry_id))
            return [Unit.from_payload(r.payload) for r in rows]

    # -- sessions ---------------------------------------------------------------------------
    def last_question(self, session_id: str, ttl_s: int) -> str | None:
        with self.session() as s:
            row = s.get(SessionRow, session_id)
            if row is None:
                return None
            updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=dt.UTC)
            if (_now() - updated).total_seconds() > ttl_s:
                return None
            return row.last_question

    def remember_question(self, session_id: str, question: str) -> None:
        with self.session() as s, s.begin():
            s.merge(SessionRow(id=session_id, last_question=question, updated_at=_now()))

    # -- reads ------------------------------------------------------------------------------
    def get_entry(self, entry_id: str) -> KnowledgeEntry | None:
        with self.session() as s:
            row = s.get(EntryRow, entry_id)
            return entry_of(row) if row else None

    def entries(self) -> list[KnowledgeEntry]:
        with self.session() as s:
            return [entry_of(r) for r in s.scalars(select(EntryRow).order_by(EntryRow.id))]

    def iter_units(self, batch: int = 500) -> Iterator[Unit]:
        with self.session() as s:
            for row in s.scalars(select(UnitRow).order_by(UnitRow.id).execution_options(yield_per=batch)):
                yield Unit.from_payload(row.payload)

    def counts(self) -> dict[str, int]:
        with self.session() as s:
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
        self._engine.dispose()
