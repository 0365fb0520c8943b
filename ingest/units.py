"""Entries and documents to index units, with content-derived ids (pure)."""

from __future__ import annotations

from typing import Any

from core.ids import content_hash
from core.models import Document, KnowledgeEntry, Unit
from ingest.chunking import CHUNKER_VERSION, chunk_blocks
from ingest.markup import html_blocks, markdown_blocks, text_blocks


def entry_units(entry: KnowledgeEntry) -> list[Unit]:
    """One ``question`` unit per phrasing (matched question-to-question, the strongest FAQ signal)
    and one ``answer`` unit holding question + answer (matched question-to-answer)."""
    common: dict[str, Any] = {
        "entry_id": entry.id, "source": entry.source, "lang": entry.lang, "category": entry.category,
        "product": entry.product, "tags": entry.tags,
        "metadata": {"question": entry.question, "answer": entry.answer},
    }
    units: list[Unit] = []
    for phrasing in dict.fromkeys((entry.question, *entry.alt_questions)):
        units.append(Unit(id=f"{entry.id}:q:{content_hash(phrasing)}", kind="question", text=phrasing, **common))
    units.append(Unit(id=f"{entry.id}:a:{content_hash(entry.question, entry.answer)}", kind="answer",
                      text=f"{entry.question}\n{entry.answer}", **common))
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
