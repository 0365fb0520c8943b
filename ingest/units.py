"""Entries and documents to index units, with content-derived ids (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.ids import content_hash, normalize_for_hash
from core.models import Document, KnowledgeEntry, Unit
from ingest.chunking import CHUNKER_VERSION, chunk_blocks
from ingest.formats.html import html_blocks
from ingest.formats.markdown import markdown_blocks
from ingest.formats.text import text_blocks


def distinct_phrasings(phrasings: Iterable[str]) -> list[str]:
    """Phrasings with duplicates removed by the normalisation that makes unit ids (NFKC, case, spaces):
    ``退款？`` and ``退款?`` (full-width vs half-width) are one phrasing, the first written is kept."""
    seen: dict[str, str] = {}
    for p in phrasings:
        seen.setdefault(normalize_for_hash(p), p)
    return list(seen.values())


def entry_passage(entry: KnowledgeEntry) -> str:
    """The entry as one passage: question and answer. Its other phrasings stay out: ``kb calibrate --auto``
    holds phrasings out as new questions, and one found verbatim in the passage would make that test easy
    (tried: with the first 8 phrasings in the passage, no held-out phrasing could be scored fairly)."""
    return f"{entry.question}\n{entry.answer}"


def entry_units(entry: KnowledgeEntry) -> list[Unit]:
    """One ``question`` unit per phrasing (matched question-to-question, the strongest FAQ signal)
    and one ``answer`` unit holding question + answer (matched question-to-passage)."""
    common: dict[str, Any] = {
        "entry_id": entry.id, "source": entry.source, "lang": entry.lang, "category": entry.category,
        "product": entry.product, "tags": entry.tags,
        "metadata": {"question": entry.question, "answer": entry.answer},
    }
    units: list[Unit] = []
    for phrasing in distinct_phrasings((entry.question, *entry.alt_questions)):
        units.append(Unit(id=f"{entry.id}:q:{content_hash(phrasing)}", kind="question", text=phrasing, **common))
    units.append(Unit(id=f"{entry.id}:a:{content_hash(entry.question, entry.answer)}", kind="answer",
                      text=entry_passage(entry), **common))
    return units


def document_units(doc: Document, max_tokens: int = 220, overlap_tokens: int = 40) -> list[Unit]:
    if doc.format == "html":
        blocks = html_blocks(doc.body)
    elif doc.format == "markdown":
        blocks = markdown_blocks(doc.body)
    else:
        blocks = text_blocks(doc.body)
    drafts = chunk_blocks(blocks, max_tokens=max_tokens, overlap_tokens=overlap_tokens, title=doc.title)
    units: list[Unit] = []
    seen: dict[str, int] = {}
    for d in drafts:
        base = f"{doc.id}:c:{content_hash(doc.id, d.text, CHUNKER_VERSION)}"
        seen[base] = seen.get(base, 0) + 1
        unit_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        units.append(Unit(
            id=unit_id, kind="chunk", text=d.text, doc_id=doc.id, source=doc.source, lang=doc.lang,
            category=doc.category, product=doc.product, tags=doc.tags, title=doc.title,
            section=" > ".join(d.section_path) or None, position=d.position, char_start=d.char_start,
            char_end=d.char_end,
        ))
    return units


LEARNED_SOURCE = "learned"
"""Source of phrasings learned from feedback and resolutions: they live outside any file and survive its
re-ingest."""


def learned_unit(entry: KnowledgeEntry, text: str, learned_from: str) -> Unit:
    """A phrasing of ``entry`` learned from traffic (already masked and screened)."""
    return Unit(
        id=f"{entry.id}:q:{content_hash(text)}", kind="question", text=text, entry_id=entry.id, source=LEARNED_SOURCE,
        lang=entry.lang, category=entry.category, product=entry.product, tags=entry.tags,
        metadata={"question": entry.question, "answer": entry.answer, "learned_from": learned_from},
    )


def all_entry_units(entry: KnowledgeEntry, learned: list[dict[str, str]]) -> list[Unit]:
    """The entry's own units plus one per learned phrasing (``{"text", "from"}``) not already a phrasing."""
    units = entry_units(entry)
    seen = {normalize_for_hash(u.text) for u in units}
    for item in learned:
        if normalize_for_hash(item["text"]) not in seen:
            seen.add(normalize_for_hash(item["text"]))
            units.append(learned_unit(entry, item["text"], item.get("from", "")))
    return units


def snapshot(entry: KnowledgeEntry, learned: list[dict[str, str]], status: str) -> dict[str, Any]:
    """What a version of an entry records: enough to restore it exactly."""
    return {"entry": entry.model_dump(mode="json"), "learned": list(learned), "status": status}


def from_snapshot(data: dict[str, Any]) -> tuple[KnowledgeEntry, list[dict[str, str]], str]:
    entry = KnowledgeEntry.model_validate(data["entry"])
    return entry, list(data.get("learned") or []), str(data.get("status", "live"))


def learned_of(units: list[Unit]) -> list[dict[str, str]]:
    """The learned phrasings among an entry's units, in a stable order."""
    return sorted(({"text": u.text, "from": str(u.metadata.get("learned_from", ""))} for u in units
                   if u.source == LEARNED_SOURCE), key=lambda d: d["text"])
