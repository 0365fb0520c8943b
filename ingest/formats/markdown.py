"""Markdown to blocks: markdown-it-py parses, its token line maps give each block's span in the source.

What stays hand-written, and why: turning inline tokens into plain words (we drop link targets, images,
footnote markers and unresolved ``[text][ref]`` brackets, and join wrapped lines without a space inside
Chinese text); GitHub alerts (``> [!WARNING]``); and table rows, which are read from the source lines of
the table markdown-it found, so a cell past the header's width is kept (GFM drops it) and a table ends at
the first line without a pipe (GFM would read the next paragraph as a row: help articles rarely leave the
blank line). Indented code blocks are off: in help articles indentation is far more often a list
continuation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.formats.blocks import Block, BlockBuilder, Line, first_char, join_lines, split_lines, table_text

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).disable(["code", "text_join"])

_SOFT = "\x1f"  # a soft line break between inline tokens, resolved by ``join_lines``
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]+\]")
_HEADING_ID = re.compile(r"\s*\{#[^}]*\}\s*$")
_BR_TAG = re.compile(r"^<br\s*/?>$", re.I)
_TASK = re.compile(r"^\[[ xX]\][ \t]+")
_ALERT = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]$", re.I)
# CommonMark's flanking rules leave ``**注意：**请勿`` unparsed (a closing ``**`` after punctuation must be
# followed by space or punctuation, which Chinese text never has); leftover delimiters are resolved here.
_CJK_EMPHASIS = (
    re.compile(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
)
_QUOTE_PREFIX = re.compile(r"^(?: {0,3}> ?)+")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_DELIM_CELL = re.compile(r"^:?-+:?$")


def _plain(text: str) -> str:
    """A text token's words: unresolved ``[text][ref]`` -> text, footnote markers and leftover emphasis
    delimiters dropped."""
    text = _FOOTNOTE_REF.sub("", _REF_LINK.sub(r"\1", text))
    if "*" in text or "_" in text or "~" in text:
        for pattern in _CJK_EMPHASIS:
            text = pattern.sub(r"\2", text)
    return text


def _inline_text(children: Sequence[Token] | None, alerts: bool = False) -> str:
    """Plain words of an inline token's children: emphasis, link targets, images and inline HTML go,
    code spans keep their content, a hard break is a newline, soft breaks are joined CJK-aware."""
    parts: list[str] = []
    items = list(children or [])
    if alerts and items and items[0].type == "text" and (m := _ALERT.match(items[0].content.strip())):
        parts.append(m.group(1).capitalize() + ":")
        items = items[1:]
    for tok in items:
        if tok.type == "text":
            parts.append(_plain(tok.content))
        elif tok.type == "text_special":  # an escaped character: literal
            parts.append(tok.content)
        elif tok.type == "code_inline":
            parts.append(tok.content.strip() or tok.content)
        elif tok.type == "softbreak":
            parts.append(_SOFT)
        elif tok.type == "hardbreak" or (tok.type == "html_inline" and _BR_TAG.match(tok.content.strip())):
            parts.append("\n")
    lines = ("".join(parts)).split("\n")
    text = "\n".join(join_lines([" ".join(p.split()) for p in line.split(_SOFT)]) for line in lines)
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def _inline(text: str) -> str:
    tokens = _MD.parseInline(text)
    return _inline_text(tokens[0].children if tokens else None)


def _row_cells(text: str) -> list[str]:
    text = _QUOTE_PREFIX.sub("", text).strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(text)]


def _is_delimiter_row(text: str) -> bool:
    cells = _row_cells(text)
    return "|" in text and bool(cells) and all(_DELIM_CELL.match(c) for c in cells)


def _end_tables_at_pipeless_lines(lines: Sequence[Line]) -> tuple[str, list[int]]:
    """The text markdown-it parses, and for each of its lines the source line it came from: a blank line
    is inserted before a line without a pipe that directly follows table rows (not in the source, so it
    maps to the line before it)."""
    out: list[str] = []
    origin: list[int] = []
    in_table = False
    for i, line in enumerate(lines):
        text = line.text
        if in_table and text.strip() and "|" not in text:
            out.append("")
            origin.append(i - 1)
            in_table = False
        elif not text.strip():
            in_table = False
        elif i + 1 < len(lines) and "|" in text and _is_delimiter_row(lines[i + 1].text):
            in_table = True
        out.append(text)
        origin.append(i)
    return "\n".join(out), origin


@dataclass
class _Item:
    """An open list item: its own paragraphs until a nested block or its end flushes it."""

    prefix: str
    start: int
    paras: list[str] = field(default_factory=list)
    end: int = 0
    done: bool = False


@dataclass
class _Converter:
    lines: list[Line]
    origin: list[int]
    out: BlockBuilder = field(default_factory=BlockBuilder)
    items: list[_Item] = field(default_factory=list)
    item_levels: list[int] = field(default_factory=list)
    counters: list[int | None] = field(default_factory=list)
    quotes: int = 0

    def first(self, parsed_line: int) -> int:
        line = self.lines[self.origin[parsed_line]]
        if self.quotes and (m := _QUOTE_PREFIX.match(line.text)):
            return line.start + m.end()
        return first_char(line)

    def last(self, parsed_end: int) -> int:
        return self.lines[self.origin[max(parsed_end - 1, 0)]].end

    def flush_item(self) -> None:
        if self.items and not self.items[-1].done:
            item = self.items[-1]
            item.done = True
            text = "\n".join(p for p in item.paras if p)
            if item.paras:
                text = _TASK.sub("", text)
            if text:
                self.out.add("list_item", item.prefix + text, item.start, max(item.end, item.start))

    def run(self, tokens: list[Token]) -> list[Block]:
        i = 0
        while i < len(tokens):
            i = self.step(tokens, i)
        return self.out.blocks

    def step(self, tokens: list[Token], i: int) -> int:
        tok = tokens[i]
        kind = tok.type
        if kind in ("paragraph_open", "heading_open", "fence", "table_open", "bullet_list_open",
                    "ordered_list_open", "blockquote_open"):
            in_item_paragraph = kind == "paragraph_open" and self.items and not self.items[-1].done and \
                tok.level == self.item_level + 1
            if not in_item_paragraph:
                self.flush_item()
        if kind == "heading_open":
            assert tok.map is not None
            title = _inline_text(tokens[i + 1].children)
            self.out.heading(int(tok.tag[1]), _HEADING_ID.sub("", title), self.first(tok.map[0]),
                             self.last(tok.map[1]))
            return i + 3
        if kind == "paragraph_open":
            assert tok.map is not None
            text = _inline_text(tokens[i + 1].children, alerts=self.quotes > 0)
            item = self.items[-1] if self.items else None
            if item is not None and not item.done and tok.level == self.item_level + 1:
                item.paras.append(text)
                item.end = self.last(tok.map[1])
            else:
                self.out.add("paragraph", text, self.first(tok.map[0]), self.last(tok.map[1]))
            return i + 3
        if kind == "fence":
            assert tok.map is not None
            self.out.add("code", tok.content, self.first(tok.map[0]), self.last(tok.map[1]))
        elif kind == "table_open":
            return self.table(tokens, i)
        elif kind == "blockquote_open":
            self.quotes += 1
        elif kind == "blockquote_close":
            self.quotes -= 1
        elif kind == "ordered_list_open":
            self.counters.append(int(tok.attrs.get("start", 1)))
        elif kind == "bullet_list_open":
            self.counters.append(None)
        elif kind in ("ordered_list_close", "bullet_list_close"):
            self.counters.pop()
        elif kind == "list_item_open":
            assert tok.map is not None
            n = self.counters[-1]
            if n is not None:
                self.counters[-1] = n + 1
            self.items.append(_Item("" if n is None else f"{n}. ", self.first(tok.map[0]), end=0))
            self.item_levels.append(tok.level)
        elif kind == "list_item_close":
            self.flush_item()
            self.items.pop()
            self.item_levels.pop()
        return i + 1

    @property
    def item_level(self) -> int:
        return self.item_levels[-1] if self.item_levels else -1

    def table(self, tokens: list[Token], i: int) -> int:
        tok = tokens[i]
        assert tok.map is not None
        rows = [self.lines[self.origin[k]].text for k in range(tok.map[0], tok.map[1])]
        header = [_inline(c) for c in _row_cells(rows[0])]
        body = [[_inline(c) for c in _row_cells(r)] for r in rows[2:]]
        self.out.add("table", table_text(header, body), self.first(tok.map[0]), self.last(tok.map[1]))
        while tokens[i].type != "table_close":
            i += 1
        return i + 1


def markdown_blocks(body: str) -> list[Block]:
    """Markdown body (front matter already removed) to blocks.

    ATX and setext headings; paragraphs (wrapped lines joined, without a space inside Chinese text);
    bullet, numbered and task list items (one block per item however many lines or paragraphs it has;
    nested items are their own blocks; numbered items keep their number as rendered, e.g. ``2. Tap Add``,
    because step order is content); GFM pipe tables; fenced code; block quotes (as paragraphs). Thematic
    breaks, HTML blocks and comments, and link reference definitions are dropped.
    """
    lines = split_lines(body)
    text, origin = _end_tables_at_pipeless_lines(lines)
    return _Converter(lines, origin).run(_MD.parse(text))


__all__ = ["markdown_blocks"]
