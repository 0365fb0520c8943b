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
