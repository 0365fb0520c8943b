"""Curation: everything that changes the knowledge base after ingestion, from traffic and from editors.

- feedback: a confirmed question becomes a phrasing of its entry; repeated not-helpful votes on an entry
  for similar questions demote that pairing and flag the entry for review;
- agents' resolutions: phrasings of an existing entry, or candidates merged by answer/question (with
  counts), promoted by policy or by an editor;
- review: approve / edit / merge / reject candidates; edit / dismiss / retire / merge / roll back entries.

Every change to an entry goes through ``Ingestor.apply_entry``: index first, then the record with a new
version (provenance, who, when), so it is live at once, needs no rebuild, and can be rolled back. Every text
learned is PII-masked and screened for prompt injection before it is stored (``learning.screen``)."""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from core.errors import BadInput, NotFound
from core.ids import content_hash, normalize_for_hash
from core.meta_keys import MetaKey
from core.models import KnowledgeEntry, SearchHit
from core.settings import Settings
from core.store import CandidateRow, DemotionRow, FeedbackRow, ResolutionRow, Store, VersionRecord
from core.text import detect_lang
from ingest.dedupe import jaccard
from ingest.pii import PiiMasker
from ingest.pipeline import Ingestor
from ingest.units import from_snapshot, learned_of, snapshot
from retrieval.embed import Embedder

from .records import (
    CandidateView,
    EntryView,
    Feedback,
    FeedbackOutcome,
    FlaggedEntry,
    RecordStatus,
    Resolution,
    ResolutionOutcome,
    VersionView,
)
from .screen import screen

CURATED_SOURCE = "curated"
"""Source of entries created from candidates (not owned by any file)."""
GENERATION_KEY = MetaKey.generation
PHRASING_DUPLICATE = 0.8
"""Shingle Jaccard at which a learned question counts as a phrasing the entry already has."""
SAME_ANSWER = 0.6
"""Shingle Jaccard at which two agents' answers count as the same answer."""
SAME_QUESTION = 0.8

Searcher = Callable[[str], list[SearchHit]]
P = ParamSpec("P")
R = TypeVar("R")


