"""Learning routes: /v1/feedback (chatbot role and up) and /v1/resolutions (agent and up)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Agent, Chatbot, Service
from ..mappers import feedback_of, resolution_of
from ..schemas import FeedbackRequest, FeedbackResponse, ResolutionRequest, ResolutionResponse

router = APIRouter(prefix="/v1", tags=["learning"])


@router.post("/feedback", response_model=FeedbackResponse)
def feedback(body: FeedbackRequest, service: Service, caller: Chatbot) -> FeedbackResponse:
    """A vote on the answer given for a request (idempotent on ``feedback_id``)."""
    return service.feedback(feedback_of(body), caller)


@router.post("/resolutions", response_model=ResolutionResponse)
def resolutions(body: ResolutionRequest, service: Service, caller: Agent) -> ResolutionResponse:
    """An agent resolved a handed-off conversation: its answer becomes knowledge (see the README)."""
    return service.resolve(resolution_of(body), caller)
