"""Wire models of the HTTP API (and of ``kb ask --json``). Kept stable: chatbots and evaluators use them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from answering.records import AskResult as AskResponse
from answering.records import Citation, Decision, Related
from core.caller import Role
from core.keys import KeyInfo
from learning.records import CandidateAction, EntryActionKind
from learning.records import CandidateView as CandidateOut
from learning.records import EntryView as EntryOut
from learning.records import FeedbackOutcome as FeedbackResponse
from learning.records import FlaggedEntry as FlaggedOut
from learning.records import ResolutionOutcome as ResolutionResponse
from learning.records import VersionView as VersionOut

# Responses are the domain records themselves (their shape is the contract); requests are declared here
# with the limits the HTTP boundary enforces and mapped to domain records in ``api.mappers``.
__all__ = ["AskResponse", "CandidateOut", "Citation", "Decision", "EntryOut", "FeedbackResponse", "FlaggedOut",
           "Related", "ResolutionResponse", "VersionOut"]


# Every string and list a caller sends is bounded here: ids, names, tags, filters, profiles, free text.
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(max_length=200)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]
FilterValues = FilterValue | Annotated[list[FilterValue], Field(max_length=20)]
ProfileValue = Annotated[str, StringConstraints(max_length=200)] | int | float | bool | None
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
MAX_PROFILE_KEYS = 20


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    elif isinstance(value, list):
        for v in value:
            _no_nul(v)
    return value


class WireRequest(BaseModel):
    """Base of request bodies: no NUL characters anywhere (Postgres refuses them in text columns)."""

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data: Any) -> Any:
        return _no_nul(data)


class FiltersIn(WireRequest, extra="forbid"):
    """Metadata filters (a value or a list of up to 20: "any of"); mapped to ``core.models.Filters``."""

    category: FilterValues | None = None
    product: FilterValues | None = None
    lang: FilterValues | None = None
    source: FilterValues | None = None
    tags: FilterValues | None = None


class SearchRequest(WireRequest):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(default=5, ge=1, le=100)
    filters: FiltersIn | None = None


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


class AskRequest(WireRequest):
    question: str = Field(min_length=1, max_length=2000)
    filters: FiltersIn | None = None
    customer: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], ProfileValue] | None = Field(
        default=None, max_length=MAX_PROFILE_KEYS,
        description="Customer profile (up to 20 keys, scalar values): tier, channel, language...")
    session_id: SessionId | None = Field(default=None,
                                         description="A conversation of this key (letters, digits, ._:@-).")
    context: list[Annotated[str, StringConstraints(max_length=2000)]] | None = Field(
        default=None, max_length=20,
        description="Earlier turns of the conversation, the customer's and the bot's, oldest first (up to 20). "
                    "Used only to tell which product the question is about; not searched as text.")

    @field_validator("customer")
    @classmethod
    def _bounded_profile(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(value) > MAX_PROFILE_KEYS:
            raise ValueError(f"at most {MAX_PROFILE_KEYS} profile keys")
        return value


class FeedbackRequest(WireRequest):
    feedback_id: str = Field(min_length=1, max_length=200, description="Client-supplied id: repeats are ignored.")
    request_id: str = Field(min_length=1, max_length=64, description="The /v1/ask request this is about.")
    helpful: bool
    entry_id: Id | None = Field(default=None, description="The entry the customer actually needed, if known.")
    comment: str | None = Field(default=None, max_length=2000)
    user: str | None = Field(default=None, max_length=200, description="Who gave the feedback (agent id...).")


class ErrorBody(BaseModel):
    error: str
    message: str
    request_id: str = ""


class ResolutionRequest(WireRequest):
    resolution_id: str = Field(min_length=1, max_length=200, description="Client-supplied id: repeats are ignored.")
    request_id: str | None = Field(default=None, max_length=64, description="The handed-off /v1/ask request.")
    questions: list[Annotated[str, StringConstraints(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=20,
        description="The customer's question(s); default: the handed-off question.")
    answer: str = Field(min_length=1, max_length=8000, description="The agent's answer.")
    team: str | None = Field(default=None, max_length=200)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    agent: str | None = Field(default=None, max_length=200)
    entry_id: Id | None = Field(default=None, description="The existing entry the agent answered with, if any.")


class ReviewAction(WireRequest):
    action: CandidateAction
    editor: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, max_length=2000)
    answer: str | None = Field(default=None, max_length=8000)
    into: Id | None = Field(default=None, description="merge: the candidate or entry id to merge into.")
    note: str | None = Field(default=None, max_length=2000)


class EntryAction(WireRequest):
    action: EntryActionKind
    editor: str = Field(min_length=1, max_length=200)
    question: str | None = Field(default=None, max_length=2000)
    answer: str | None = Field(default=None, max_length=8000)
    into: Id | None = Field(default=None, description="merge: the entry that takes over this one's phrasings.")
    version: int | None = Field(default=None, ge=1, le=1_000_000, description="rollback: the version to restore.")
    note: str | None = Field(default=None, max_length=2000)


class KeyCreate(WireRequest):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    expires: str | None = Field(default=None, max_length=40, description="30d, 12h, 2w or an ISO date.")


class KeyCreated(BaseModel):
    key: KeyInfo
    secret: str = Field(description="The API key itself: shown once, stored only as a hash.")