def _writes(method: Callable[Concatenate[Curator, P], R]) -> Callable[Concatenate[Curator, P], R]:
    """Changes to the knowledge run one at a time in this process (read-modify-write of an entry's
    phrasings and version numbers); replicas sharing a database rely on its transactions."""

    @functools.wraps(method)
    def wrapper(self: Curator, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._write:
            return method(self, *args, **kwargs)

    return wrapper


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def answer_groups(answers: Sequence[str]) -> list[list[int]]:
    """Answers grouped greedily by near-identity, largest group first (pure)."""
    groups: list[list[int]] = []
    for i, a in enumerate(answers):
        for g in groups:
            if normalize_for_hash(a) == normalize_for_hash(answers[g[0]]) or jaccard(a, answers[g[0]]) >= SAME_ANSWER:
                g.append(i)
                break
        else:
            groups.append([i])
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def consistency(answers: Sequence[str]) -> tuple[str, float]:
    """The proposed answer (most frequent text of the largest agreeing group) and that group's share."""
    if not answers:
        return "", 0.0
    best = answer_groups(answers)[0]
    text = Counter(answers[i] for i in best).most_common(1)[0][0]
    return text, len(best) / len(answers)


class Curator:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, masker: PiiMasker,
                 ingestor: Callable[[], Ingestor], search: Searcher) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.masker = masker
        self._ingestor = ingestor
        self._search = search
        self._lock = threading.Lock()
        self._write = threading.RLock()
        self._demotions: dict[str, np.ndarray] = {}
        self._generation: Any = None
        self._checked = 0.0
        self._load()
        self._vectors: dict[str, np.ndarray] = {}

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
        fusion."""
        self.store.meta.set(GENERATION_KEY, {"at": time.time_ns()})
        self._checked = 0.0

    @property
    def generation(self) -> Any:
        """The generation this process last read (``poll`` refreshes it): the answer cache's key part."""
        return self._generation

    def poll(self, max_age_s: float = 1.0) -> bool:
        """Re-read shared state (demotions) when another process or call changed it; checked at most every
        ``max_age_s``. True when it changed (the caller reloads what it holds, e.g. the calibration)."""
        now = time.monotonic()
        if now - self._checked < max_age_s:
            return False
        with self._lock:
            self._checked = now
            if self.store.meta.get(GENERATION_KEY) == self._generation:
                return False
            self._load()
            return True

    def _load(self) -> None:
        generation = self.store.meta.get(GENERATION_KEY)
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

    # -- entries ------------------------------------------------------------------------------
    def _state(self, entry_id: str) -> tuple[KnowledgeEntry, list[dict[str, str]], str]:
        row = self.store.entries.state(entry_id)
        if row is None:
            raise NotFound(f"no entry {entry_id!r}")
        return row.entry, learned_of(self.store.entries.units(entry_id)), row.status

    def _apply(self, entry: KnowledgeEntry, learned: list[dict[str, str]], status: str, provenance: str,
               actor: str | None = None, note: str | None = None) -> None:
        """``Ingestor.apply_entry``, after giving an entry that has no history yet (imported by an earlier
        version) its current state as version 1, so a rollback can always go back to it."""
        if self.store.entries.state(entry.id) is not None:
            self.baseline([entry.id])
        self._ingestor().apply_entry(entry, learned, status, provenance, actor, note)

    def _screen_phrasings(self, entry: KnowledgeEntry, learned: list[dict[str, str]], questions: Sequence[str],
                          origin: str, rejected: Counter[str]) -> list[dict[str, str]]:
        """The questions that may become new phrasings of ``entry`` (masked, screened, not near-duplicates)."""
        existing = [entry.question, *entry.alt_questions, *(d["text"] for d in learned)]
        new: list[dict[str, str]] = []
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
        entry, learned, status = self._state(entry_id)
        if status == "retired":
            raise BadInput(f"entry {entry_id!r} is retired")
        new = self._screen_phrasings(entry, learned, questions, origin, rejected)
        if new:
            self._apply(entry, learned + new, status, "learned", actor,
                                         f"{len(new)} phrasing(s) from {origin}")
        return len(new)

    # -- feedback -----------------------------------------------------------------------------
    @_writes
    def feedback(self, body: Feedback) -> FeedbackOutcome:
        """Record feedback on an answer (idempotent on ``feedback_id``) and learn from it."""
        existing = self.store.learning.get_feedback(body.feedback_id)
        if existing is not None:
            return FeedbackOutcome(feedback_id=body.feedback_id, status=RecordStatus.duplicate,
                                   outcome=existing.outcome)
        ask = self.store.asks.get(body.request_id)
        if ask is None:
            raise NotFound(f"no answer with request_id {body.request_id!r}")
        answered = ask.top_id if ask.decision == "answer" and ask.top_id else None
        answered_entry = answered if answered and self.store.entries.get(answered) is not None else None
        entry_id = body.entry_id or (answered_entry if body.helpful else None)
        if entry_id is not None and self.store.entries.get(entry_id) is None:
            raise BadInput(f"unknown entry_id {entry_id!r}")
        outcomes: list[str] = []
        if entry_id is not None and self._state(entry_id)[2] == "retired":
            outcomes.append(f"entry {entry_id} is retired: nothing learned")
        elif entry_id is not None:
            rejected: Counter[str] = Counter()
            if self.learn_phrasings(entry_id, [ask.question], f"feedback:{body.feedback_id}", body.user, rejected):
                outcomes.append(f"learned phrasing for {entry_id}")
            else:
                outcomes.append(next(iter(rejected)) if rejected else "recorded")
        self.store.learning.add_feedback(FeedbackRow(
            id=body.feedback_id, request_id=body.request_id, helpful=body.helpful, entry_id=entry_id,
            comment=body.comment, user=body.user, outcome="", answered_id=answered_entry))
        if not body.helpful and answered_entry is not None and answered_entry != body.entry_id:
            demoted = self._maybe_demote(answered_entry)
            if demoted:
                outcomes.append(f"demoted {answered_entry} for {demoted} similar questions, flagged for review")
        outcome = "; ".join(outcomes) or "recorded"
        self.store.learning.set_feedback_outcome(body.feedback_id, outcome)
        return FeedbackOutcome(feedback_id=body.feedback_id, status=RecordStatus.recorded, outcome=outcome)

    def _maybe_demote(self, entry_id: str) -> int:
        """Demote the entry for the newest not-helpful question's cluster once it holds ``demote_after``
        not-helpful votes not yet behind a demotion; the number of votes, or 0."""
        covered = {f for d in self.store.learning.demotions(entry_id) for f in d.feedback_ids}
        pending = [(f, a) for f, a in self.store.learning.negative_feedback(entry_id)
                   if not f.helpful and f.id not in covered][-100:]
        if len(pending) < self.settings.demote_after:
            return 0
        vectors = self._embed([a.question for _, a in pending])
        sims = vectors @ vectors[-1]
        members = [i for i in range(len(pending)) if sims[i] >= self.settings.demote_similarity]
        if len(members) < self.settings.demote_after:
            return 0
        self.store.learning.add_demotion(DemotionRow(
            entry_id=entry_id, questions=list(dict.fromkeys(pending[i][1].question for i in members)),
            vectors=[vectors[i].round(5).tolist() for i in members],
            feedback_ids=[pending[i][0].id for i in members]))
        self.store.entries.set_status(entry_id, "flagged", only_if="live")  # an editor looks at it
        self.bump()
        return len(members)

    # -- resolutions --------------------------------------------------------------------------
    @_writes
    def resolve(self, body: Resolution) -> ResolutionOutcome:
        """An agent's resolution: phrasings of an existing entry, or a candidate (merged with others that
        give the same answer or ask the same thing), promoted when the policy allows."""
        existing = self.store.learning.get_resolution(body.resolution_id)
        if existing is not None:
            cand = self.store.learning.get_candidate(existing.candidate_id) if existing.candidate_id else None
            return ResolutionOutcome(resolution_id=existing.id, status=RecordStatus.duplicate, outcome=existing.outcome,
                                      entry_id=existing.entry_id, candidate_id=existing.candidate_id,
                                      count=cand.count if cand else None)
        questions = list(body.questions)
        if body.request_id:
            ask = self.store.asks.get(body.request_id)
            if ask is None:
                raise NotFound(f"no answer with request_id {body.request_id!r}")
            if not questions:
                questions = [ask.question]
        questions = [q for q in (q.strip() for q in questions) if q]
        if not questions:
            raise BadInput("a resolution needs the customer's question(s) or the request_id of the handed-off ask")
        if body.entry_id is not None and self.store.entries.get(body.entry_id) is None:
            raise BadInput(f"unknown entry_id {body.entry_id!r}")
        rejected: Counter[str] = Counter()
        answer, reason = screen(body.answer, self.masker, min_chars=1)
        kept: list[str] = []
        for q in questions:
            text, why = screen(q, self.masker)
            if text is None:
                rejected[why] += 1
            else:
                kept.append(text)
        response = ResolutionOutcome(resolution_id=body.resolution_id, status=RecordStatus.recorded, outcome="",
                                      rejected=dict(rejected))
        origin = f"resolution:{body.resolution_id}"
        if answer is None:
            response.outcome = reason
        elif not kept:
            response.outcome = next(iter(rejected))
        else:
            target = body.entry_id or self._entry_answering(kept, answer)
            if target is not None:
                response.learned = self.learn_phrasings(target, kept, origin, body.agent, rejected)
                response.outcome = "phrasing" if body.entry_id else "duplicate_entry"
                response.entry_id = target
            else:
                cand = self._merge_candidate(body, kept, answer)
                response.candidate_id, response.count, response.outcome = cand.id, cand.count, "candidate"
                if self._policy_allows(cand):
                    response.entry_id = self.approve(cand.id, "policy:auto").entry_id
                    response.outcome = "promoted"
            response.rejected = dict(rejected)
        self.store.learning.add_resolution(ResolutionRow(
            id=body.resolution_id, request_id=body.request_id, questions=kept, answer=answer or "",
            team=body.team, tags=list(body.tags), agent=body.agent, entry_id=response.entry_id,
            candidate_id=response.candidate_id, outcome=response.outcome))
        return response

    def _entry_answering(self, questions: Sequence[str], answer: str) -> str | None:
        """An existing entry that already says what the agent said, for one of these questions."""
        for q in questions:
            for hit in self._search(q)[:3]:
                if hit.entry_id and hit.answer and jaccard(answer, hit.answer) >= SAME_ANSWER:
                    return hit.entry_id
        return None

    def _merge_candidate(self, body: Resolution, questions: list[str], answer: str) -> CandidateRow:
        evidence = [{"resolution_id": body.resolution_id, "question": q, "answer": answer, "agent": body.agent or "",
                     "at": _now().isoformat()} for q in questions]
        match = None
        for c in self.store.learning.candidates("review"):
            answers = [c.answer, *(e["answer"] for e in (c.evidence or []))]
            if any(jaccard(answer, a) >= SAME_ANSWER for a in dict.fromkeys(answers)) or any(
                    jaccard(q, ex) >= SAME_QUESTION for q in questions for ex in c.examples):
                match = c
                break
        if match is None:
            match = CandidateRow(id=f"res-{content_hash(body.resolution_id)}", source="resolutions",
                                 question=questions[0], answer=answer, count=0, examples=[], tickets=[],
                                 team=body.team, status="review", evidence=[], tags=[])
        match.count = (match.count or 0) + 1
        match.examples = list(dict.fromkeys([*match.examples, *questions]))[:50]
        match.evidence = [*(match.evidence or []), *evidence][-200:]
        match.tags = sorted({*(match.tags or []), *body.tags})
        match.team = match.team or body.team
        proposed, _ = consistency(self._answers(match))
        match.answer = proposed or match.answer
        self.store.learning.save_candidate(match)
        return match

    @staticmethod
    def _answers(c: CandidateRow) -> list[str]:
        """One answer per resolution (or the mined answer, for candidates from tickets)."""
        per_resolution = {e["resolution_id"]: e["answer"] for e in (c.evidence or [])}
        return list(per_resolution.values()) or [c.answer] * max(c.count, 1)

    def _policy_allows(self, c: CandidateRow) -> bool:
        if self.settings.promote_policy != "auto":
            return False
        answers = self._answers(c)
        _, share = consistency(answers)
        return len(answers) >= self.settings.promote_min_resolutions and share >= self.settings.promote_min_consistency

    # -- review: candidates -------------------------------------------------------------------
    def candidate_out(self, c: CandidateRow) -> CandidateView:
        answers = self._answers(c)
        _, share = consistency(answers)
        distinct = [a for a, _ in Counter(answers).most_common(5)]
        return CandidateView(id=c.id, source=c.source, status=c.status, question=c.question, answer=c.answer,
                            count=c.count, consistency=round(share, 3), examples=list(c.examples)[:10],
                            answers=distinct, team=c.team, tags=list(c.tags or []), entry_id=c.entry_id,
                            reviewed_by=c.reviewed_by, note=c.note)

    def candidates(self, status: str | None = "review", limit: int = 50) -> list[CandidateView]:
        return [self.candidate_out(c) for c in self.store.learning.candidates(status)[:limit]]

    def candidate(self, candidate_id: str) -> CandidateView:
        return self.candidate_out(self._candidate(candidate_id, open_only=False))

    def _candidate(self, candidate_id: str, open_only: bool = True) -> CandidateRow:
        c = self.store.learning.get_candidate(candidate_id)
        if c is None:
            raise NotFound(f"no candidate {candidate_id!r}")
        if open_only and c.status != "review":
            raise BadInput(f"candidate {candidate_id!r} is already {c.status}")
        return c

    def _reviewed(self, c: CandidateRow, status: str, editor: str, note: str | None = None) -> CandidateView:
        c.status, c.reviewed_by, c.reviewed_at = status, editor, _now()
        if note:
            c.note = note
        self.store.learning.save_candidate(c)
        return self.candidate_out(c)

    def _screened(self, text: str, what: str, min_chars: int = 4) -> str:
        clean, reason = screen(text, self.masker, min_chars=min_chars)
        if clean is None:
            raise BadInput(f"{what} rejected: {reason}")
        return clean

    @_writes
    def approve(self, candidate_id: str, editor: str, question: str | None = None,
                answer: str | None = None) -> CandidateView:
        """The candidate becomes a live entry (its examples are the phrasings), with a first version."""
        c = self._candidate(candidate_id)
        q = self._screened(question, "question") if question else c.question
        a = self._screened(answer, "answer", 1) if answer else c.answer
        phrasings: list[str] = [q]
        for ex in c.examples:
            if all(jaccard(ex, p) < PHRASING_DUPLICATE for p in phrasings):
                phrasings.append(ex)
        entry = KnowledgeEntry(
            id=f"kb-{content_hash(c.id)}", question=q, answer=a, alt_questions=tuple(phrasings[1:20]),
            tags=tuple(c.tags or ()), lang=detect_lang(q), source=CURATED_SOURCE,
            metadata={"team": c.team, "candidate": c.id, "resolutions": c.count},
        )
        provenance = "promoted" if editor.startswith("policy:") else "approved"
        self._apply(entry, [], "live", provenance, editor,
                                     f"from candidate {c.id} ({c.count} resolutions/tickets)")
        c.entry_id = entry.id
        return self._reviewed(c, "approved", editor)

    @_writes
    def edit_candidate(self, candidate_id: str, editor: str, question: str | None, answer: str | None,
                       note: str | None = None) -> CandidateView:
        c = self._candidate(candidate_id)
        if question:
            c.question = self._screened(question, "question")
        if answer:
            c.answer = self._screened(answer, "answer", 1)
            c.evidence = [{**e, "answer": c.answer} for e in (c.evidence or [])]
        return self._reviewed(c, "review", editor, note)

    @_writes
    def reject(self, candidate_id: str, editor: str, note: str | None = None) -> CandidateView:
        return self._reviewed(self._candidate(candidate_id), "rejected", editor, note)

    @_writes
    def merge_candidate(self, candidate_id: str, into: str, editor: str) -> CandidateView:
        """Merge into another open candidate (counts, examples, evidence add up) or into an entry (the
        examples become its phrasings)."""
        c = self._candidate(candidate_id)
        if into == candidate_id:
            raise BadInput("cannot merge a candidate into itself")
        target = self.store.learning.get_candidate(into)
        if target is not None:
            if target.status != "review":
                raise BadInput(f"candidate {into!r} is already {target.status}")
            target.count += c.count
            target.examples = list(dict.fromkeys([*target.examples, *c.examples]))[:50]
            target.tickets = list(dict.fromkeys([*target.tickets, *c.tickets]))
            target.evidence = [*(target.evidence or []), *(c.evidence or [])][-200:]
            target.tags = sorted({*(target.tags or []), *(c.tags or [])})
            self.store.learning.save_candidate(target)
        elif self.store.entries.get(into) is not None:
            self.learn_phrasings(into, [c.question, *c.examples], f"candidate:{c.id}", editor, Counter())
            c.entry_id = into
        else:
            raise NotFound(f"no open candidate or entry {into!r}")
        return self._reviewed(c, "merged", editor, f"into {into}")

    def act_on_candidate(self, candidate_id: str, action: str, editor: str, question: str | None = None,
                         answer: str | None = None, into: str | None = None, note: str | None = None) -> CandidateView:
        if action == "approve":
            return self.approve(candidate_id, editor, question, answer)
        if action == "edit":
            return self.edit_candidate(candidate_id, editor, question, answer, note)
        if action == "reject":
            return self.reject(candidate_id, editor, note)
        if action == "merge":
            if not into:
                raise BadInput("merge needs 'into': a candidate or entry id")
            return self.merge_candidate(candidate_id, into, editor)
        raise BadInput(f"unknown action {action!r}")

    # -- review: entries ----------------------------------------------------------------------
    def flagged(self) -> list[FlaggedEntry]:
        out = []
        for e in self.store.entries.with_status("flagged"):
            demotions = self.store.learning.demotions(e.id)
            feedback = {f.id: f for f, _ in self.store.learning.negative_feedback(e.id)}
            ids = [f for d in demotions for f in d.feedback_ids]
            out.append(FlaggedEntry(
                entry_id=e.id, question=e.question, answer=e.answer, negative=len(ids),
                demoted_for=list(dict.fromkeys(q for d in demotions for q in d.questions))[:10],
                comments=[c for c in (feedback[f].comment for f in ids if f in feedback) if c][:10]))
        return sorted(out, key=lambda f: -f.negative)

    def entry_out(self, entry_id: str) -> EntryView:
        entry, learned, status = self._state(entry_id)
        versions = []
        for v in self.store.entries.versions(entry_id):
            e, lv, st = from_snapshot(v.snapshot)
            versions.append(VersionView(version=v.version, provenance=v.provenance, actor=v.actor, note=v.note,
                                       created_at=v.created_at.isoformat() if v.created_at else "",
                                       question=e.question, answer=e.answer,
                                       status=st, learned=[d["text"] for d in lv]))
        return EntryView(id=entry.id, source=entry.source, status=status, question=entry.question, answer=entry.answer,
                        alt_questions=list(entry.alt_questions), learned=[d["text"] for d in learned],
                        versions=versions)

    @_writes
    def edit_entry(self, entry_id: str, editor: str, question: str | None, answer: str | None,
                   note: str | None = None) -> EntryView:
        """A new version with the editor's text; the entry goes live and its demotions end."""
        entry, learned, _ = self._state(entry_id)
        update: dict[str, Any] = {}
        if question:
            update["question"] = self._screened(question, "question")
        if answer:
            update["answer"] = self._screened(answer, "answer", 1)
        if not update:
            raise BadInput("edit needs a new question or answer")
        self._apply(entry.model_copy(update=update), learned, "live", "edited", editor, note)
        if self.store.learning.clear_demotions([entry_id]):
            self.bump()
        return self.entry_out(entry_id)

    @_writes
    def dismiss(self, entry_id: str, editor: str, note: str | None = None) -> EntryView:
        """The entry was right after all: its demotions end and it goes live unchanged."""
        entry, learned, _ = self._state(entry_id)
        self.store.learning.clear_demotions([entry_id])
        self._apply(entry, learned, "live", "flag dismissed", editor, note)
        self.bump()
        return self.entry_out(entry_id)

    @_writes
    def retire(self, entry_id: str, editor: str, note: str | None = None) -> EntryView:
        """Out of the live index (kept in the record and its history: a rollback brings it back)."""
        entry, learned, _ = self._state(entry_id)
        self._apply(entry, learned, "retired", "retired", editor, note)
        return self.entry_out(entry_id)

    @_writes
    def merge_entry(self, entry_id: str, into: str, editor: str, note: str | None = None) -> EntryView:
        """``entry_id`` is retired and its phrasings become phrasings of ``into``."""
        if into == entry_id:
            raise BadInput("cannot merge an entry into itself")
        entry, learned, _ = self._state(entry_id)
        self._state(into)
        phrasings = [entry.question, *entry.alt_questions, *(d["text"] for d in learned)]
        self.learn_phrasings(into, phrasings, f"merged:{entry_id}", editor, Counter())
        self._apply(entry, learned, "retired", "merged", editor, note or f"into {into}")
        return self.entry_out(entry_id)

    @_writes
    def rollback(self, entry_id: str, version: int, editor: str, note: str | None = None) -> EntryView:
        """Restore version ``version`` exactly (text, phrasings, status), as a new version."""
        self._state(entry_id)
        target = next((v for v in self.store.entries.versions(entry_id) if v.version == version), None)
        if target is None:
            raise NotFound(f"entry {entry_id!r} has no version {version}")
        entry, learned, status = from_snapshot(target.snapshot)
        current = self.store.entries.get(entry_id)
        if current is not None:  # the owning file stays the owner
            entry = entry.model_copy(update={"source": current.source})
        self._apply(entry, learned, status, f"rollback to v{version}", editor, note)
        return self.entry_out(entry_id)

    def act_on_entry(self, entry_id: str, action: str, editor: str, question: str | None = None,
                     answer: str | None = None, into: str | None = None, version: int | None = None,
                     note: str | None = None) -> EntryView:
        if action == "edit":
            return self.edit_entry(entry_id, editor, question, answer, note)
        if action == "dismiss":
            return self.dismiss(entry_id, editor, note)
        if action == "retire":
            return self.retire(entry_id, editor, note)
        if action == "merge":
            if not into:
                raise BadInput("merge needs 'into': the entry that takes over the phrasings")
            return self.merge_entry(entry_id, into, editor, note)
        if action == "rollback":
            if version is None:
                raise BadInput("rollback needs 'version'")
            return self.rollback(entry_id, version, editor, note)
        raise BadInput(f"unknown action {action!r}")

    def baseline(self, entry_ids: Sequence[str] | None = None) -> int:
        """Give entries imported before version history existed a first version (idempotent)."""
        ids = list(entry_ids) if entry_ids is not None else [e.id for e in self.store.entries.all()]
        have = self.store.entries.latest_snapshots(ids)
        n = 0
        for entry_id in ids:
            if entry_id not in have:
                entry, learned, status = self._state(entry_id)
                self.store.entries.add_version(
                    VersionRecord(entry_id, snapshot(entry, learned, status), "imported", entry.source))
                n += 1
        return n
