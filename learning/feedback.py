"""Votes on answers: a confirmed question becomes a phrasing of its entry; not-helpful votes from distinct callers
demote the entry for similar questions (``demotion.py``).

What one caller cannot do: vote on a request the server did not issue (NotFound), vote twice on one request
(any ``feedback_id``: the second is a ``duplicate``), teach text of its own (the question learned is the one in
the ask log, never text from the feedback), or, as a chatbot, confirm an entry that was neither cited nor offered
for that request (BadInput; an agent or editor may pick any entry). Comments are PII-masked before storage."""

from __future__ import annotations

from collections import Counter

from core.caller import Caller, Role
from core.errors import BadInput, NotFound
from core.store import AskRow, FeedbackRow, Store
from ingest.pii import PiiMasker

from .demotion import Demotions
from .records import EntryStatus, Feedback, FeedbackOutcome, RecordStatus
from .versions import EntryWriter, writes


def answered_entry(ask: AskRow) -> str | None:
    """The entry given as the answer to this ask, if it answered from one."""
    return ask.top_id if ask.decision == "answer" and ask.top_id else None


class FeedbackLearner:
    def __init__(self, store: Store, masker: PiiMasker, writer: EntryWriter, demotions: Demotions) -> None:
        self.store = store
        self.masker = masker
        self.writer = writer
        self.demotions = demotions

    def _entry_to_confirm(self, body: Feedback, caller: Caller, ask: AskRow, answered: str | None) -> str | None:
        """The entry this vote says answers the asked question, checked against what the caller may confirm."""
        if body.entry_id is None:
            return answered if body.helpful else None
        if self.store.entries.get(body.entry_id) is None:
            raise BadInput(f"unknown entry_id {body.entry_id!r}")
        if not caller.role.allows(Role.agent):
            offered = {*(ask.offered or []), *([answered] if answered else [])}
            if body.entry_id not in offered:
                raise BadInput(f"entry_id {body.entry_id!r} was not cited or offered for request "
                               f"{body.request_id!r}: a chatbot may only confirm one of those")
        return body.entry_id

    @writes
    def feedback(self, body: Feedback, caller: Caller) -> FeedbackOutcome:
        """Record a vote on the answer given for ``body.request_id`` and learn from it (idempotent on
        ``feedback_id`` and on ``request_id``)."""
        existing = self.store.learning.get_feedback(body.feedback_id) or self.store.learning.feedback_for_request(
            body.request_id)
        if existing is not None:
            return FeedbackOutcome(feedback_id=body.feedback_id, status=RecordStatus.duplicate,
                                   outcome=existing.outcome)
        ask = self.store.asks.get(body.request_id)
        if ask is None:
            raise NotFound(f"no answer with request_id {body.request_id!r}")
        answered = answered_entry(ask)
        answered = answered if answered and self.store.entries.get(answered) is not None else None
        entry_id = self._entry_to_confirm(body, caller, ask, answered)
        outcomes: list[str] = []
        if entry_id is not None and self.writer.state(entry_id)[2] == EntryStatus.retired:
            outcomes.append(f"entry {entry_id} is retired: nothing learned")
        elif entry_id is not None:
            rejected: Counter[str] = Counter()
            if self.writer.learn_phrasings(entry_id, [ask.question], f"feedback:{body.feedback_id}",
                                           body.user or caller.name, rejected):
                outcomes.append(f"learned phrasing for {entry_id}")
            else:
                outcomes.append(next(iter(rejected)) if rejected else "recorded")
        comment = self.masker.mask(body.comment).text if body.comment else None
        self.store.learning.add_feedback(FeedbackRow(
            id=body.feedback_id, request_id=body.request_id, helpful=body.helpful, entry_id=entry_id,
            comment=comment, user=body.user, outcome="", answered_id=answered, caller_key=caller.key_id))
        if not body.helpful and answered is not None and answered != body.entry_id:
            demoted = self.demotions.maybe_demote(answered)
            if demoted:
                outcomes.append(f"demoted {answered} for {demoted} similar questions, flagged for review")
        outcome = "; ".join(outcomes) or "recorded"
        self.store.learning.set_feedback_outcome(body.feedback_id, outcome)
        return FeedbackOutcome(feedback_id=body.feedback_id, status=RecordStatus.recorded, outcome=outcome)
