"""Files to FAQ entries and documents: which reader a file goes to, and what a record or document becomes.

A bad record never stops a file and is never dropped silently: it becomes a ``Quarantined`` item
with the reason and its location (file and line/row)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.errors import BadInput
from core.ids import content_hash, normalize_for_hash
from core.models import Document, KnowledgeEntry
from core.text import detect_lang
from ingest.encoding import Decoded, decode
from ingest.formats.office import docx_markdown, pdf_text, xlsx_records
from ingest.formats.partitioned import PARTITIONED_SUFFIXES
from ingest.records import Record, parse_records, record_format
from ingest.units import distinct_phrasings

FAQ_SUFFIXES = {".jsonl", ".csv", ".xlsx"}
DOC_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx", *PARTITIONED_SUFFIXES}
KNOWN_FIELDS = {"id", "question", "answer", "alt_questions", "category", "product", "tags", "lang", "source"}


class Quarantined(BaseModel):
    source: str
    location: str
    reason: str
    record: str = ""


def _listify(value: Any, seps: str = "|") -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed if str(v).strip()]
        except json.JSONDecodeError:
            pass
    for sep in seps:
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text]


def entry_from_record(record: dict[str, Any], source: str) -> KnowledgeEntry:
    """One FAQ record to an entry. Raises ``BadInput`` with the reason when it cannot be one."""
    question = str(record.get("question") or "").strip()
    answer = str(record.get("answer") or "").strip()
    if not question:
        raise BadInput("missing question")
    if not answer:
        raise BadInput("missing answer")
    alt = [q for q in _listify(record.get("alt_questions")) if normalize_for_hash(q) != normalize_for_hash(question)]
    entry_id = str(record.get("id") or "").strip() or f"faq-{content_hash(question)}"
    lang = str(record.get("lang") or "").strip() or detect_lang(question + " " + answer)
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS and v not in (None, "")}
    extra["_hash"] = content_hash(entry_id, question, answer, *alt, str(record.get("category")),
                                  str(record.get("product")), *_listify(record.get("tags"), "|,"), lang)
    return KnowledgeEntry(
        id=entry_id, question=question, answer=answer, alt_questions=tuple(distinct_phrasings(alt)),
        category=(str(record["category"]).strip() or None) if record.get("category") else None,
        product=(str(record["product"]).strip() or None) if record.get("product") else None,
        tags=tuple(_listify(record.get("tags"), "|,")), lang=lang, source=source, metadata=extra,
    )


def read_faq(path: Path, source: str) -> tuple[list[KnowledgeEntry], list[Quarantined], Decoded]:
    """Entries, quarantined records and the decoding (encoding and confidence) of one FAQ file."""
    entries: list[KnowledgeEntry] = []
    bad: list[Quarantined] = []
    seen: dict[str, str] = {}
    fmt = record_format(path)
    if fmt is None:
        decoded = Decoded("", path.suffix.lower().lstrip("."))
        records: Iterable[Record] = xlsx_records(path)
    else:
        decoded = decode(path.read_bytes())
        _, records = parse_records(decoded.text, fmt)
    for location, record, error, _ in records:
        if record is None:
            bad.append(Quarantined(source=source, location=location, reason=error))
            continue
        try:
            entry = entry_from_record(record, source)
        except BadInput as exc:
            bad.append(Quarantined(source=source, location=location, reason=str(exc),
                                   record=json.dumps(record, ensure_ascii=False)[:500]))
            continue
        if entry.id in seen:
            bad.append(Quarantined(source=source, location=location,
                                   reason=f"duplicate id {entry.id!r} (first at {seen[entry.id]})"))
            continue
        seen[entry.id] = location
        entries.append(entry)
    return entries, bad, decoded


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(part for part in out.split("-") if part) or "doc"


def read_document(path: Path, source: str) -> tuple[Document, Decoded]:
    """A document with its front-matter metadata, and how its bytes were decoded."""
    from ingest.formats.front_matter import parse_front_matter
    from ingest.formats.html import html_title
    from ingest.formats.partitioned import elements_html, partition, title_of

    suffix = path.suffix.lower()
    if suffix in PARTITIONED_SUFFIXES:
        elements = partition(path)
        text, decoded = elements_html(elements), Decoded("", suffix[1:])
        if not text.strip():
            raise BadInput(f"no text found in this {suffix[1:].upper()} file")
        plain = " ".join(str(getattr(e, "text", "") or "") for e in elements)
        return _document(path, source, text, "html", title_of(elements, path), {"lang": detect_lang(plain[:2000])}), \
            decoded
    if suffix == ".pdf":
        text, decoded = pdf_text(path), Decoded("", "pdf")
    elif suffix == ".docx":
        text, decoded = docx_markdown(path), Decoded("", "docx")
    else:
        decoded = decode(path.read_bytes())
        text = decoded.text
    meta: dict[str, Any] = {}
    fmt: str
    if suffix in {".html", ".htm"}:
        fmt, body, title = "html", text, html_title(text)
    else:
        try:
            meta, body = parse_front_matter(text)
        except ValueError as exc:
            raise BadInput(f"{path}: {exc}") from exc
        fmt = "markdown" if suffix in {".md", ".markdown", ".docx"} else "text"
        title = str(meta.get("title") or "") or None
        if title is None:
            first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "")
            title = first.lstrip("#").strip() or path.stem
    return _document(path, source, body, fmt, title, meta, text), decoded


def _document(path: Path, source: str, body: str, fmt: str, title: str | None, meta: dict[str, Any],
              raw: str | None = None) -> Document:
    if not body.strip():
        raise BadInput("empty document")
    doc_id = str(meta.get("id") or "").strip() or f"doc-{_slug(path.stem)}"
    lang = str(meta.get("lang") or "") or detect_lang(body[:2000])
    extra = {k: v for k, v in meta.items() if k not in {"id", "title", "category", "product", "tags", "lang"}}
    extra["_hash"] = content_hash(doc_id, raw if raw is not None else body)
    return Document(
        id=doc_id, title=title or path.stem, body=body, format=fmt,  # type: ignore[arg-type]
        category=str(meta["category"]) if meta.get("category") else None,
        product=str(meta["product"]) if meta.get("product") else None,
        tags=tuple(_listify(meta.get("tags"), "|,")), lang=lang, source=source, metadata=extra,
    )


def discover(paths: Iterable[Path]) -> list[Path]:
    """Supported files under the given files/folders, sorted; hidden files and README files skipped."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise BadInput(f"no such file or folder: {path}")
        if path.is_file():
            found.append(path)
            continue
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            rel = p.relative_to(path)
            if any(part.startswith(".") for part in rel.parts) or p.name.lower().startswith("readme"):
                continue
            if p.suffix.lower() in FAQ_SUFFIXES | DOC_SUFFIXES:
                found.append(p)
    return sorted(dict.fromkeys(found))
