"""Domain records of answering: the question asked and the answer decided (no HTTP here)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.models import Filters
from triage.emotion import Emotion
from triage.routing import Route


class Decision(StrEnum):
    """What the service does with a question."""

    answer = "answer"
    clarify = "clarify"
    handoff = "handoff"


AnswerSource = Literal["faq", "extract", "llm"]


class Question(BaseModel):
    """A customer's question as the answering pipeline takes it."""

    question: str
    filters: Filters | None = None
    customer: dict[str, Any] | None = None
    session_id: str | None = None
    context: list[str] | None = None
    """Earlier turns (the customer's and the bot's), oldest first: where the product may have been named."""


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
    """A choice offered with a clarification (or a related entry)."""

    entry_id: str | None = None
    doc_id: str | None = None
    question: str
    score: float
    probability: float | None = Field(default=None, ge=0.0, le=1.0,
                                      description="Calibrated probability that this choice is the right one.")


class AskResult(BaseModel):
    answer: str | None
    decision: Decision
    confidence: float = Field(ge=0.0, le=1.0)
    citations: list[Citation] = Field(default_factory=list)
    related: list[Related] = Field(default_factory=list)
    request_id: str
    latency_ms: float
    answer_source: AnswerSource | None = Field(
        default=None, description="Stored FAQ answer, extract from a document, or composed by the LLM.")
    query: str | None = Field(default=None, description="The question as searched, when a follow-up was expanded.")
    route: Route | None = None
    emotion: Emotion | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
