"""Wire models of the HTTP API (and of ``kb ask --json``). Kept stable: chatbots and evaluators use them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.models import Filters

from .emotion import Emotion
from .routing import Route

Decision = Literal["answer", "clarify", "handoff"]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=100)
    filters: Filters | None = None


class SearchHitOut(BaseModel):
    entry_id: str | None = None
    doc_id: str | None = None
    chunk_id: str
    text: str
    score: float
    source: str
    question: str | None = None
    title: str | None = None
    section: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    hits: list[SearchHitOut]
    request_id: str
    latency_ms: float


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    filters: Filters | None = None
    customer: dict[str, Any] | None = Field(default=None, description="Customer profile: tier, channel, language...")
    session_id: str | None = None


class Citation(BaseModel):
    entry_id: str | None = None
    doc_id: str | None = None
    chunk_id: str
    source: str
    title: str | None = None
    section: str | None = None
    snippet: str
    char_start: int | None = None
    char_end: int | None = None


class Related(BaseModel):
    entry_id: str | None = None
    doc_id: str | None = None
    question: str
    score: float


class AskResponse(BaseModel):
    answer: str | None
    decision: Decision
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[Citation] = Field(default_factory=list)
    related: list[Related] = Field(default_factory=list)
    request_id: str
    latency_ms: float
    answer_source: Literal["faq", "extract", "llm"] | None = Field(
        default=None, description="Stored FAQ answer, extract from a document, or composed by the LLM.")
    query: str | None = Field(default=None, description="The question as searched, when a follow-up was expanded.")
    route: Route | None = None
    emotion: Emotion | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


class FeedbackRequest(BaseModel):
    feedback_id: str = Field(min_length=1, max_length=200, description="Client-supplied id: repeats are ignored.")
    request_id: str = Field(min_length=1, max_length=64, description="The /v1/ask request this is about.")
    helpful: bool
    entry_id: str | None = Field(default=None, description="The entry the customer actually needed, if known.")
    comment: str | None = Field(default=None, max_length=2000)
    user: str | None = Field(default=None, max_length=200, description="Who gave the feedback (agent id...).")


class FeedbackResponse(BaseModel):
    feedback_id: str
    status: Literal["recorded", "duplicate"]
    outcome: str


class ErrorBody(BaseModel):
    error: str
    message: str


class ResolutionRequest(BaseModel):
    resolution_id: str = Field(min_length=1, max_length=200, description="Client-supplied id: repeats are ignored.")
    request_id: str | None = Field(default=None, max_length=64, description="The handed-off /v1/ask request.")
    questions: list[str] = Field(default_factory=list, max_length=20,
                                 description="The customer's question(s); default: the handed-off question.")
    answer: str = Field(min_length=1, max_length=8000, description="The agent's answer.")
    team: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)
    agent: str | None = Field(default=None, max_length=200)
    entry_id: str | None = Field(default=None, description="The existing entry the agent answered with, if any.")


class ResolutionResponse(BaseModel):
    resolution_id: str
    status: Literal["recorded", "duplicate"]
    outcome: str = Field(description="phrasing | duplicate_entry | candidate | promoted | rejected_injection | "
                                     "rejected_pii")
    entry_id: str | None = None
    candidate_id: str | None = None
    count: int | None = Field(default=None, description="Resolutions merged into the candidate so far.")
    learned: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)


class CandidateOut(BaseModel):
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


class FlaggedOut(BaseModel):
    entry_id: str
    question: str
    answer: str
    negative: int = Field(description="Not-helpful votes behind the demotions.")
    demoted_for: list[str] = Field(description="Example questions the entry is no longer given for.")
    comments: list[str] = Field(default_factory=list)


class ReviewAction(BaseModel):
    action: Literal["approve", "edit", "merge", "reject"]
    editor: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, max_length=2000)
    answer: str | None = Field(default=None, max_length=8000)
    into: str | None = Field(default=None, description="merge: the candidate or entry id to merge into.")
    note: str | None = Field(default=None, max_length=2000)


class EntryAction(BaseModel):
    action: Literal["edit", "dismiss", "retire", "merge", "rollback"]
    editor: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, max_length=2000)
    answer: str | None = Field(default=None, max_length=8000)
    into: str | None = Field(default=None, description="merge: the entry that takes over this one's phrasings.")
    version: int | None = Field(default=None, ge=1, description="rollback: the version to restore.")
    note: str | None = Field(default=None, max_length=2000)


class VersionOut(BaseModel):
    version: int
    provenance: str
    actor: str | None
    note: str | None
    created_at: str
    question: str
    answer: str
    status: str
    learned: list[str]


class EntryOut(BaseModel):
    id: str
    source: str
    status: str
    question: str
    answer: str
    alt_questions: list[str]
    learned: list[str]
    versions: list[VersionOut]
