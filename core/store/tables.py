"""The SQLAlchemy declarative ``Base`` and the ORM rows of the system of record (the schema Alembic migrates)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.models import KnowledgeEntry


def now() -> dt.datetime:
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
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


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
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


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
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


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
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    caller_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


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
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class DemotionRow(Base):
    """Entry E is not to be given for questions like these (repeated negative feedback)."""

    __tablename__ = "demotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(200), index=True)
    questions: Mapped[list[str]] = mapped_column(JSON)
    vectors: Mapped[list[list[float]]] = mapped_column(JSON)
    feedback_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class AskRow(Base):
    """Every answered or handed-off question (PII-masked), so feedback can refer to it by request id."""

    __tablename__ = "asks"
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(20))
    confidence: Mapped[float] = mapped_column()
    top_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    # entry ids the answer cited or offered (related choices): what a chatbot's vote may confirm
    offered: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=list)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    helpful: Mapped[bool] = mapped_column()
    entry_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    user: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)
    answered_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    caller_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """Who voted (the API key id): learning counts distinct callers, not distinct feedback ids."""


class SessionRow(Base):
    """The last question of a conversation, so a follow-up can be understood, and the product it is about
    (shared by API replicas)."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_question: Mapped[str] = mapped_column(Text)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


def entry_of(row: EntryRow) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=row.id, question=row.question, answer=row.answer, alt_questions=tuple(row.alt_questions or ()),
        category=row.category, product=row.product, tags=tuple(row.tags or ()), lang=row.lang,
        source=row.source, metadata=dict(row.extra or {}),
    )


def load_all() -> None:
    """Import every module of ``core.store`` so the rows other modules declare on ``Base`` (e.g. ``keys.py``)
    are in ``Base.metadata`` (Alembic compares against it)."""
    import importlib
    import pkgutil

    import core.store

    for module in pkgutil.iter_modules(core.store.__path__):
        if module.name != "migrations":
            importlib.import_module(f"core.store.{module.name}")
