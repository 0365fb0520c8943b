"""Repository of FAQ entries, their units and their version history (``store.entries``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.models import KnowledgeEntry, Unit

from .database import Database, retry_on_clash
from .tables import DocumentRow, EntryRow, EntryVersionRow, UnitRow, entry_of, now


@dataclass(frozen=True)
class VersionRecord:
    """One version of an entry: a full snapshot, why it exists (provenance), who made it and a note.
    ``version`` and ``created_at`` are set on records read back (the store numbers new ones: 0 until then)."""

    entry_id: str
    snapshot: dict[str, Any]
    provenance: str
    actor: str | None = None
    note: str | None = None
    version: int = 0
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class EntryState:
    """An entry as stored: its content, curation status and the hash of its content in the source file."""

    entry: KnowledgeEntry
    status: str
    content_hash: str


def add_version(s: Session, record: VersionRecord) -> int:
    """Number and add a version inside the caller's transaction (the unique key catches a racing writer)."""
    last = s.scalar(select(func.max(EntryVersionRow.version)).where(EntryVersionRow.entry_id == record.entry_id))
    version = int(last or 0) + 1
    s.add(EntryVersionRow(entry_id=record.entry_id, version=version, snapshot=record.snapshot,
                          provenance=str(record.provenance), actor=record.actor, note=record.note, created_at=now()))
    s.flush()
    return version


def unit_row(u: Unit, source: str | None = None) -> UnitRow:
    return UnitRow(id=u.id, source=source if source is not None else u.source, kind=u.kind, entry_id=u.entry_id,
                   doc_id=u.doc_id, payload=u.payload())


class EntryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads --------------------------------------------------------------------------------
    def get(self, entry_id: str) -> KnowledgeEntry | None:
        with self._db.session() as s:
            row = s.get(EntryRow, entry_id)
            return entry_of(row) if row else None

    def state(self, entry_id: str) -> EntryState | None:
        with self._db.session() as s:
            row = s.get(EntryRow, entry_id)
            return EntryState(entry_of(row), row.status, row.content_hash) if row else None

    def all(self) -> list[KnowledgeEntry]:
        with self._db.session() as s:
            return [entry_of(r) for r in s.scalars(select(EntryRow).order_by(EntryRow.id))]

    def products(self) -> list[str]:
        """The distinct product names of the entries and documents (what product-scoped search matches)."""
        with self._db.session() as s:
            names = set(s.scalars(select(EntryRow.product).where(EntryRow.product.is_not(None)).distinct()))
            names |= set(s.scalars(select(DocumentRow.product).where(DocumentRow.product.is_not(None)).distinct()))
            return sorted(n for n in names if n)

    def product_texts(self, answer_chars: int = 200) -> Iterator[tuple[str | None, str]]:
        """(product, text) of every entry's question, other phrasings and the start of its answer: where the
        knowledge base's own texts show which product names are ordinary words (``retrieval.products``)."""
        q = select(EntryRow.product, EntryRow.question, EntryRow.alt_questions,
                   func.substr(EntryRow.answer, 1, answer_chars))
        with self._db.session() as s:
            for product, question, alts, answer in s.execute(q).yield_per(2000):
                yield product, question
                for alt in alts or ():
                    yield product, alt
                yield product, answer

    def ids(self) -> list[str]:
        with self._db.session() as s:
            return list(s.scalars(select(EntryRow.id).order_by(EntryRow.id)))

    def with_status(self, status: str) -> list[KnowledgeEntry]:
        with self._db.session() as s:
            q = select(EntryRow).where(EntryRow.status == str(status)).order_by(EntryRow.id)
            return [entry_of(r) for r in s.scalars(q)]

    def statuses(self, entry_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(status, content hash) of each of these entries that exists."""
        ids = list(entry_ids)
        out: dict[str, tuple[str, str]] = {}
        with self._db.session() as s:
            for start in range(0, len(ids), 500):  # stay under the database's bound-parameter limit
                rows = s.execute(select(EntryRow.id, EntryRow.status, EntryRow.content_hash)
                                 .where(EntryRow.id.in_(ids[start:start + 500])))
                out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def owners(self, entry_ids: Sequence[str]) -> dict[str, str]:
        """Which source currently holds each of these entry ids."""
        ids = list(entry_ids)
        out: dict[str, str] = {}
        with self._db.session() as s:
            for start in range(0, len(ids), 500):
                rows = s.execute(select(EntryRow.id, EntryRow.source).where(EntryRow.id.in_(ids[start:start + 500])))
                out.update({r[0]: r[1] for r in rows})
        return out

    def units(self, entry_id: str) -> list[Unit]:
        with self._db.session() as s:
            rows = s.scalars(select(UnitRow).where(UnitRow.entry_id == entry_id))
            return [Unit.from_payload(r.payload) for r in rows]

    # -- writes -------------------------------------------------------------------------------
    def save(self, entry: KnowledgeEntry, units: Sequence[Unit], status: str,
             version: VersionRecord | None = None) -> int | None:
        """Make entry ``entry.id`` exactly this, with exactly these units (file and learned), and record the
        version, atomically. Returns the version number written, if any."""

        def write() -> int | None:
            with self._db.session() as s, s.begin():
                row = s.get(EntryRow, entry.id)
                content_hash = row.content_hash if row else str(entry.metadata.get("_hash", ""))
                s.execute(delete(UnitRow).where(UnitRow.entry_id == entry.id))
                s.merge(EntryRow(
                    id=entry.id, source=entry.source, question=entry.question, answer=entry.answer,
                    alt_questions=list(entry.alt_questions), category=entry.category, product=entry.product,
                    tags=list(entry.tags), lang=entry.lang, extra=entry.metadata, content_hash=content_hash,
                    status=str(status), updated_at=now(),
                ))
                for u in units:
                    s.add(unit_row(u))
                return add_version(s, version) if version is not None else None

        return retry_on_clash(write)

    def set_status(self, entry_id: str, status: str, only_if: str | None = None) -> bool:
        """Set the entry's status (only when it is ``only_if``, if given); whether a row changed."""
        with self._db.session() as s, s.begin():
            q = update(EntryRow).where(EntryRow.id == entry_id)
            if only_if is not None:
                q = q.where(EntryRow.status == str(only_if))
            result = s.execute(q.values(status=str(status), updated_at=now()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_units(self, units: Sequence[Unit]) -> None:
        """Units outside any source file (learned phrasings), kept across re-ingests of the files."""
        with self._db.session() as s, s.begin():
            for u in units:
                s.merge(unit_row(u))

    def remove_units(self, entry_id: str) -> list[str]:
        """Delete every unit of the entry from the record; their ids (to delete from the index)."""
        with self._db.session() as s, s.begin():
            ids = list(s.scalars(select(UnitRow.id).where(UnitRow.entry_id == entry_id)))
            s.execute(delete(UnitRow).where(UnitRow.entry_id == entry_id))
            return ids

    # -- versions -----------------------------------------------------------------------------
    def add_version(self, record: VersionRecord) -> int:
        def write() -> int:
            with self._db.session() as s, s.begin():
                return add_version(s, record)

        return retry_on_clash(write)

    def versions(self, entry_id: str) -> list[VersionRecord]:
        with self._db.session() as s:
            q = select(EntryVersionRow).where(EntryVersionRow.entry_id == entry_id).order_by(EntryVersionRow.version)
            return [VersionRecord(entry_id=r.entry_id, snapshot=r.snapshot, provenance=r.provenance, actor=r.actor,
                                  note=r.note, version=r.version, created_at=r.created_at) for r in s.scalars(q)]

    def latest_snapshots(self, entry_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The newest snapshot of each of these entries that has a history."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(entry_ids)
        with self._db.session() as s:
            for start in range(0, len(ids), 500):
                q = (select(EntryVersionRow.entry_id, EntryVersionRow.snapshot)
                     .where(EntryVersionRow.entry_id.in_(ids[start:start + 500])).order_by(EntryVersionRow.version))
                for entry_id, snapshot in s.execute(q):
                    out[entry_id] = snapshot
        return out
