"""The learning facade the knowledge base composes: one object over the use cases, each in its own module.

- ``feedback.py``: votes; a confirmed question becomes a phrasing; not-helpful votes lead to demotions;
- ``resolutions.py``: agents' resolutions, candidates, the automatic promotion policy;
- ``review.py``: editors' actions on candidates and entries, the flagged list, the entry view;
- ``demotion.py``: demotions in memory and the generation counter other processes poll;
- ``versions.py``: the one write path for entry changes with version snapshots;
- ``labels.py``: labelled questions learned as phrasings (``kb calibrate FILE --learn``);
- ``retention.py``: the purge of asks, feedback and sessions past retention.

Learning counts distinct callers (``core.caller.Caller``: the API key), so one caller cannot demote an entry or
promote a candidate alone. Every text learned is PII-masked and screened for prompt injection first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.caller import Caller
from core.models import SearchHit
from core.settings import Settings
from core.store import Store
from ingest.pii import PiiMasker
from ingest.pipeline import Ingestor
from retrieval.embed import Embedder

from .demotion import Demotions
from .feedback import FeedbackLearner
from .labels import LabelsLearned, learn_labelled
from .records import Feedback, FeedbackOutcome, Resolution, ResolutionOutcome
from .resolutions import ResolutionLearner, Searcher
from .retention import Purged, purge_expired
from .review import Review
from .versions import EntryWriter


class Curator:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, masker: PiiMasker,
                 ingestor: Callable[[], Ingestor], search: Searcher) -> None:
        self.settings = settings
        self.store = store
        self.writer = EntryWriter(store, masker, ingestor)
        self.demotions = Demotions(settings, store, embedder)
        self.review = Review(store, self.writer, self.demotions)
        self.votes = FeedbackLearner(store, masker, self.writer, self.demotions)
        self.resolutions = ResolutionLearner(settings, store, masker, self.writer, search, self.review.approve)
        # what the rest of the product calls
        self.candidates = self.review.candidates
        self.candidate = self.review.candidate
        self.act_on_candidate = self.review.act_on_candidate
        self.flagged = self.review.flagged
        self.entry_out = self.review.entry_view
        self.act_on_entry = self.review.act_on_entry
        self.approve = self.review.approve
        self.reject = self.review.reject
        self.edit_entry = self.review.edit_entry
        self.dismiss = self.review.dismiss
        self.retire = self.review.retire
        self.rollback = self.review.rollback
        self.baseline = self.writer.baseline

    def feedback(self, body: Feedback, caller: Caller | None = None) -> FeedbackOutcome:
        """A vote; ``caller`` is who sent it (the CLI and tests without one act as ``Caller.local()``)."""
        return self.votes.feedback(body, caller or Caller.local())

    def resolve(self, body: Resolution, caller: Caller | None = None) -> ResolutionOutcome:
        return self.resolutions.resolve(body, caller or Caller.local())

    def learn_labelled(self, questions: Sequence[tuple[str, Sequence[str]]], origin: str,
                       actor: str | None = None) -> LabelsLearned:
        """Labelled questions as phrasings of their entries (``labels.py``)."""
        learned = learn_labelled(self.writer, self.store, questions, origin, actor)
        if learned.learned:
            self.bump()
        return learned

    def purge_expired(self, now: dt.datetime | None = None) -> Purged:
        return purge_expired(self.store, self.settings, now)

    # -- demotions (the answering pipeline's and the service's view) --------------------------------
    def demote(self, hits: list[SearchHit], vector: np.ndarray) -> list[SearchHit]:
        return self.demotions.demote(hits, vector)

    def bump(self) -> None:
        self.demotions.bump()

    def poll(self, max_age_s: float = 1.0) -> bool:
        return self.demotions.poll(max_age_s)

    def poll_due(self, max_age_s: float = 1.0) -> bool:
        """Whether the next ``poll`` would read the store (a caller that must not block waits for it)."""
        return self.demotions.due(max_age_s)

    @property
    def generation(self) -> Any:
        return self.demotions.generation
