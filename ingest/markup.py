"""Markdown, plain text and HTML to a flat list of structural blocks with their section path."""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

BlockKind = Literal["heading", "paragraph", "list_item", "table", "code"]


class Block(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: BlockKind
    text: str
    section_path: tuple[str, ...] = ()
    level: int = 0
    char_start: int = 0
    char_end: int = 0


_FRONT = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.S)
_ATX = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^(=+|-+)[ \t]*$")
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter between ``---`` lines at the very start, and the body after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text.lstrip("\ufeff")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"malformed YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"front matter must be a mapping, got {type(meta).__name__}")
    return meta, text[m.end():]


def strip_inline(text: str) -> str:
    """Markdown inline markup off, words kept: images, links, emphasis, code spans."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?!\w)", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return text.strip()


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [strip_inline(c.strip()) for c in line.split("|")]


def table_text(header: list[str] | None, rows: list[list[str]]) -> str:
    """One line per row, each cell keyed by its header so a row stands alone: ``Code: E101 | Fix: ...``."""
    lines = []
    for row in rows:
        if header and len(header) == len(row):
            lines.append(" | ".join(f"{h}: {c}" if h else c for h, c in zip(header, row, strict=True) if c))
        else:
            lines.append(" | ".join(c for c in row if c))
    return "\n".join(line for line in lines if line)


class _Builder:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.path: list[tuple[int, str]] = []

    def heading(self, level: int, text: str, start: int, end: int) -> None:
        text = strip_inline(text)
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        self.add("heading", text, start, end, level)

    def add(self, kind: BlockKind, text: str, start: int, end: int, level: int = 0) -> None:
        if text.strip():
            self.blocks.append(Block(kind=kind, text=text.strip(), section_path=tuple(t for _, t in self.path),
                                     level=level, char_start=start, char_end=end))


def markdown_blocks(body: str) -> list[Block]:
    lines = body.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    b = _Builder()
    i = 0
    para: list[str] = []
    para_start = 0

    def flush(end_line: int) -> None:
        nonlocal para
        if para:
            b.add("paragraph", strip_inline(" ".join(p.strip() for p in para) if not _cjk_join(para)
                                            else "".join(p.strip() for p in para)), para_start, offsets[end_line])
            para = []

    while i < len(lines):
        raw = lines[i].rstrip("\n")
        if _FENCE.match(raw):
            flush(i)
            start = i
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                i += 1
            code = "".join(lines[start + 1 : i]).strip("\n")
            b.add("code", code, offsets[start], offsets[min(i + 1, len(lines))])
            i += 1
            continue
        m = _ATX.match(raw)
        if m:
            flush(i)
            b.heading(len(m.group(1)), m.group(2), offsets[i], offsets[i + 1])
            i += 1
            continue
        if para and len(para) == 1 and _SETEXT.match(raw) and raw.strip():
            level = 1 if raw.strip().startswith("=") else 2
            text = para[0]
            para = []
            b.heading(level, text.strip(), para_start, offsets[i + 1])
            i += 1
            continue
        if "|" in raw and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush(i)
            header = _cells(raw)
            start = i
            i += 2
            rows = []
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_cells(lines[i]))
                i += 1
            b.add("table", table_text(header, rows), offsets[start], offsets[i])
            continue
        lm = _LIST.match(raw)
        if lm:
            flush(i)
            start = i
            item = [lm.group(1)]
            i += 1
            while (i < len(lines) and lines[i].strip() and not _LIST.match(lines[i])
                   and lines[i].startswith(("  ", "\t"))):
                item.append(lines[i].strip())
                i += 1
            b.add("list_item", strip_inline(" ".join(item)), offsets[start], offsets[i])
            continue
        if not raw.strip():
            flush(i)
            i += 1
            continue
        if not para:
            para_start = offsets[i]
        para.append(raw)
        i += 1
    flush(len(lines))
    return b.blocks


def _cjk_join(parts: list[str]) -> bool:
    return bool(parts) and bool(re.search(r"[\u4e00-\u9fff]$", parts[0].strip()))


def text_blocks(body: str) -> list[Block]:
    """Plain text: paragraphs split on blank lines (no guessing of headings)."""
    b = _Builder()
    for m in re.finditer(r"(?:[^\n]*\S[^\n]*\n?)+", body):
        b.add("paragraph", re.sub(r"\s*\n\s*", " ", m.group(0).strip()), m.start(), m.end())
    return b.blocks


_DROP_TAGS = ("script", "style", "nav", "footer", "header", "noscript", "form", "aside")


def html_title(html: str) -> str | None:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    if soup.title and soup.title.get_text(strip=True):
        return soup.title.get_text(strip=True)
    h1 = soup.find("h1")
    return h1.get_text(" ", strip=True) if h1 else None


def html_blocks(html: str) -> list[Block]:
    """HTML to blocks: headings, paragraphs, list items, tables (header cells as keys), code."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(list(_DROP_TAGS)):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    root = soup.body or soup
    b = _Builder()
    pos = 0

    def emit(kind: BlockKind, text: str, level: int = 0) -> None:
        nonlocal pos
        text = re.sub(r"[ \t\r\f\v]+", " ", text).strip()
        if not text:
            return
        if kind == "heading":
            b.heading(level, text, pos, pos + len(text))
        else:
            b.add(kind, text, pos, pos + len(text))
        pos += len(text) + 1

    def walk(node: Tag) -> None:
        for child in node.children:
            if not isinstance(child, Tag):
                if str(child).strip() and node is root:
                    emit("paragraph", str(child))
                continue
            name = child.name or ""
            if re.fullmatch(r"h[1-6]", name):
                emit("heading", child.get_text(" ", strip=True), int(name[1]))
            elif name == "table":
                rows = child.find_all("tr")
                header: list[str] | None = None
                body_rows: list[list[str]] = []
                for r in rows:
                    cells = [c.get_text(" ", strip=True) for c in r.find_all(["th", "td"])]
                    if header is None and r.find("th") is not None and r.find("td") is None:
                        header = cells
                    else:
                        body_rows.append(cells)
                emit("table", table_text(header, body_rows))
            elif name == "li":
                emit("list_item", child.get_text(" ", strip=True))
            elif name in ("pre", "code"):
                emit("code", child.get_text())
            elif name in ("p", "blockquote", "dd", "dt", "figcaption", "caption"):
                emit("paragraph", child.get_text(" ", strip=True))
            elif name in ("ul", "ol", "div", "section", "article", "main", "body", "html", "span", "dl", "tbody"):
                walk(child)
            else:
                text = child.get_text(" ", strip=True)
                if text:
                    emit("paragraph", text)

    walk(root)
    return b.blocks
