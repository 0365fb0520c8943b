"""Domain records of the learning loop: what feedback, resolutions and review take and give back."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class EntryStatus(StrEnum):
    """Where an entry stands: answering, demoted and waiting for review, or out of the answer index."""

    live = "live"
    flagged = "flagged"
    retired = "retired"


class CandidateStatus(StrEnum):
    review = "review"
    approved = "approved"
    promoted = "promoted"
    rejected = "rejected"
    merged = "merged"


class Provenance(StrEnum):
    """Why a version of an entry exists (rollbacks are recorded as ``rollback to vN``)."""

    imported = "imported"
    learned = "learned"
    approved = "approved"
    promoted = "promoted"
    edited = "edited"
    dismissed = "flag dismissed"
    retired = "retired"
    merged = "merged"


class CandidateAction(StrEnum):
    approve = "approve"
    edit = "edit"
    merge = "merge"
    reject = "reject"


class EntryActionKind(StrEnum):
    edit = "edit"
    dismiss = "dismiss"
    retire = "retire"
    merge = "merge"
    rollback = "rollback"


class RecordStatus(StrEnum):
    """Outcome of an idempotent write: new, or a repeat of an id already recorded."""

    recorded = "recorded"
    duplicate = "duplicate"


class Feedback(BaseModel):
    """A customer's or agent's vote on an answer given for ``request_id``."""

    feedback_id: str
    request_id: str
    helpful: bool
    entry_id: str | None = None
    comment: str | None = None
    user: str | None = None


class FeedbackOutcome(BaseModel):
    feedback_id: str
    status: RecordStatus
    outcome: str


class Resolution(BaseModel):
    """An agent's resolution of a handed-off conversation."""

    resolution_id: str
    request_id: str | None = None
    questions: list[str] = Field(default_factory=list)
    answer: str
    team: str | None = None
    tags: list[str] = Field(default_factory=list)
    agent: str | None = None
    entry_id: str | None = None


class ResolutionOutcome(BaseModel):
    resolution_id: str
    status: RecordStatus
    outcome: str = Field(description="phrasing | duplicate_entry | candidate | promoted | rejected_injection | "
                                     "rejected_pii")
    entry_id: str | None = None
    candidate_id: str | None = None
    count: int | None = Field(default=None, description="Resolutions merged into the candidate so far.")
    learned: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)


class CandidateView(BaseModel):
    id: str
    source: str
    status: str
    question: str
    answer: str
    count: int
    consistency: float = Field(description="Share of the resolutions whose answer agrees with the proposed one.")
    examples: list[str]
    answers: list[str] = Field(default_factory=list, description="Distinct answers given, most frequent first.")
    team: str | None = None
    tags: list[str] = Field(default_factory=list)
    entry_id: str | None = None
    reviewed_by: str | None = None
    note: str | None = None


class FlaggedEntry(BaseModel):
    entry_id: str
    question: str
    answer: str
    negative: int = Field(description="Not-helpful votes behind the demotions.")
    demoted_for: list[str] = Field(description="Example questions the entry is no longer given for.")
    comments: list[str] = Field(default_factory=list)


class VersionView(BaseModel):
    version: int
    provenance: str
    actor: str | None
    note: str | None
    created_at: str
    question: str
    answer: str
    status: str
    learned: list[str]


class EntryView(BaseModel):
    id: str
    source: str
    status: str
    question: str
    answer: str
    alt_questions: list[str]
    learned: list[str]
    versions: list[VersionView]
