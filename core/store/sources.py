"""Repository of ingested sources and what they hold: entries, documents, units, tickets (``store.sources``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import delete, select

from core.models import Document, KnowledgeEntry, Unit

from .database import Database
from .entries import VersionRecord, add_version, unit_row
from .tables import CandidateRow, DocumentRow, EntryRow, SourceRow, TicketRow, UnitRow, now


class SourceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def content_hash(self, uri: str) -> str | None:
        with self._db.session() as s:
            row = s.get(SourceRow, uri)
            return row.content_hash if row else None

    def uris(self) -> list[str]:
        with self._db.session() as s:
            return list(s.scalars(select(SourceRow.uri).order_by(SourceRow.uri)))

    def entry_ids(self, uri: str) -> list[str]:
        with self._db.session() as s:
            return list(s.scalars(select(EntryRow.id).where(EntryRow.source == uri)))

    def unit_ids(self, uri: str) -> set[str]:
        with self._db.session() as s:
            return set(s.scalars(select(UnitRow.id).where(UnitRow.source == uri)))

    def units(self, uri: str) -> dict[str, Unit]:
        """The source's stored units by id (what the index holds for it, payload included)."""
        with self._db.session() as s:
            return {row.id: Unit.from_payload(row.payload)
                    for row in s.scalars(select(UnitRow).where(UnitRow.source == uri))}

    def iter_units(self, batch: int = 500) -> Iterator[Unit]:
        """Every unit of the record (the index is rebuilt from these)."""
        with self._db.session() as s:
            for row in s.scalars(select(UnitRow).order_by(UnitRow.id).execution_options(yield_per=batch)):
                yield Unit.from_payload(row.payload)

    def replace(
        self,
        uri: str,
        kind: str,
        content_hash: str,
        entries: Sequence[KnowledgeEntry],
        documents: Sequence[Document],
        units: Sequence[Unit],
        statuses: dict[str, str] | None = None,
        versions: Sequence[VersionRecord] = (),
    ) -> None:
        """Make the source's rows exactly these, atomically; ``statuses`` gives an entry's status (default
        live) and ``versions`` are history records written in the same transaction."""
        statuses = statuses or {}
        unit_ids = [u.id for u in units]
        with self._db.session() as s, s.begin():
            for table in (UnitRow, EntryRow, DocumentRow):
                s.execute(delete(table).where(table.source == uri))
            for start in range(0, len(unit_ids), 500):  # units checkpointed earlier under their own label
                s.execute(delete(UnitRow).where(UnitRow.id.in_(unit_ids[start:start + 500])))
            s.merge(SourceRow(uri=uri, kind=kind, content_hash=content_hash, records=len(entries) + len(documents),
                              ingested_at=now()))
            for e in entries:
                s.add(EntryRow(
                    id=e.id, source=uri, question=e.question, answer=e.answer, alt_questions=list(e.alt_questions),
                    category=e.category, product=e.product, tags=list(e.tags), lang=e.lang, extra=e.metadata,
                    content_hash=str(e.metadata.get("_hash", "")), status=str(statuses.get(e.id, "live")),
                ))
            for record in versions:
                add_version(s, record)
            for d in documents:
                s.add(DocumentRow(
                    id=d.id, source=uri, title=d.title, format=d.format, category=d.category, product=d.product,
                    tags=list(d.tags), lang=d.lang, extra=d.metadata, content_hash=str(d.metadata.get("_hash", "")),
                ))
            for u in units:
                s.add(unit_row(u, source=uri))

    def replace_tickets(self, uri: str, content_hash: str, tickets: Sequence[Any], candidates: Sequence[Any],
                        open_status: str = "review") -> None:
        """Make the source's tickets and mined candidates exactly these (candidates no longer in
        ``open_status`` keep their review fields), atomically."""
        with self._db.session() as s, s.begin():
            reviewed = {r.id: r for r in s.scalars(select(CandidateRow).where(CandidateRow.source == uri))
                        if r.status != str(open_status)}
            for r in reviewed.values():
                s.expunge(r)
            s.execute(delete(TicketRow).where(TicketRow.source == uri))
            s.execute(delete(CandidateRow).where(CandidateRow.source == uri))
            s.merge(SourceRow(uri=uri, kind="tickets", content_hash=content_hash, records=len(tickets),
                              ingested_at=now()))
            for t in tickets:
                s.add(TicketRow(id=f"{uri}#{t.id}", source=uri, customer=t.customer, agent=t.agent, status=t.status,
                                team=t.team, created=t.created, channel=t.channel, extra=t.metadata))
            for c in candidates:
                old = reviewed.get(c.id)
                s.add(CandidateRow(id=c.id, source=uri, question=c.question, answer=c.answer, count=c.count,
                                   examples=c.examples, tickets=c.tickets, team=c.team, evidence=[], tags=[],
                                   status=old.status if old else str(c.status),
                                   entry_id=old.entry_id if old else None,
                                   reviewed_by=old.reviewed_by if old else None,
                                   reviewed_at=old.reviewed_at if old else None, note=old.note if old else None))

    def remove(self, uri: str) -> None:
        with self._db.session() as s, s.begin():
            s.execute(delete(TicketRow).where(TicketRow.source == uri))
            s.execute(delete(CandidateRow).where(CandidateRow.source == uri))
            s.execute(delete(UnitRow).where(UnitRow.source == uri))
            s.execute(delete(EntryRow).where(EntryRow.source == uri))
            s.execute(delete(DocumentRow).where(DocumentRow.source == uri))
            s.execute(delete(SourceRow).where(SourceRow.uri == uri))
