"""The one reader of tabular record files (CSV, TSV, JSONL): records with their location, or why not."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ingest.encoding import Decoded, decode

RecordFormat = Literal["csv", "tsv", "jsonl"]
RECORD_SUFFIXES: dict[str, RecordFormat] = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
MAX_FIELD_CHARS = 64 * 1024 * 1024  # csv's default limit (128 KiB) refuses a long answer or e-mail body


class Record(NamedTuple):
    """One record: where it is (``line 3``, ``row 4``), its fields, or ``None`` and the reason it cannot be
    read, and the raw line (JSONL)."""

    location: str
    data: dict[str, Any] | None
    error: str = ""
    raw: str = ""


def record_format(path: Path) -> RecordFormat | None:
    return RECORD_SUFFIXES.get(path.suffix.lower())


def parse_records(text: str, fmt: RecordFormat, strict_width: bool = False) -> tuple[list[str], list[Record]]:
    """The header (columns, or the keys seen in JSONL) and the records of a decoded file.

    CSV/TSV: the first row is the header; blank rows are skipped; a row with more fields than the header
    is an error; a shorter row is padded with empty fields, or, with ``strict_width``, is an error that
    says the row was probably cut off. JSONL: one JSON object per line; blank lines are skipped."""
    if fmt == "jsonl":
        return _jsonl(text)
    return _csv(text, "\t" if fmt == "tsv" else ",", strict_width)


def read_records(path: Path, strict_width: bool = False) -> tuple[list[str], list[Record], Decoded]:
    """Decode (see :func:`ingest.encoding.decode`) and parse a record file by its suffix."""
    fmt = record_format(path)
    if fmt is None:
        raise ValueError(f"not a record file (.csv, .tsv or .jsonl): {path}")
    decoded = decode(path.read_bytes())
    header, records = parse_records(decoded.text, fmt, strict_width)
    return header, records, decoded


def _jsonl(text: str) -> tuple[list[str], list[Record]]:
    out: list[Record] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append(Record(f"line {n}", None, f"invalid JSON: {exc.msg} (cut off or corrupt?)"))
            continue
        except RecursionError:
            out.append(Record(f"line {n}", None, "invalid JSON: nested too deeply"))
            continue
        if not isinstance(obj, dict):
            out.append(Record(f"line {n}", None, f"not a JSON object (a {type(obj).__name__})"))
            continue
        out.append(Record(f"line {n}", obj, "", line))
    header = sorted({k for r in out if r.data for k in r.data})
    return header, out


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv(text: str, delimiter: str, strict_width: bool) -> tuple[list[str], list[Record]]:
    out: list[Record] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    with _field_limit(MAX_FIELD_CHARS):
        try:
            header = [h.strip() for h in next(reader, [])]
        except csv.Error as exc:
            return [], [Record("line 1", None, f"unreadable CSV header: {exc}")]
        n = 1
        while True:
            before = reader.line_num
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                out.append(Record(f"line {reader.line_num}", None, f"unreadable CSV row: {exc}"))
                if reader.line_num == before:
                    break
                continue
            if not any(cell.strip() for cell in row):
                continue
            n += 1
            location = f"row {n}" if reader.line_num == n else f"row {n} (line {reader.line_num})"
            if len(row) > len(header):
                out.append(Record(location, None, f"more fields than the header: {len(row)} fields, "
                                                  f"header has {len(header)}"))
            elif len(row) < len(header) and strict_width:
                out.append(Record(location, None, f"truncated row: {len(row)} of {len(header)} fields "
                                                  "(cut off mid-record?)"))
            else:
                padded = [*row, *([""] * (len(header) - len(row)))]
                out.append(Record(location, dict(zip(header, padded, strict=True))))
    return header, out


__all__ = ["RECORD_SUFFIXES", "Record", "RecordFormat", "parse_records", "read_records", "record_format"]
