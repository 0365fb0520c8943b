"""Readers for the stable input formats: FAQ files (JSONL, CSV) and documents (Markdown, text, HTML).

A bad record never stops a file and is never dropped silently: it becomes a ``Quarantined`` item
with the reason and its location (file and line/row)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from core.errors import BadInput
from core.ids import content_hash
from core.models import Document, KnowledgeEntry
from core.text import detect_lang

FAQ_SUFFIXES = {".jsonl", ".csv", ".xlsx"}
DOC_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx"}
KNOWN_FIELDS = {"id", "question", "answer", "alt_questions", "category", "product", "tags", "lang", "source"}


class Quarantined(BaseModel):
    source: str
    location: str
    reason: str
    record: str = ""


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Text and the encoding used: UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise BadInput(f"cannot decode as UTF-8, UTF-16 or GB18030: {exc}") from exc


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
    alt = [q for q in _listify(record.get("alt_questions")) if q != question]
    entry_id = str(record.get("id") or "").strip() or f"faq-{content_hash(question)}"
    lang = str(record.get("lang") or "").strip() or detect_lang(question + " " + answer)
    extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS and v not in (None, "")}
    extra["_hash"] = content_hash(entry_id, question, answer, *alt, str(record.get("category")),
                                  str(record.get("product")), *_listify(record.get("tags"), "|,"), lang)
    return KnowledgeEntry(
        id=entry_id, question=question, answer=answer, alt_questions=tuple(dict.fromkeys(alt)),
        category=(str(record["category"]).strip() or None) if record.get("category") else None,
        product=(str(record["product"]).strip() or None) if record.get("product") else None,
        tags=tuple(_listify(record.get("tags"), "|,")), lang=lang, source=source, metadata=extra,
    )


def _records(path: Path, text: str) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """(location, record or None, raw) for each record; None means unparseable."""
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"line {n}", None, f"invalid JSON: {exc.msg}"
                continue
            if not isinstance(obj, dict):
                yield f"line {n}", None, "record is not a JSON object"
                continue
            yield f"line {n}", obj, line
    else:
        reader = csv.DictReader(io.StringIO(text))
        for n, row in enumerate(reader, start=2):
            if None in row:
                yield f"row {n}", None, "more fields than the header"
                continue
            yield f"row {n}", dict(row), ""


def _xlsx_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """Rows of the first sheet, keyed by the header row."""
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException variants
        raise BadInput(f"cannot read spreadsheet {path}: {exc}") from exc
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    for n, row in enumerate(rows, start=2):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        yield f"row {n}", {h: ("" if v is None else str(v)) for h, v in zip(header, row, strict=False) if h}, ""


def read_faq(path: Path, source: str) -> tuple[list[KnowledgeEntry], list[Quarantined], str]:
    """Entries, quarantined records and the detected encoding of one FAQ file."""
    entries: list[KnowledgeEntry] = []
    bad: list[Quarantined] = []
    seen: dict[str, str] = {}
    if path.suffix.lower() == ".xlsx":
        encoding = "xlsx"
        records: Iterable[tuple[str, dict[str, Any] | None, str]] = _xlsx_records(path)
    else:
        text, encoding = decode_bytes(path.read_bytes())
        records = _records(path, text)
    for location, record, raw in records:
        if record is None:
            bad.append(Quarantined(source=source, location=location, reason=raw))
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
    return entries, bad, encoding


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(part for part in out.split("-") if part) or "doc"


def read_document(path: Path, source: str) -> tuple[Document, str]:
    """A document with its front-matter metadata, and the detected encoding."""
    from ingest.formats.front_matter import parse_front_matter
    from ingest.formats.html import html_title

    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, encoding = pdf_text(path), "pdf"
    elif suffix == ".docx":
        text, encoding = docx_markdown(path), "docx"
    else:
        text, encoding = decode_bytes(path.read_bytes())
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
    if not body.strip():
        raise BadInput("empty document")
    doc_id = str(meta.get("id") or "").strip() or f"doc-{_slug(path.stem)}"
    lang = str(meta.get("lang") or "") or detect_lang(body[:2000])
    extra = {k: v for k, v in meta.items() if k not in {"id", "title", "category", "product", "tags", "lang"}}
    extra["_hash"] = content_hash(doc_id, text)
    return Document(
        id=doc_id, title=title or path.stem, body=body, format=fmt,  # type: ignore[arg-type]
        category=str(meta["category"]) if meta.get("category") else None,
        product=str(meta["product"]) if meta.get("product") else None,
        tags=tuple(_listify(meta.get("tags"), "|,")), lang=lang, source=source, metadata=extra,
    ), encoding


def pdf_text(path: Path) -> str:
    """Text of a PDF with pypdf, pages separated by blank lines (unstructured's PDF path needs models
    that cannot be fetched offline)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as exc:
        raise BadInput(f"cannot read PDF {path}: {exc}") from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise BadInput(f"{path}: no extractable text (a scanned PDF needs OCR first)")
    return text


def docx_markdown(path: Path) -> str:
    """A DOCX as Markdown: headings by style level, list paragraphs as items, tables as pipe tables."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise BadInput(f"cannot read DOCX {path}: {exc}") from exc
    lines: list[str] = []
    body = document.element.body
    tables = {t._tbl: t for t in document.tables}
    paragraphs = {p._p: p for p in document.paragraphs}
    for child in body.iterchildren():
        if child in paragraphs:
            p = paragraphs[child]
            text = p.text.strip()
            style = (p.style.name or "").lower() if p.style is not None else ""
            if not text:
                continue
            if style.startswith("heading") or style == "title":
                level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
                lines += ["", "#" * min(level, 6) + " " + text, ""]
            elif "list" in style:
                lines.append(f"- {text}")
            else:
                lines += ["", text, ""]
        elif child in tables:
            rows = [[c.text.strip().replace("|", "/") for c in r.cells] for r in tables[child].rows]
            if rows:
                lines += ["", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
                lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
                lines.append("")
    return "\n".join(lines).strip() + "\n"


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
