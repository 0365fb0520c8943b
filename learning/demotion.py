"""Demotions: an entry repeatedly voted not-helpful by distinct callers for similar questions is no longer given
for questions like those, and is flagged for an editor. Held in memory per process; the generation counter in
``kb_meta`` tells every process (API replicas) when to reload."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.meta_keys import MetaKey
from core.models import SearchHit
from core.settings import Settings
from core.store import DemotionRow, FeedbackRow, Store
from retrieval.embed import Embedder

from .records import EntryStatus


def voter(f: FeedbackRow) -> str:
    """Who cast a vote, for counting distinct callers (feedback recorded before callers were, one each)."""
    return f.caller_key or f"legacy:{f.id}"


class Demotions:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._lock = threading.Lock()
        self._demotions: dict[str, np.ndarray] = {}
        self._generation: Any = None
        self._checked = 0.0
        self._vectors: dict[str, np.ndarray] = {}
        self._load()

    def _embed(self, questions: Sequence[str]) -> np.ndarray:
        """Query vectors, cached (demotion checks re-read the same not-helpful questions)."""
        missing = [q for q in dict.fromkeys(questions) if q not in self._vectors]
        if missing:
            for q, v in zip(missing, self.embedder.embed_queries(missing), strict=True):
                self._vectors[q] = v
            while len(self._vectors) > 20000:
                self._vectors.pop(next(iter(self._vectors)))
        return np.vstack([self._vectors[q] for q in questions])

    # -- live state shared by API replicas ----------------------------------------------------
    def bump(self) -> None:
        """Tell every replica (they share the record) that shared state changed: demotions, calibration,
        fusion, edits."""
        self.store.meta.set(MetaKey.generation, {"at": time.time_ns()})
        self._checked = 0.0

    @property
    def generation(self) -> Any:
        """The generation this process last read (``poll`` refreshes it): the answer cache's key part."""
        return self._generation

    def due(self, max_age_s: float = 1.0) -> bool:
        """Whether the next ``poll`` would read the store."""
        return time.monotonic() - self._checked >= max_age_s

    def poll(self, max_age_s: float = 1.0) -> bool:
        """Re-read shared state (demotions) when another process or call changed it; checked at most every
        ``max_age_s``. True when it changed (the caller reloads what it holds, e.g. the calibration)."""
        now = time.monotonic()
        if now - self._checked < max_age_s:
            return False
        with self._lock:
            self._checked = now
            if self.store.meta.get(MetaKey.generation) == self._generation:
                return False
            self._load()
            return True

    def _load(self) -> None:
        generation = self.store.meta.get(MetaKey.generation)
        by_entry: dict[str, list[list[float]]] = {}
        for d in self.store.learning.demotions():
            by_entry.setdefault(d.entry_id, []).extend(d.vectors)
        self._demotions = {k: np.asarray(v, dtype=np.float32) for k, v in by_entry.items()}
        self._generation = generation  # last: a cache key never names a generation before its demotions load

    def demote(self, hits: list[SearchHit], vector: np.ndarray) -> list[SearchHit]:
        """Move entries demoted for questions like this one to the end of the list (so they are not given
        as the answer) and mark them."""
        self.poll()
        if not self._demotions:
            return hits
        kept, demoted = [], []
        for h in hits:
            vectors = self._demotions.get(h.entry_id or "")
            if vectors is not None and float(np.max(vectors @ vector)) >= self.settings.demote_similarity:
                demoted.append(h.model_copy(update={"features": {**h.features, "demoted": 1.0}}))
            else:
                kept.append(h)
        return kept + demoted

    # -- deciding ---------------------------------------------------------------------------------
    def maybe_demote(self, entry_id: str) -> int:
        """Demote the entry for the newest not-helpful question's cluster once ``demote_after`` distinct callers
        voted not-helpful in it (votes not yet behind a demotion), and flag it for review; the number of votes
        behind the new demotion, or 0."""
        covered = {f for d in self.store.learning.demotions(entry_id) for f in d.feedback_ids}
        pending = [(f, a) for f, a in self.store.learning.negative_feedback(entry_id) if f.id not in covered][-100:]
        if len({voter(f) for f, _ in pending}) < self.settings.demote_after:
            return 0
        vectors = self._embed([a.question for _, a in pending])
        sims = vectors @ vectors[-1]
        members = [i for i in range(len(pending)) if sims[i] >= self.settings.demote_similarity]
        if len({voter(pending[i][0]) for i in members}) < self.settings.demote_after:
            return 0
        self.store.learning.add_demotion(DemotionRow(
            entry_id=entry_id, questions=list(dict.fromkeys(pending[i][1].question for i in members)),
            vectors=[vectors[i].round(5).tolist() for i in members],
            feedback_ids=[pending[i][0].id for i in members]))
        self.store.entries.set_status(entry_id, EntryStatus.flagged, only_if=EntryStatus.live)  # for an editor
        self.bump()
        return len(members)

    def end(self, entry_ids: Sequence[str]) -> int:
        """End the entries' demotions (an editor changed or cleared them); how many ended."""
        n = self.store.learning.clear_demotions(entry_ids)
        if n:
            self.bump()
        return n
