"""Review routes: candidates (agents read, editors act), entries and flags, gaps (editor role and up)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from ..deps import Agent, Editor, Service
from ..schemas import CandidateOut, EntryAction, EntryOut, FlaggedOut, ReviewAction

router = APIRouter(prefix="/v1", tags=["review"])

ItemId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/candidates", response_model=list[CandidateOut])
def candidates(service: Service, caller: Agent,
               status: Annotated[str, Query(max_length=20, pattern=r"^[a-z_]+$")] = "review",
               limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[CandidateOut]:
    """Candidate entries (from resolutions and tickets), most frequent first; status=all for every one."""
    return service.curator.candidates(None if status == "all" else status, limit)


@router.get("/candidates/{candidate_id}", response_model=CandidateOut)
def candidate(candidate_id: ItemId, service: Service, caller: Agent) -> CandidateOut:
    return service.curator.candidate(candidate_id)


@router.post("/candidates/{candidate_id}", response_model=CandidateOut)
def review_candidate(candidate_id: ItemId, body: ReviewAction, service: Service, caller: Editor) -> CandidateOut:
    """approve (optionally with edited text), edit, merge (into a candidate or an entry) or reject."""
    return service.curator.act_on_candidate(candidate_id, body.action, body.editor, body.question, body.answer,
                                            body.into, body.note)


@router.get("/entries/flagged", response_model=list[FlaggedOut])
def flagged(service: Service, caller: Editor) -> list[FlaggedOut]:
    """Entries demoted by repeated not-helpful feedback, with the evidence."""
    return service.curator.flagged()


@router.get("/entries/{entry_id}", response_model=EntryOut)
def entry(entry_id: ItemId, service: Service, caller: Editor) -> EntryOut:
    """The entry with its learned phrasings and version history."""
    return service.curator.entry_out(entry_id)


@router.post("/entries/{entry_id}", response_model=EntryOut)
def act_on_entry(entry_id: ItemId, body: EntryAction, service: Service, caller: Editor) -> EntryOut:
    """edit, dismiss (a flag), retire, merge (into another entry) or rollback (to a version)."""
    return service.curator.act_on_entry(entry_id, body.action, body.editor, body.question, body.answer,
                                        body.into, body.version, body.note)


@router.get("/gaps")
def gaps(service: Service, caller: Editor, days: Annotated[int, Query(ge=1, le=365)] = 30,
         limit: Annotated[int, Query(ge=1, le=200)] = 20,
         max_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5) -> list[dict[str, Any]]:
    """Clusters of recent handed-off and low-confidence questions (answered below ``max_confidence``), largest first."""
    return service.gaps(days=days, max_confidence=max_confidence, limit=limit)
