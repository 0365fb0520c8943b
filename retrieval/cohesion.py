"""How close an FAQ entry's own phrasings are to each other: its cohesion, a signal of the answer confidence.

A question whose nearest phrasing of an entry sits at cosine 0.85 is a close match for an entry whose
phrasings sit at 0.80 from one another, and a poor one for an entry whose phrasings are near copies at 0.95:
a similarity means something only against the entry's own spread. The cohesion of an entry is the mean, over
its phrasings, of the similarity to its nearest other phrasing: a leave-one-out estimate of how close a new
phrasing of the entry comes to the closest one stored. With it the confidence separates right from wrong
first answers better on questions it was not fitted on (out-of-sample log-loss, logistic answer model fitted on
the dev split: clinc150 0.418 -> 0.393 and banking77 0.289 -> 0.278 with this and the second-phrasing
signals of ``retrieval.candidates``; ``answering.signals``).

Computed from the index's own vectors (every replica sees the same), for every entry in one scroll of the
index (``load_all``: at warm-up, and in the background after the knowledge base changes, ``reload``), or for
one entry when it is ranked before that finished; an entry with fewer than two phrasings has none. One scroll
instead of one filtered scroll per entry first ranked: under load (3,961 entries, unique questions at
concurrency 16) those per-entry reads cost some 3 ms of CPU per request, holding the GIL
(``eval/results/load.json``)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from retrieval.index import VectorIndex

Exclude = Callable[[dict[str, Any]], bool]

log = logging.getLogger(__name__)


def leave_one_out_cohesion(vectors: np.ndarray) -> float | None:
    """Mean over the rows of the cosine similarity to the most similar other row; None for fewer than two."""
    if len(vectors) < 2:
        return None
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms == 0, 1.0, norms)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return float(sims.max(axis=1).mean())


class EntryCohesion:
    """Cohesion per entry, read from ``index`` and cached (at most ``limit`` entries; safe to share between
    threads: a race computes an entry twice, with the same result)."""

    def __init__(self, index: VectorIndex, limit: int = 200_000) -> None:
        self.index = index
        self.limit = limit
        self._cache: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._version = 0
        """Bumped by ``clear``: a ``load_all`` that began before it does not install what it read."""
        self._pending = False
        self._closed = False
        self._worker: threading.Thread | None = None

    def of(self, entry_id: str, exclude: Exclude | None = None) -> float | None:
        """The entry's cohesion; ``exclude``: phrasings to leave out (leave-one-out refits), never cached."""
        if exclude is None and entry_id in self._cache:
            return self._cache[entry_id]
        version = self._version
        found = self.index.entry_vectors(entry_id)
        kept = [vector for payload, vector in found if exclude is None or not exclude(payload)]
        value = leave_one_out_cohesion(np.asarray(kept)) if kept else None
        if exclude is None:
            with self._lock:
                if version != self._version:  # cleared meanwhile: what was read may be stale
                    return value
                if len(self._cache) >= self.limit:
                    self._cache.clear()
                self._cache[entry_id] = value
        return value

    def clear(self) -> None:
        """Forget every entry (the knowledge base changed: phrasings may have been added or removed)."""
        with self._lock:
            self._cache.clear()
            self._version += 1

    def load_all(self, max_phrasings: int = 200_000) -> int:
        """Compute every entry's cohesion in one scroll of the index and replace the cache with it; returns the
        number of entries, or -1 when the index holds more than ``max_phrasings`` phrasings (their vectors would
        all be in memory at once: entries are then computed one by one as they are ranked). An entry cached by
        ``of`` meanwhile is kept only if no ``clear`` happened since the scroll began."""
        with self._lock:
            version = self._version
        grouped: dict[str, list[np.ndarray]] = defaultdict(list)
        for n, (entry_id, vector) in enumerate(self.index.phrasing_vectors(), start=1):
            if n > max_phrasings or self._closed:
                return -1
            grouped[entry_id].append(vector)
        values = {entry_id: leave_one_out_cohesion(np.stack(vectors)) for entry_id, vectors in grouped.items()}
        if len(values) > self.limit:
            return -1
        with self._lock:
            if version != self._version:  # the knowledge base changed during the scroll: this is stale
                return len(values)
            self._cache = values
        return len(values)

    def reload(self) -> None:
        """``clear``, then ``load_all`` in a background thread (requests meanwhile compute entries one by one).
        Changes that come while a reload runs coalesce into one more reload after it."""
        self.clear()
        with self._lock:
            if self._closed:
                return
            self._pending = True
            if self._worker is not None and self._worker.is_alive():
                return
            self._worker = threading.Thread(target=self._reload_loop, name="cohesion-reload", daemon=True)
            self._worker.start()

    def _reload_loop(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._worker = None
                    return
                self._pending = False
            try:
                self.load_all()
            except Exception as exc:  # a thread's boundary: the index closed or failed meanwhile
                log.warning("cohesion reload failed, entries load one by one: %s", exc)

    def wait(self, timeout: float | None = None) -> None:
        """Until a running reload finished (tests, benchmarks)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def close(self) -> None:
        """Stop a running reload (before the index closes under it) and start no other."""
        with self._lock:
            self._closed = True
            self._pending = False
        self.wait()


__all__ = ["EntryCohesion", "leave_one_out_cohesion"]
