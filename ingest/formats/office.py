"""PDF, DOCX and XLSX through pypdf, python-docx and openpyxl (direct readers, better than unstructured here)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import BadInput
from ingest.records import Record


def xlsx_records(path: Path) -> Iterator[Record]:
    """Rows of the first sheet, keyed by the header row."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise BadInput(f"cannot read spreadsheet: {type(exc).__name__}: {exc}") from exc
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    for n, row in enumerate(rows, start=2):
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        yield Record(f"row {n}", {h: ("" if v is None else str(v)) for h, v in zip(header, row, strict=False) if h})


def pdf_text(path: Path) -> str:
    """Text of a PDF with pypdf, pages separated by blank lines (unstructured's PDF path needs models
    that cannot be fetched offline)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise BadInput(f"cannot read PDF: {type(exc).__name__}: {exc}") from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise BadInput("PDF has no extractable text (a scanned PDF needs OCR first)")
    return text


def docx_markdown(path: Path) -> str:
    """A DOCX as Markdown: headings by style level, list paragraphs as items, tables as pipe tables."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise BadInput(f"cannot read DOCX: {type(exc).__name__}: {exc}") from exc
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
