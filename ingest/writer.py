"""Writing one source: units per record, questions first, checkpointed batches, a failing record quarantined.

The order of a write: every record's units are computed (a record whose units fail is quarantined); the
new units are embedded in batches, question units first; after each batch the index holds them and the
record lists them (a checkpoint: an interrupted run re-embeds only what no batch finished); once the
questions are in, the entries are written, so a large FAQ answers by its questions while its answers are
still being embedded; the final write replaces the source's rows. A record that fails at any step
(units, embedding, index write, record write) is left out and quarantined with the reason; the others land.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import KBError
from core.models import Document, KnowledgeEntry, Unit
from core.progress import Progress
from core.store import Store, VersionRecord
from ingest.indexing import UnitIndexer
from ingest.readers import Quarantined
from ingest.units import document_units, entry_units
from retrieval.index import VectorIndex

log = logging.getLogger(__name__)
CHECKPOINT_UNITS = 256  # units embedded between two checkpoints of the record
PARTIAL = "partial:"  # prefix of a source's content hash while its write is unfinished


def record_key(unit: Unit) -> str:
    return f"entry {unit.entry_id}" if unit.entry_id else f"document {unit.doc_id}"


@dataclass
class Written:
    entries: list[KnowledgeEntry]
    documents: list[Document]
    units: list[Unit]
    embedded: int
    removed: int


@dataclass
class SourceWriter:
    store: Store
    index: VectorIndex
    indexer: UnitIndexer
    quarantine: Callable[[Quarantined], None]
    chunk_max_tokens: int = 220
    chunk_overlap_tokens: int = 40
    failed: dict[str, str] = field(default_factory=dict)  # record key -> reason

    def fail(self, uri: str, key: str, reason: str) -> None:
        if key not in self.failed:
            self.failed[key] = reason
            self.quarantine(Quarantined(source=uri, location=key, reason=reason))

    def units(self, uri: str, entries: Sequence[KnowledgeEntry], documents: Sequence[Document],
              statuses: dict[str, str]) -> list[Unit]:
        """Every record's units; a record whose units cannot be made, or that would reuse a unit id of an
        earlier record, is quarantined."""
        out: list[Unit] = []
        owner: dict[str, str] = {}
        jobs: list[tuple[str, KnowledgeEntry | Document]] = [
            *((f"entry {e.id}", e) for e in entries if statuses.get(e.id) != "retired"),
            *((f"document {d.id}", d) for d in documents)]
        for key, record in jobs:
            try:
                units = (entry_units(record) if isinstance(record, KnowledgeEntry)
                         else document_units(record, self.chunk_max_tokens, self.chunk_overlap_tokens))
            except Exception as exc:
                self.fail(uri, key, f"cannot make its units: {type(exc).__name__}: {exc}")
                continue
            clash = next((owner[u.id] for u in units if u.id in owner), None)
            if clash is not None:
                self.fail(uri, key, f"same unit ids as {clash} (duplicate content)")
                continue
            owner.update((u.id, key) for u in units)
            out.extend(units)
        return out

    def write(self, uri: str, kind: str, digest: str, entries: Sequence[KnowledgeEntry],
              documents: Sequence[Document], statuses: dict[str, str], versions: Sequence[VersionRecord],
              units: Sequence[Unit], progress: Progress | None = None) -> Written:
        """Write the source's records with their ``units`` (from :meth:`units`)."""
        old = self.store.sources.units(uri)
        old_ids = set(old)
        # A unit whose id is known but whose payload changed (an entry's answer or metadata edited in the file:
        # its question units keep their ids) is written again, or the index would serve the old answer.
        todo = [u for u in units if old.get(u.id) != u]
        questions = [u for u in todo if u.kind == "question"]
        rest = [u for u in todo if u.kind != "question"]
        done = [u for u in units if u.id in old_ids and old[u.id] == u]
        upserted: list[str] = []
        checkpoints = len(todo) > CHECKPOINT_UNITS  # a source done in one batch is written once, at the end
        for phase in (questions, rest):
            for start in range(0, len(phase), CHECKPOINT_UNITS):
                batch = phase[start : start + CHECKPOINT_UNITS]
                for unit, reason in self.indexer.upsert(batch, isolate=True):
                    self.fail(uri, record_key(unit), reason)
                landed = [u for u in batch if record_key(u) not in self.failed]
                upserted += [u.id for u in batch]
                if checkpoints:
                    self.index.flush()
                    self.store.entries.add_units(landed)  # checkpoint: the next run does not embed these again
                done += landed
                if progress:
                    progress.update(len(batch))
            if checkpoints and phase is questions and questions and rest and entries:
                self._answerable(uri, kind, digest, entries, documents, done, statuses, versions)
        keep = [u for u in units if record_key(u) not in self.failed]
        keep_ids = {u.id for u in keep}
        removed = sorted((old_ids | set(upserted)) - keep_ids)
        self.index.delete(removed)
        self.index.flush()
        entries = [e for e in entries if f"entry {e.id}" not in self.failed]
        documents = [d for d in documents if f"document {d.id}" not in self.failed]
        entries, documents, keep = self._replace(uri, kind, digest, entries, documents, keep, statuses, versions)
        added = [i for i in upserted if i in keep_ids and i not in old_ids]
        return Written(list(entries), list(documents), keep, len(added),
                       len(old_ids - {u.id for u in keep}))

    def _answerable(self, uri: str, kind: str, digest: str, entries: Sequence[KnowledgeEntry],
                    documents: Sequence[Document], done: Sequence[Unit], statuses: dict[str, str],
                    versions: Sequence[VersionRecord]) -> None:
        """The entries written with the units finished so far (their questions), before the answers are
        embedded. The source stays marked unfinished, and an entry that this write changes keeps a marker
        hash, so a run interrupted after this point is redone and records its versions as a clean run."""
        changed = {v.entry_id for v in versions}
        marked = [e.model_copy(update={"metadata": {**e.metadata, "_hash": PARTIAL}}) if e.id in changed else e
                  for e in entries if f"entry {e.id}" not in self.failed]
        try:
            self.store.sources.replace(uri, kind, PARTIAL + digest, marked, documents,
                                       [u for u in done if record_key(u) not in self.failed], statuses, ())
        except Exception as exc:
            log.warning("early write of %s failed (%s); it is written when its answers are in", uri, exc)

    def _replace(self, uri: str, kind: str, digest: str, entries: list[KnowledgeEntry], documents: list[Document],
                 units: list[Unit], statuses: dict[str, str], versions: Sequence[VersionRecord]) -> tuple[
                     list[KnowledgeEntry], list[Document], list[Unit]]:
        """The final write of the source. When it fails, the failing record is found by bisection (each
        attempt is its own transaction), quarantined, and the write is retried without it."""
        records: list[Any] = [*entries, *documents]
        for _ in range(len(records) + 1):
            error = self._try(uri, kind, digest, records, units, statuses, versions)
            if error is None:
                break
            if (broken := self._try(uri, kind, PARTIAL + digest, [], units, statuses, versions)) is not None:
                raise KBError(f"the system of record cannot be written ({broken}); nothing of {uri} was lost "
                              "from the index, run the ingest again once it is fixed")
            culprit = self._bisect(uri, kind, digest, records, units, statuses, versions)
            key = _key_of(records[culprit])
            self.fail(uri, key, f"cannot be written: {error}")
            records = records[:culprit] + records[culprit + 1 :]
            self.index.delete([u.id for u in units if record_key(u) == key])
            units = [u for u in units if record_key(u) != key]
        return ([r for r in records if isinstance(r, KnowledgeEntry)],
                [r for r in records if isinstance(r, Document)], units)

    def _try(self, uri: str, kind: str, digest: str, records: Sequence[Any], units: Sequence[Unit],
             statuses: dict[str, str], versions: Sequence[VersionRecord]) -> str | None:
        keys = {_key_of(r) for r in records}
        try:
            self.store.sources.replace(
                uri, kind, digest, [r for r in records if isinstance(r, KnowledgeEntry)],
                [r for r in records if isinstance(r, Document)], [u for u in units if record_key(u) in keys],
                statuses, [v for v in versions if f"entry {v.entry_id}" in keys])
        except Exception as exc:
            return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return None

    def _bisect(self, uri: str, kind: str, digest: str, records: Sequence[Any], units: Sequence[Unit],
                statuses: dict[str, str], versions: Sequence[VersionRecord]) -> int:
        """Index of the first record whose prefix cannot be written."""
        lo, hi = 0, len(records) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self._try(uri, kind, PARTIAL + digest, records[: mid + 1], units, statuses, versions) is None:
                lo = mid + 1
            else:
                hi = mid
        return lo


def _key_of(record: KnowledgeEntry | Document) -> str:
    return f"entry {record.id}" if isinstance(record, KnowledgeEntry) else f"document {record.id}"


__all__ = ["CHECKPOINT_UNITS", "PARTIAL", "SourceWriter", "Written", "record_key"]
