"""The screen every learned text passes before it is stored (see ``learning/curator.py``): PII masked,
prompt-injection phrasings (``core.injection``, shared with ingestion) rejected. Pure."""

from __future__ import annotations

import re

from core.injection import find_injection
from ingest.pii import PiiMasker


def screen(text: str, masker: PiiMasker, min_chars: int = 4) -> tuple[str | None, str]:
    """(masked text, "") when it may be learned, else (None, reason): a prompt-injection string is
    rejected outright; PII is masked, and a text that is little more than PII once masked is rejected."""
    if find_injection(text):
        return None, "rejected_injection"
    masked = masker.mask(text.strip())
    if masked.counts and len(re.sub(r"\[[A-Z_]+\]", "", masked.text).strip()) < min_chars:
        return None, "rejected_pii"
    if not masked.text.strip():
        return None, "rejected_empty"
    return masked.text, ""
