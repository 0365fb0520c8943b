"""The screen every learned text passes before it is stored (see ``api/curation.py``): PII masked,
prompt-injection strings rejected. Pure."""

from __future__ import annotations

import re

from ingest.pii import PiiMasker

_INJECTION = re.compile(
    r"(?:ignore|disregard|forget) (?:all |any )?(?:the |your )?(?:previous|prior|above|earlier) "
    r"(?:instructions|rules|prompts?)|"
    r"disregard (?:the|your) (?:rules|instructions)|system prompt|jailbreak|developer mode|"
    r"you are now (?:dan\b|an? (?:unrestricted|unfiltered|uncensored|different|new) (?:ai|assistant|model|bot))|"
    r"(?:act|pretend) (?:as|to be) (?:an? )?(?:unrestricted|unfiltered|uncensored|different) "
    r"(?:ai|assistant|model|bot)|"
    r"<\s*/?\s*(?:script|system)\b|"
    r"忽略(?:之前|以上|前面|上面)的?(?:所有)?(?:指令|规则|提示)|系统提示词|你现在是(?:一个)?(?:没有限制|不受限制)",
    re.IGNORECASE,
)
"""Prompt-injection strings that must never reach the knowledge base. Narrow on purpose: a false positive
only means a phrasing is not learned, but "you are now a pet owner" (clinc150) is a real question."""


def screen(text: str, masker: PiiMasker, min_chars: int = 4) -> tuple[str | None, str]:
    """(masked text, "") when it may be learned, else (None, reason): a prompt-injection string is
    rejected outright; PII is masked, and a text that is little more than PII once masked is rejected."""
    if _INJECTION.search(text):
        return None, "rejected_injection"
    masked = masker.mask(text.strip())
    if masked.counts and len(re.sub(r"\[[A-Z_]+\]", "", masked.text).strip()) < min_chars:
        return None, "rejected_pii"
    if not masked.text.strip():
        return None, "rejected_empty"
    return masked.text, ""
