"""Learning from feedback: a question confirmed as answered by entry E (the customer found it helpful,
or an agent picked E) becomes a new phrasing of E, so the same phrasing matches next time.

Before anything is stored the question is PII-masked and screened: prompt-injection strings and
near-duplicates of E's existing phrasings are rejected (and counted). The new phrasing is one more
``question`` unit of E, in the record (source ``learned``, kept across re-ingests of E's file) and in the
live index at once: no rebuild, no restart."""

from __future__ import annotations

import re

from core.ids import content_hash
from core.models import Unit
from core.store import Store
from ingest.dedupe import jaccard
from ingest.pii import PiiMasker

LEARNED_SOURCE = "learned"
_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:previous|prior|above) (?:instructions|rules)|system prompt|you are now|"
    r"disregard (?:the|your) (?:rules|instructions)|act as (?:a|an) |jailbreak|<\s*/?\s*(?:script|system)\b|"
    r"忽略(?:之前|以上|前面)的?(?:指令|规则|提示)|系统提示词|你现在是",
    re.IGNORECASE,
)


def screen(question: str, masker: PiiMasker) -> tuple[str | None, str]:
    """(masked question, "") when it may be learned, else (None, reason)."""
    if _INJECTION.search(question):
        return None, "rejected_injection"
    masked = masker.mask(question)
    if masked.counts and len(re.sub(r"\[[A-Z_]+\]", "", masked.text).strip()) < 4:
        return None, "rejected_pii"
    return masked.text, ""


def learn_phrasing(store: Store, entry_id: str, question: str, masker: PiiMasker,
                   threshold: float = 0.8) -> tuple[Unit | None, str]:
    """The new question unit for entry ``entry_id`` (not yet indexed), or None with the reason."""
    text, reason = screen(question, masker)
    if text is None:
        return None, reason
    units = store.units_for_entry(entry_id)
    phrasings = [u for u in units if u.kind == "question"]
    if not phrasings:
        return None, "unknown_entry"
    if any(jaccard(text, u.text) >= threshold for u in phrasings):
        return None, "rejected_duplicate"
    template = phrasings[0]
    unit = template.model_copy(update={
        "id": f"{entry_id}:q:{content_hash(text)}", "text": text, "source": LEARNED_SOURCE,
        "metadata": {**template.metadata, "learned_from": "feedback"},
    })
    return unit, "phrasing"
