"""The one write path for changes to an entry: index first, then the record with a new version snapshot.

Every change (a learned phrasing, an approval, an edit, a retirement, a rollback) goes through
``EntryWriter.apply``, so it is live at once, needs no rebuild, and can be rolled back. Writes run one at a
time in this process (``EntryWriter.lock``); replicas sharing a database rely on its transactions and on the
unique (entry, version) key."""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from core.errors import BadInput, NotFound
from core.ids import normalize_for_hash
from core.models import KnowledgeEntry
from core.store import Store, VersionRecord
from ingest.dedupe import jaccard
from ingest.pii import PiiMasker
from ingest.pipeline import Ingestor
from ingest.units import learned_of, snapshot

from .records import EntryStatus, Provenance
from .screen import screen

PHRASING_DUPLICATE = 0.8
"""Shingle Jaccard at which a learned question counts as a phrasing the entry already has."""

Learned = list[dict[str, str]]
"""Phrasings learned outside the source file: ``{"text": ..., "from": origin}``."""

P = ParamSpec("P")
R = TypeVar("R")


class _HasWriter(Protocol):
    writer: EntryWriter


S = TypeVar("S", bound=_HasWriter)


def writes(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a use case that changes the knowledge under the writer's lock (read-modify-write of an entry's
    phrasings and version numbers)."""

    @functools.wraps(method)
    def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.writer.lock:
            return method(self, *args, **kwargs)

    return wrapper


class EntryWriter:
    def __init__(self, store: Store, masker: PiiMasker, ingestor: Callable[[], Ingestor]) -> None:
        self.store = store
        self.masker = masker
        self._ingestor = ingestor
        self.lock = threading.RLock()

    def state(self, entry_id: str) -> tuple[KnowledgeEntry, Learned, EntryStatus]:
        """The entry as stored, its learned phrasings and its status (NotFound when there is none)."""
        found = self.store.entries.state(entry_id)
        if found is None:
            raise NotFound(f"no entry {entry_id!r}")
        return found.entry, learned_of(self.store.entries.units(entry_id)), EntryStatus(found.status)

    def apply(self, entry: KnowledgeEntry, learned: Learned, status: EntryStatus, provenance: str,
              actor: str | None = None, note: str | None = None) -> None:
        """``Ingestor.apply_entry``, after giving an entry that has no history yet (imported by an earlier
        version) its current state as version 1, so a rollback can always go back to it."""
        if self.store.entries.state(entry.id) is not None:
            self.baseline([entry.id])
        self._ingestor().apply_entry(entry, learned, str(status), str(provenance), actor, note)

    def baseline(self, entry_ids: Sequence[str] | None = None) -> int:
        """Give entries imported before version history existed a first version (idempotent)."""
        ids = list(entry_ids) if entry_ids is not None else self.store.entries.ids()
        have = self.store.entries.latest_snapshots(ids)
        n = 0
        for entry_id in ids:
            if entry_id not in have:
                entry, learned, status = self.state(entry_id)
                self.store.entries.add_version(
                    VersionRecord(entry_id, snapshot(entry, learned, status), Provenance.imported, entry.source))
                n += 1
        return n

    def screened(self, text: str, what: str, min_chars: int = 4) -> str:
        """Editor's text, masked and screened (BadInput when it must not be stored)."""
        clean, reason = screen(text, self.masker, min_chars=min_chars)
        if clean is None:
            raise BadInput(f"{what} rejected: {reason}")
        return clean

    def new_phrasings(self, entry: KnowledgeEntry, learned: Learned, questions: Sequence[str], origin: str,
                      rejected: Counter[str]) -> Learned:
        """The questions that may become new phrasings of ``entry`` (masked, screened, not near-duplicates)."""
        existing = [entry.question, *entry.alt_questions, *(d["text"] for d in learned)]
        new: Learned = []
        for q in questions:
            text, reason = screen(q, self.masker)
            if text is None:
                rejected[reason] += 1
            elif any(jaccard(text, e) >= PHRASING_DUPLICATE or normalize_for_hash(text) == normalize_for_hash(e)
                     for e in existing):
                rejected["rejected_duplicate"] += 1
            else:
                existing.append(text)
                new.append({"text": text, "from": origin})
        return new

    def learn_phrasings(self, entry_id: str, questions: Sequence[str], origin: str, actor: str | None,
                        rejected: Counter[str]) -> int:
        """Add the questions as phrasings of the entry (one new version); how many were learned."""
        entry, learned, status = self.state(entry_id)
        if status == EntryStatus.retired:
            raise BadInput(f"entry {entry_id!r} is retired")
        new = self.new_phrasings(entry, learned, questions, origin, rejected)
        if new:
            self.apply(entry, learned + new, status, Provenance.learned, actor, f"{len(new)} phrasing(s) from {origin}")
        return len(new)
