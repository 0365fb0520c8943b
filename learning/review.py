"""Editors' review: candidates (approve, edit, merge, reject) and entries (edit, dismiss a flag, retire, merge,
roll back), the flagged list and the entry view with its history. Every change goes through ``EntryWriter``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from core.errors import BadInput, NotFound
from core.ids import content_hash
from core.models import KnowledgeEntry
from core.store import CandidateRow, Store
from core.text import detect_lang
from ingest.dedupe import jaccard
from ingest.units import from_snapshot

from .demotion import Demotions
from .records import (
    CandidateAction,
    CandidateStatus,
    CandidateView,
    EntryActionKind,
    EntryStatus,
    EntryView,
    FlaggedEntry,
    Provenance,
    VersionView,
)
from .resolutions import answers_of, consistency
from .versions import PHRASING_DUPLICATE, EntryWriter, writes

CURATED_SOURCE = "curated"
"""Source of entries created from candidates (not owned by any file)."""
POLICY_PREFIX = "policy:"
"""Editor names of automatic decisions (``policy:auto``): their approvals are recorded as ``promoted``."""


def candidate_view(c: CandidateRow) -> CandidateView:
    answers = answers_of(c)
    _, share = consistency(answers)
    distinct = [a for a, _ in Counter(answers).most_common(5)]
    return CandidateView(id=c.id, source=c.source, status=c.status, question=c.question, answer=c.answer,
                         count=c.count, consistency=round(share, 3), examples=list(c.examples)[:10],
                         answers=distinct, team=c.team, tags=list(c.tags or []), entry_id=c.entry_id,
                         reviewed_by=c.reviewed_by, note=c.note)


def _action(kind: type[CandidateAction] | type[EntryActionKind], action: str) -> Any:
    try:
        return kind(action)
    except ValueError:
        raise BadInput(f"unknown action {action!r} (one of {', '.join(k.value for k in kind)})") from None


class Review:
    def __init__(self, store: Store, writer: EntryWriter, demotions: Demotions) -> None:
        self.store = store
        self.writer = writer
        self.demotions = demotions

    # -- candidates ---------------------------------------------------------------------------
    def candidates(self, status: str | None = CandidateStatus.review, limit: int = 50) -> list[CandidateView]:
        return [candidate_view(c) for c in self.store.learning.candidates(status)[:limit]]

    def candidate(self, candidate_id: str) -> CandidateView:
        return candidate_view(self._candidate(candidate_id, open_only=False))

    def _candidate(self, candidate_id: str, open_only: bool = True) -> CandidateRow:
        c = self.store.learning.get_candidate(candidate_id)
        if c is None:
            raise NotFound(f"no candidate {candidate_id!r}")
        if open_only and c.status != CandidateStatus.review:
            raise BadInput(f"candidate {candidate_id!r} is already {c.status}")
        return c

    def _reviewed(self, c: CandidateRow, status: CandidateStatus, editor: str,
                  note: str | None = None) -> CandidateView:
        c.status, c.reviewed_by, c.reviewed_at = status, editor, dt.datetime.now(dt.UTC)
        if note:
            c.note = note
        self.store.learning.save_candidate(c)
        return candidate_view(c)

    @writes
    def approve(self, candidate_id: str, editor: str, question: str | None = None,
                answer: str | None = None) -> CandidateView:
        """The candidate becomes a live entry (its examples are the phrasings), with a first version."""
        c = self._candidate(candidate_id)
        q = self.writer.screened(question, "question") if question else c.question
        a = self.writer.screened(answer, "answer", 1) if answer else c.answer
        phrasings: list[str] = [q]
        for ex in c.examples:
            if all(jaccard(ex, p) < PHRASING_DUPLICATE for p in phrasings):
                phrasings.append(ex)
        entry = KnowledgeEntry(
            id=f"kb-{content_hash(c.id)}", question=q, answer=a, alt_questions=tuple(phrasings[1:20]),
            tags=tuple(c.tags or ()), lang=detect_lang(q), source=CURATED_SOURCE,
            metadata={"team": c.team, "candidate": c.id, "resolutions": c.count},
        )
        provenance = Provenance.promoted if editor.startswith(POLICY_PREFIX) else Provenance.approved
        self.writer.apply(entry, [], EntryStatus.live, provenance, editor,
                          f"from candidate {c.id} ({c.count} resolutions/tickets)")
        c.entry_id = entry.id
        return self._reviewed(c, CandidateStatus.approved, editor)

    @writes
    def edit_candidate(self, candidate_id: str, editor: str, question: str | None, answer: str | None,
                       note: str | None = None) -> CandidateView:
        c = self._candidate(candidate_id)
        if question:
            c.question = self.writer.screened(question, "question")
        if answer:
            c.answer = self.writer.screened(answer, "answer", 1)
            c.evidence = [{**e, "answer": c.answer} for e in (c.evidence or [])]
        return self._reviewed(c, CandidateStatus.review, editor, note)

    @writes
    def reject(self, candidate_id: str, editor: str, note: str | None = None) -> CandidateView:
        return self._reviewed(self._candidate(candidate_id), CandidateStatus.rejected, editor, note)

    @writes
    def merge_candidate(self, candidate_id: str, into: str, editor: str) -> CandidateView:
        """Merge into another open candidate (counts, examples, evidence add up) or into an entry (the
        examples become its phrasings)."""
        c = self._candidate(candidate_id)
        if into == candidate_id:
            raise BadInput("cannot merge a candidate into itself")
        target = self.store.learning.get_candidate(into)
        if target is not None:
            if target.status != CandidateStatus.review:
                raise BadInput(f"candidate {into!r} is already {target.status}")
            target.count += c.count
            target.examples = list(dict.fromkeys([*target.examples, *c.examples]))[:50]
            target.tickets = list(dict.fromkeys([*target.tickets, *c.tickets]))
            target.evidence = [*(target.evidence or []), *(c.evidence or [])][-200:]
            target.tags = sorted({*(target.tags or []), *(c.tags or [])})
            self.store.learning.save_candidate(target)
        elif self.store.entries.get(into) is not None:
            self.writer.learn_phrasings(into, [c.question, *c.examples], f"candidate:{c.id}", editor, Counter())
            c.entry_id = into
        else:
            raise NotFound(f"no open candidate or entry {into!r}")
        return self._reviewed(c, CandidateStatus.merged, editor, f"into {into}")

    def act_on_candidate(self, candidate_id: str, action: str, editor: str, question: str | None = None,
                         answer: str | None = None, into: str | None = None, note: str | None = None) -> CandidateView:
        kind: CandidateAction = _action(CandidateAction, action)
        if kind == CandidateAction.approve:
            return self.approve(candidate_id, editor, question, answer)
        if kind == CandidateAction.edit:
            return self.edit_candidate(candidate_id, editor, question, answer, note)
        if kind == CandidateAction.reject:
            return self.reject(candidate_id, editor, note)
        if not into:
            raise BadInput("merge needs 'into': a candidate or entry id")
        return self.merge_candidate(candidate_id, into, editor)

    # -- entries ------------------------------------------------------------------------------
    def flagged(self) -> list[FlaggedEntry]:
        out = []
        for e in self.store.entries.with_status(EntryStatus.flagged):
            demotions = self.store.learning.demotions(e.id)
            feedback = {f.id: f for f, _ in self.store.learning.negative_feedback(e.id)}
            ids = [f for d in demotions for f in d.feedback_ids]
            out.append(FlaggedEntry(
                entry_id=e.id, question=e.question, answer=e.answer, negative=len(ids),
                demoted_for=list(dict.fromkeys(q for d in demotions for q in d.questions))[:10],
                comments=[c for c in (feedback[f].comment for f in ids if f in feedback) if c][:10]))
        return sorted(out, key=lambda f: -f.negative)

    def entry_view(self, entry_id: str) -> EntryView:
        entry, learned, status = self.writer.state(entry_id)
        versions = []
        for v in self.store.entries.versions(entry_id):
            e, lv, st = from_snapshot(v.snapshot)
            versions.append(VersionView(version=v.version, provenance=v.provenance, actor=v.actor, note=v.note,
                                        created_at=v.created_at.isoformat() if v.created_at else "",
                                        question=e.question, answer=e.answer, status=st,
                                        learned=[d["text"] for d in lv]))
        return EntryView(id=entry.id, source=entry.source, status=status, question=entry.question,
                         answer=entry.answer, alt_questions=list(entry.alt_questions),
                         learned=[d["text"] for d in learned], versions=versions)

    @writes
    def edit_entry(self, entry_id: str, editor: str, question: str | None, answer: str | None,
                   note: str | None = None) -> EntryView:
        """A new version with the editor's text; the entry goes live and its demotions end."""
        entry, learned, _ = self.writer.state(entry_id)
        update: dict[str, Any] = {}
        if question:
            update["question"] = self.writer.screened(question, "question")
        if answer:
            update["answer"] = self.writer.screened(answer, "answer", 1)
        if not update:
            raise BadInput("edit needs a new question or answer")
        self.writer.apply(entry.model_copy(update=update), learned, EntryStatus.live, Provenance.edited, editor, note)
        self.demotions.end([entry_id])
        return self.entry_view(entry_id)

    @writes
    def dismiss(self, entry_id: str, editor: str, note: str | None = None) -> EntryView:
        """The entry was right after all: its demotions end and it goes live unchanged."""
        entry, learned, _ = self.writer.state(entry_id)
        self.store.learning.clear_demotions([entry_id])
        self.writer.apply(entry, learned, EntryStatus.live, Provenance.dismissed, editor, note)
        self.demotions.bump()
        return self.entry_view(entry_id)

    @writes
    def retire(self, entry_id: str, editor: str, note: str | None = None) -> EntryView:
        """Out of the live index (kept in the record and its history: a rollback brings it back)."""
        entry, learned, _ = self.writer.state(entry_id)
        self.writer.apply(entry, learned, EntryStatus.retired, Provenance.retired, editor, note)
        return self.entry_view(entry_id)

    @writes
    def merge_entry(self, entry_id: str, into: str, editor: str, note: str | None = None) -> EntryView:
        """``entry_id`` is retired and its phrasings become phrasings of ``into``."""
        if into == entry_id:
            raise BadInput("cannot merge an entry into itself")
        entry, learned, _ = self.writer.state(entry_id)
        self.writer.state(into)
        phrasings = [entry.question, *entry.alt_questions, *(d["text"] for d in learned)]
        self.writer.learn_phrasings(into, phrasings, f"merged:{entry_id}", editor, Counter())
        self.writer.apply(entry, learned, EntryStatus.retired, Provenance.merged, editor, note or f"into {into}")
        return self.entry_view(entry_id)

    @writes
    def rollback(self, entry_id: str, version: int, editor: str, note: str | None = None) -> EntryView:
        """Restore version ``version`` exactly (text, phrasings, status), as a new version."""
        self.writer.state(entry_id)
        target = next((v for v in self.store.entries.versions(entry_id) if v.version == version), None)
        if target is None:
            raise NotFound(f"entry {entry_id!r} has no version {version}")
        entry, learned, status = from_snapshot(target.snapshot)
        current = self.store.entries.get(entry_id)
        if current is not None:  # the owning file stays the owner
            entry = entry.model_copy(update={"source": current.source})
        self.writer.apply(entry, learned, EntryStatus(status), f"rollback to v{version}", editor, note)
        return self.entry_view(entry_id)

    def act_on_entry(self, entry_id: str, action: str, editor: str, question: str | None = None,
                     answer: str | None = None, into: str | None = None, version: int | None = None,
                     note: str | None = None) -> EntryView:
        kind: EntryActionKind = _action(EntryActionKind, action)
        if kind == EntryActionKind.edit:
            return self.edit_entry(entry_id, editor, question, answer, note)
        if kind == EntryActionKind.dismiss:
            return self.dismiss(entry_id, editor, note)
        if kind == EntryActionKind.retire:
            return self.retire(entry_id, editor, note)
        if kind == EntryActionKind.merge:
            if not into:
                raise BadInput("merge needs 'into': the entry that takes over the phrasings")
            return self.merge_entry(entry_id, into, editor, note)
        if version is None:
            raise BadInput("rollback needs 'version'")
        return self.rollback(entry_id, version, editor, note)
