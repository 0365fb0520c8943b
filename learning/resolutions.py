"""Agents' resolutions of handed-off conversations: phrasings of an existing entry, or candidates merged by
answer/question, promoted automatically only when agreeing resolutions come from enough distinct callers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from core.caller import Caller
from core.errors import BadInput, NotFound
from core.ids import content_hash, normalize_for_hash
from core.models import SearchHit
from core.settings import Settings
from core.store import CandidateRow, ResolutionRow, Store
from ingest.dedupe import jaccard
from ingest.pii import PiiMasker

from .records import CandidateStatus, RecordStatus, Resolution, ResolutionOutcome
from .screen import screen
from .versions import EntryWriter, writes

SAME_ANSWER = 0.6
"""Shingle Jaccard at which two agents' answers count as the same answer."""
SAME_QUESTION = 0.8
RESOLUTIONS_SOURCE = "resolutions"

Searcher = Callable[[str], list[SearchHit]]
Approve = Callable[[str, str], Any]
"""(candidate id, editor) -> the approved candidate (``Review.approve``)."""


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


def resolutions_of(c: CandidateRow) -> list[tuple[str, str]]:
    """(answer, caller) per resolution merged into the candidate; a candidate mined from tickets gives its
    answer once per ticket (callers: the tickets)."""
    per_resolution = {e["resolution_id"]: (e["answer"], e.get("caller") or f"resolution:{e['resolution_id']}")
                      for e in (c.evidence or [])}
    if per_resolution:
        return list(per_resolution.values())
    return [(c.answer, f"ticket:{i}") for i in range(max(c.count, 1))]


def answers_of(c: CandidateRow) -> list[str]:
    """One answer per resolution (or the mined answer, for candidates from tickets)."""
    return [a for a, _ in resolutions_of(c)]


def agreeing_callers(c: CandidateRow) -> int:
    """Distinct callers behind the candidate's largest group of agreeing answers."""
    pairs = resolutions_of(c)
    if not pairs:
        return 0
    best = answer_groups([a for a, _ in pairs])[0]
    return len({pairs[i][1] for i in best})


class ResolutionLearner:
    def __init__(self, settings: Settings, store: Store, masker: PiiMasker, writer: EntryWriter, search: Searcher,
                 approve: Approve) -> None:
        self.settings = settings
        self.store = store
        self.masker = masker
        self.writer = writer
        self._search = search
        self._approve = approve

    @writes
    def resolve(self, body: Resolution, caller: Caller) -> ResolutionOutcome:
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
        agent = body.agent or caller.name
        if answer is None:
            response.outcome = reason
        elif not kept:
            response.outcome = next(iter(rejected))
        else:
            target = body.entry_id or self._entry_answering(kept, answer)
            if target is not None:
                response.learned = self.writer.learn_phrasings(target, kept, origin, agent, rejected)
                response.outcome = "phrasing" if body.entry_id else "duplicate_entry"
                response.entry_id = target
            else:
                cand = self._merge_candidate(body, caller, kept, answer)
                response.candidate_id, response.count, response.outcome = cand.id, cand.count, "candidate"
                if self.policy_allows(cand):
                    response.entry_id = self._approve(cand.id, "policy:auto").entry_id
                    response.outcome = "promoted"
            response.rejected = dict(rejected)
        self.store.learning.add_resolution(ResolutionRow(
            id=body.resolution_id, request_id=body.request_id, questions=kept, answer=answer or "",
            team=body.team, tags=list(body.tags), agent=body.agent, entry_id=response.entry_id,
            candidate_id=response.candidate_id, outcome=response.outcome, caller_key=caller.key_id))
        return response

    def _entry_answering(self, questions: Sequence[str], answer: str) -> str | None:
        """An existing entry that already says what the agent said, for one of these questions."""
        for q in questions:
            for hit in self._search(q)[:3]:
                if hit.entry_id and hit.answer and jaccard(answer, hit.answer) >= SAME_ANSWER:
                    return hit.entry_id
        return None

    def _merge_candidate(self, body: Resolution, caller: Caller, questions: list[str], answer: str) -> CandidateRow:
        at = dt.datetime.now(dt.UTC).isoformat()
        evidence = [{"resolution_id": body.resolution_id, "question": q, "answer": answer, "agent": body.agent or "",
                     "caller": caller.key_id, "at": at} for q in questions]
        match = None
        for c in self.store.learning.candidates(CandidateStatus.review):
            answers = [c.answer, *(e["answer"] for e in (c.evidence or []))]
            if any(jaccard(answer, a) >= SAME_ANSWER for a in dict.fromkeys(answers)) or any(
                    jaccard(q, ex) >= SAME_QUESTION for q in questions for ex in c.examples):
                match = c
                break
        if match is None:
            match = CandidateRow(id=f"res-{content_hash(body.resolution_id)}", source=RESOLUTIONS_SOURCE,
                                 question=questions[0], answer=answer, count=0, examples=[], tickets=[],
                                 team=body.team, status=CandidateStatus.review, evidence=[], tags=[])
        match.count = (match.count or 0) + 1
        match.examples = list(dict.fromkeys([*match.examples, *questions]))[:50]
        match.evidence = [*(match.evidence or []), *evidence][-200:]
        match.tags = sorted({*(match.tags or []), *body.tags})
        match.team = match.team or body.team
        proposed, _ = consistency(answers_of(match))
        match.answer = proposed or match.answer
        self.store.learning.save_candidate(match)
        return match

    def policy_allows(self, c: CandidateRow) -> bool:
        """'auto' promotes a candidate whose answers agree (``promote_min_consistency``) and whose agreeing
        resolutions come from ``promote_min_resolutions`` distinct callers (not distinct resolution ids)."""
        if self.settings.promote_policy != "auto":
            return False
        _, share = consistency(answers_of(c))
        return agreeing_callers(c) >= self.settings.promote_min_resolutions and \
            share >= self.settings.promote_min_consistency
