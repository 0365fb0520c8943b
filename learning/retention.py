"""Retention: asks, feedback and sessions are kept ``KB_RETENTION_DAYS`` (sessions only ``KB_SESSION_TTL_S``
after their last turn), then purged. Demotions keep their own masked example questions."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from core.settings import Settings
from core.store import Store


class Purged(BaseModel):
    """Rows deleted by one purge, and the cut-off it used."""

    asks: int
    feedback: int
    sessions: int
    before: dt.datetime


def purge_expired(store: Store, settings: Settings, now: dt.datetime | None = None) -> Purged:
    """Delete what is past retention at ``now`` (default: the current time)."""
    now = now or dt.datetime.now(dt.UTC)
    before = now - dt.timedelta(days=settings.retention_days)
    session_before = max(before, now - dt.timedelta(seconds=settings.session_ttl_s))
    return Purged(feedback=store.learning.purge_feedback(before), asks=store.asks.purge(before),
                  sessions=store.asks.purge_sessions(session_before), before=before)
