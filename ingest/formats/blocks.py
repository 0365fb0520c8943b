"""The ``Block`` model every format parser produces, and the helpers they share to build blocks.

Every block carries the headings above it (its section path) so the chunker can keep sections apart and
write a breadcrumb. Tables become one line per row with the header cells as keys, so a row is
understandable on its own. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from core.text import CJK_TIGHT

BlockKind = Literal["heading", "paragraph", "list_item", "table", "code"]


class Block(BaseModel, frozen=True):
    """One structural unit of a document.

    ``char_start``/``char_end`` locate the block's source in the body given to the parser (for HTML and
    the partitioned formats, in the extracted text: the block texts joined by blank lines).
    """

    kind: BlockKind
    text: str
    section_path: tuple[str, ...]
    level: int = Field(default=0, ge=0, le=6)
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)


def join_lines(parts: Sequence[str]) -> str:
    """Join wrapped lines: nothing between two CJK neighbours (a line break inside Chinese text is not a
    space), one space otherwise."""
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and not (CJK_TIGHT.match(out[-1]) and CJK_TIGHT.match(part[0])):
            out += " "
        out += part
    return out


def row_line(keys: Sequence[str], cells: Sequence[str]) -> str:
    """``Key: value | Key: value``; empty cells are left out, cells without a key are written bare."""
    out = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        key = keys[i] if i < len(keys) else ""
        out.append(f"{key}: {cell}" if key else cell)
    return " | ".join(out)


def table_text(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """One line per row, each cell keyed by its column header. A body row that repeats the header is
    dropped; a table that has only a header is written as a plain row so its words are kept."""
    keys = list(header) if header and any(header) else []
    body = [list(r) for r in rows if any(r) and list(r) != keys]
    if not body:
        return " | ".join(c for c in keys if c)
    return "\n".join(line for line in (row_line(keys, r) for r in body) if line)


@dataclass
class BlockBuilder:
    """Collects blocks and keeps the heading stack that gives each block its section path."""

    blocks: list[Block] = field(default_factory=list)
    stack: list[tuple[int, str]] = field(default_factory=list)

    def heading(self, level: int, text: str, start: int, end: int) -> None:
        text = " ".join(text.split())
        if not text:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        self.add("heading", text, start, end, level)

    def add(self, kind: BlockKind, text: str, start: int, end: int, level: int = 0) -> None:
        text = text.strip("\n") if kind == "code" else text.strip()
        if not text.strip():
            return
        path = tuple(t for _, t in self.stack)
        self.blocks.append(Block(kind=kind, text=text, section_path=path, level=level,
                                 char_start=start, char_end=max(start, end)))


@dataclass
class ExtractedText:
    """Blocks of a format without source offsets (HTML, partitioned documents): each block is located in
    the extracted text, the block texts joined by blank lines."""

    out: BlockBuilder = field(default_factory=BlockBuilder)
    pos: int = 0

    def emit(self, kind: BlockKind, text: str, level: int = 0) -> None:
        text = text.strip("\n") if kind == "code" else text.strip()
        if not text.strip():
            return
        start, end = self.pos, self.pos + len(text)
        if kind == "heading":
            self.out.heading(level, text.replace("\n", " "), start, end)
        else:
            self.out.add(kind, text, start, end)
        self.pos = end + 2


@dataclass(frozen=True)
class Line:
    """One source line and where it is in the body."""

    text: str
    start: int  # offset of the first character of the line in the body
    end: int  # offset just past the last character (before "\r\n" / "\n")


def split_lines(body: str) -> list[Line]:
    """The body's lines with offsets; a leading BOM becomes a space so offsets stay intact."""
    out: list[Line] = []
    pos = 0
    for raw in body.split("\n"):
        text = raw[:-1] if raw.endswith("\r") else raw
        if pos == 0 and text.startswith("\ufeff"):
            out.append(Line(" " + text[1:], 0, len(text)))
        else:
            out.append(Line(text, pos, pos + len(text)))
        pos += len(raw) + 1
    return out


def first_char(line: Line) -> int:
    """Offset of the first non-blank character of a line."""
    return line.start + len(line.text) - len(line.text.lstrip())


__all__ = ["Block", "BlockBuilder", "BlockKind", "ExtractedText", "Line", "first_char", "join_lines",
           "row_line", "split_lines", "table_text"]
