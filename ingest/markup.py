"""Help-centre documents (Markdown with YAML front matter, plain text, HTML) to a flat list of blocks.

Every block carries the headings above it (its section path) so the chunker can keep sections apart and
write a breadcrumb. Inline markup that only adds noise to retrieval (emphasis, code ticks, link targets,
images) is removed; the words stay. Tables become one line per row with the header cells as keys, so a row
is understandable on its own. Everything here is pure: text in, blocks out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag
from pydantic import BaseModel, Field

BlockKind = Literal["heading", "paragraph", "list_item", "table", "code"]

# Characters that count as CJK text: kana, CJK ideographs (+ extension A, compatibility), Hangul syllables.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
# CJK text plus CJK/full-width punctuation: no space is written between two of these.
_CJK_TIGHT = re.compile(f"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]")


class Block(BaseModel, frozen=True):
    """One structural unit of a document.

    ``char_start``/``char_end`` locate the block's source in the body given to the parser (for HTML, in the
    extracted text: the block texts joined by blank lines).
    """

    kind: BlockKind
    text: str
    section_path: tuple[str, ...]
    level: int = Field(default=0, ge=0, le=6)
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)


# --------------------------------------------------------------------------------------------- front matter


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter (``---`` line, YAML, ``---`` or ``...`` line, at the very start after an
    optional BOM) from the body. Without front matter the text is returned unchanged with ``{}``.

    An opening ``---`` without a closing line, YAML that does not parse, or YAML that is not a mapping is a
    ``ValueError``: indexing broken metadata as body text would silently corrupt the document.
    """
    lines = text.split("\n")
    if lines[0].lstrip("\ufeff").rstrip(" \t\r") != "---":
        return {}, text
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip(" \t\r") in ("---", "...")), None)
    if close is None:
        raise ValueError("front matter opened with '---' on line 1 is never closed by a '---' line")
    source = "\n".join(lines[1:close])
    try:
        meta = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise ValueError(f"malformed YAML front matter: {_yaml_problem(exc)}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError(f"front matter must be a YAML mapping, got {type(meta).__name__}: {meta!r}")
    return {str(k): v for k, v in meta.items()}, "\n".join(lines[close + 1 :])


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where, as a line number in the whole file (the YAML starts on line 2)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark, problem = exc.problem_mark, exc.problem or exc.context or "syntax error"
        return f"{problem} (line {mark.line + 2}, column {mark.column + 1})"
    return " ".join(str(exc).split())


# ------------------------------------------------------------------------------------------ shared helpers


def _join_lines(parts: Sequence[str]) -> str:
    """Join wrapped lines: nothing between two CJK neighbours (a line break inside Chinese text is not a
    space), one space otherwise."""
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and not (_CJK_TIGHT.match(out[-1]) and _CJK_TIGHT.match(part[0])):
            out += " "
        out += part
    return out


def _row_line(keys: Sequence[str], cells: Sequence[str]) -> str:
    """``Key: value | Key: value``; empty cells are left out, cells without a key are written bare."""
    out = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        key = keys[i] if i < len(keys) else ""
        out.append(f"{key}: {cell}" if key else cell)
    return " | ".join(out)


def _table_text(header: Sequence[str] | None, rows: Sequence[Sequence[str]]) -> str:
    """One line per row, each cell keyed by its column header. A body row that repeats the header is
    dropped; a table that has only a header is written as a plain row so its words are kept."""
    keys = list(header) if header and any(header) else []
    body = [list(r) for r in rows if any(r) and list(r) != keys]
    if not body:
        return " | ".join(c for c in keys if c)
    return "\n".join(line for line in (_row_line(keys, r) for r in body) if line)


@dataclass
class _Builder:
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


# ---------------------------------------------------------------------------------------- inline Markdown

_PH = "\ue000"  # opens a protected span (code span, escaped character); private use, never in real text
_PH_END = "\ue001"
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(?<![`\\])(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\](?:\((?:[^()\s]|\([^()]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]+\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")
_BR_TAG = re.compile(r"<br\s*/?>", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_EMPHASIS = (
    re.compile(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)"),
    re.compile(r"(~~)(?=\S)(.+?)(?<=\S)\1"),
)
_HEADING_ID = re.compile(r"\s*\{#[^}]*\}\s*$")


def _strip_inline(text: str) -> str:
    """Remove Markdown inline markup and keep the words: ``**b**``/``*i*``/``_i_``/``~~s~~`` -> text,
    `` `code` `` -> code, ``[text](url)`` and ``[text][ref]`` -> text, ``<http://x>`` -> the address,
    images and inline HTML tags -> nothing, ``\\*`` -> ``*``. Code spans and escapes are protected first
    so their contents are never read as markup."""
    protected: list[str] = []

    def protect(value: str) -> str:
        protected.append(value)
        return f"{_PH}{len(protected) - 1}{_PH_END}"

    text = text.replace(_PH, "").replace(_PH_END, "")
    text = _CODE_SPAN.sub(lambda m: protect(m.group(2).strip() or m.group(2)), text)
    text = _ESCAPE.sub(lambda m: protect(m.group(1)), text)
    text = _HTML_COMMENT.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _AUTOLINK.sub(lambda m: protect(m.group(1)), text)
    text = _BR_TAG.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    for _ in range(3):  # nested emphasis (***x***, **a *b***) needs more than one pass
        before = text
        for pattern in _EMPHASIS:
            text = pattern.sub(r"\2", text)
        if text == before:
            break
    text = re.sub(f"{_PH}(\\d+){_PH_END}", lambda m: protected[int(m.group(1))], text)
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


# ----------------------------------------------------------------------------------------- block Markdown


@dataclass(frozen=True)
class _Line:
    text: str
    start: int  # offset of the first character of the line in the body
    end: int  # offset just past the last character (before "\r\n" / "\n")


def _split_lines(body: str) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in body.split("\n"):
        text = raw[:-1] if raw.endswith("\r") else raw
        if pos == 0 and text.startswith("\ufeff"):
            out.append(_Line(" " + text[1:], 0, len(text)))  # a BOM is not content; keep offsets intact
        else:
            out.append(_Line(text, pos, pos + len(text)))
        pos += len(raw) + 1
    return out


def _span(line: _Line) -> int:
    """Offset of the first non-blank character of a line."""
    return line.start + len(line.text) - len(line.text.lstrip())


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}(?=[^`]*$)|~{3,})")
_LIST = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+]|(?P<num>\d{1,9})[.)])"
                   r"(?P<space>[ \t]+|$)(?P<rest>.*)$")
_TASK = re.compile(r"^\[[ xX]\][ \t]+")
_QUOTE = re.compile(r"^ {0,3}> ?")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]^][^\]]*\]:\s*\S+")
_DELIM_CELL = re.compile(r"^:?-+:?$")
_ALERT = re.compile(r"^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$", re.I)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _columns(text: str) -> int:
    """Indentation width in columns (a tab counts as 4)."""
    width = 0
    for ch in text:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _row_cells(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(text)]


def _table_start(lines: Sequence[_Line], i: int) -> bool:
    """A GFM table: a row with a pipe, then a delimiter row (``|---|:--:|``) with as many cells."""
    if "|" not in lines[i].text or i + 1 >= len(lines) or "|" not in lines[i + 1].text:
        return False
    delim = _row_cells(lines[i + 1].text)
    return all(_DELIM_CELL.match(c) for c in delim) and len(delim) == len(_row_cells(lines[i].text))


def _starts_block(lines: Sequence[_Line], i: int) -> bool:
    """Whether line ``i`` opens a block that interrupts a paragraph or a list item."""
    text = lines[i].text
    return bool(_ATX.match(text) or _FENCE.match(text) or _THEMATIC.match(text) or _QUOTE.match(text)
                or text.lstrip().startswith("<!--") or _table_start(lines, i))


def _blank(text: str) -> bool:
    return not text.strip()


@dataclass
class _MarkdownParser:
    lines: list[_Line]
    out: _Builder = field(default_factory=_Builder)
    para: list[_Line] = field(default_factory=list)
    # Ordered-list counters by indentation: (indent, next number, or None for a bullet list at that indent).
    counters: list[tuple[int, int | None]] = field(default_factory=list)

    def run(self) -> list[Block]:
        i = 0
        while i < len(self.lines):
            i = self.step(i)
        self.flush()
        return self.out.blocks

    def flush(self) -> None:
        if not self.para:
            return
        lines, self.para = self.para, []
        pieces: list[list[str]] = [[]]
        for line in lines:
            pieces[-1].append(line.text)
            # a hard line break (two trailing spaces or a backslash) is kept as a newline
            if line.text.endswith("  ") or line.text.endswith("\\"):
                pieces[-1][-1] = line.text.rstrip().removesuffix("\\")
                pieces.append([])
        text = _strip_inline("\n".join(_join_lines(p) for p in pieces if p))
        self.out.add("paragraph", text, _span(lines[0]), lines[-1].end)

    def step(self, i: int) -> int:
        line = self.lines[i]
        text = line.text
        if _blank(text):
            self.flush()
            return i + 1
        if text.lstrip().startswith("<!--"):
            self.flush()
            return self.comment(i)
        if _FENCE.match(text):
            self.flush()
            self.counters.clear()
            return self.fence(i)
        if m := _ATX.match(text):
            self.flush()
            self.counters.clear()
            title = _strip_inline(_HEADING_ID.sub("", m.group(2) or ""))
            self.out.heading(len(m.group(1)), title, _span(line), line.end)
            return i + 1
        if self.para and _SETEXT.match(text) and not _table_start(self.lines, i - 1):
            first = self.para[0]
            title = _strip_inline(_join_lines([ln.text for ln in self.para]))
            self.para = []
            self.counters.clear()
            self.out.heading(1 if text.strip().startswith("=") else 2, title, _span(first), line.end)
            return i + 1
        if _THEMATIC.match(text):
            self.flush()
            return i + 1
        if _table_start(self.lines, i):
            self.flush()
            self.counters.clear()
            return self.table(i)
        if _QUOTE.match(text):
            self.flush()
            self.counters.clear()
            return self.quote(i)
        m = _LIST.match(text)
        if m and m.group("rest").strip() and (not self.para or m.group("num") in (None, "1")):
            self.flush()
            return self.list_item(i, m)
        if not self.para and _REF_DEF.match(text):
            return i + 1
        if not self.para:
            self.counters.clear()
        self.para.append(line)
        return i + 1

    def comment(self, i: int) -> int:
        j = i
        while j < len(self.lines) and "-->" not in self.lines[j].text:
            j += 1
        after = self.lines[j].text.split("-->", 1)[1] if j < len(self.lines) else ""
        if after.strip():  # text after the comment on its closing line is a paragraph line
            line = self.lines[j]
            self.para.append(_Line(after, line.end - len(after), line.end))
        return j + 1

    def fence(self, i: int) -> int:
        m = _FENCE.match(self.lines[i].text)
        assert m is not None
        indent, fence = _columns(m.group("indent")), m.group("fence")
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        body: list[str] = []
        while j < len(self.lines) and not close.match(self.lines[j].text):
            raw = self.lines[j].text
            cut = min(indent, _columns(raw), len(raw) - len(raw.lstrip(" \t")))
            body.append(raw[cut:].rstrip())
            j += 1
        end = self.lines[min(j, len(self.lines) - 1)].end
        self.out.add("code", "\n".join(body), _span(self.lines[i]), end)
        return j + 1

    def table(self, i: int) -> int:
        header = [_strip_inline(c) for c in _row_cells(self.lines[i].text)]
        rows: list[list[str]] = []
        j = i + 2
        while j < len(self.lines) and "|" in self.lines[j].text and not _starts_block(self.lines, j):
            rows.append([_strip_inline(c) for c in _row_cells(self.lines[j].text)])
            j += 1
        self.out.add("table", _table_text(header, rows), _span(self.lines[i]), self.lines[j - 1].end)
        return j

    def quote(self, i: int) -> int:
        """A block quote (often a ``> **Note:**`` callout): its paragraphs become paragraphs."""
        j = i
        group: list[_Line] = []
        while j < len(self.lines) and (m := _QUOTE.match(self.lines[j].text)):
            line = self.lines[j]
            cut = m.end()
            while nested := _QUOTE.match(line.text[cut:]):  # nested quotes are flattened
                cut += nested.end()
            inner = line.text[cut:]
            if alert := _ALERT.match(inner.strip()):  # GitHub alert: "> [!WARNING]" -> "Warning:"
                inner = alert.group(1).capitalize() + ":"
            if _blank(inner):
                self.para, group = group, []
                self.flush()
            else:
                group.append(_Line(inner, line.start + cut, line.end))
            j += 1
        self.para = group
        self.flush()
        return j

    def number(self, indent: int, num: str | None) -> int | None:
        """The number an ordered item is shown with (lazy ``1. 1. 1.`` numbering counts up, as rendered)."""
        while self.counters and self.counters[-1][0] > indent:
            self.counters.pop()
        top = self.counters[-1] if self.counters and self.counters[-1][0] == indent else None
        if top is not None:
            self.counters.pop()
        if num is None:
            self.counters.append((indent, None))
            return None
        n = top[1] if top is not None and top[1] is not None else int(num)
        self.counters.append((indent, n + 1))
        return n

    def list_item(self, i: int, m: re.Match[str]) -> int:
        """One list item, however many lines or paragraphs it has; nested items are their own blocks."""
        indent = _columns(m.group("indent"))
        content_col = indent + len(m.group("marker")) + (len(m.group("space")) if len(m.group("space")) <= 4
                                                         else 1)
        paras: list[list[str]] = [[_TASK.sub("", m.group("rest"))]]
        j = i + 1
        while j < len(self.lines):
            text = self.lines[j].text
            if _blank(text):
                k = j
                while k < len(self.lines) and _blank(self.lines[k].text):
                    k += 1
                if (k < len(self.lines) and _columns(self.lines[k].text) >= content_col
                        and not _LIST.match(self.lines[k].text) and not _starts_block(self.lines, k)):
                    paras.append([])
                    j = k
                    continue
                break
            if _LIST.match(text) or _starts_block(self.lines, j):
                break
            paras[-1].append(text)
            j += 1
        n = self.number(indent, m.group("num"))
        text = _strip_inline("\n".join(_join_lines(p) for p in paras if p))
        if text and n is not None:
            text = f"{n}. {text}"
        self.out.add("list_item", text, _span(self.lines[i]), self.lines[j - 1].end)
        return j


def markdown_blocks(body: str) -> list[Block]:
    """Markdown body (front matter already removed) to blocks.

    Supported: ATX (``#``..``######``) and setext (``===``/``---``) headings; paragraphs (wrapped lines
    joined, without a space inside Chinese text); bullet, numbered and task list items (one block per item
    however many lines it has; nested items are their own blocks; numbered items keep their number, e.g.
    ``2. Tap Add``, because step order is content); GFM pipe tables; fenced code; block quotes (as
    paragraphs). Thematic breaks, HTML comments and link reference definitions are dropped. Indented code
    blocks are not recognised (in help articles indentation is far more often a list continuation).
    """
    return _MarkdownParser(_split_lines(body)).run()


# -------------------------------------------------------------------------------------------- plain text

_TEXT_LIST = re.compile(r"^\s*(?:[-*•·]\s+|\d{1,2}[.)]\s+|\d{1,2}、|[（(]\d{1,2}[）)])")
_SENTENCE_PUNCT = re.compile(r"[.!?。！？；;:：,，、…]")
_TEXT_UNDERLINE = re.compile(r"^\s*(={3,}|-{3,})\s*$")
_LETTER = re.compile(rf"[A-Za-z{CJK_CHARS}]")


def _paragraphs(lines: Sequence[_Line]) -> Iterator[list[_Line]]:
    group: list[_Line] = []
    for line in lines:
        if _blank(line.text):
            if group:
                yield group
            group = []
        else:
            group.append(line)
    if group:
        yield group


def _obvious_heading(line: str, following: str | None) -> bool:
    """A line alone in its paragraph is a heading only when it is obviously one: short, no punctuation that
    would make it a sentence or a lead-in, not a list item, link or address, not starting in lower case,
    and followed by a longer paragraph that reads like prose (has sentence punctuation and does not
    continue in lower case)."""
    line = line.strip()
    if following is None or len(line) > 60 or len(line.split()) > 10 or not _LETTER.search(line):
        return False
    if _SENTENCE_PUNCT.search(line) or _TEXT_LIST.match(line) or "://" in line or "@" in line:
        return False
    first_letter = next(ch for ch in line if ch.isalpha())
    if first_letter.islower():
        return False
    following = following.strip()
    return (len(following) > len(line) and bool(_SENTENCE_PUNCT.search(following))
            and not following[0].islower())


def _text_paragraph(lines: Sequence[_Line]) -> str:
    """Wrapped lines are joined; a line that starts a list item (``-``, ``1.``, ``1、``, ``（1）``) keeps
    its line break so the items stay apart."""
    out: list[list[str]] = [[]]
    for line in lines:
        if out[-1] and _TEXT_LIST.match(line.text):
            out.append([])
        out[-1].append(line.text)
    return "\n".join(_join_lines(p) for p in out)


def text_blocks(body: str) -> list[Block]:
    """Plain text to paragraphs split on blank lines (no inline markup is removed).

    Headings are recognised conservatively: a two-line paragraph whose second line is ``===`` (level 1) or
    ``---`` (level 2), or a single short line that passes :func:`_obvious_heading` (level 1 when it is the
    first paragraph of the text, the document's title, level 2 after that).
    """
    out = _Builder()
    paras = list(_paragraphs(_split_lines(body)))
    for n, para in enumerate(paras):
        start, end = _span(para[0]), para[-1].end
        if len(para) == 2 and _TEXT_UNDERLINE.match(para[1].text) and _LETTER.search(para[0].text):
            level = 1 if "=" in para[1].text else 2
            out.heading(level, para[0].text, start, end)
            continue
        following = _text_paragraph(paras[n + 1]) if n + 1 < len(paras) else None
        if len(para) == 1 and _obvious_heading(para[0].text, following):
            out.heading(1 if n == 0 else 2, para[0].text, start, end)
            continue
        out.add("paragraph", _text_paragraph(para), start, end)
    return out.blocks


# -------------------------------------------------------------------------------------------------- HTML

_DROP = frozenset({"script", "style", "nav", "footer", "noscript", "template", "head", "svg", "iframe",
                   "form", "button", "select", "textarea", "object", "embed", "canvas", "img"})
_DROP_ROLES = frozenset({"navigation", "contentinfo"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_LISTS = frozenset({"ul", "ol", "menu"})
# Elements whose content starts and ends a line; everything else is inline.
_BLOCK_TAGS = _HEADINGS | _LISTS | frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "header", "hgroup", "hr", "html", "li", "main",
    "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
})
_SOFT = "\x1f"  # a source line break inside text: a space, except between two CJK characters


def _dropped(tag: Tag) -> bool:
    """Navigation, footers, scripts and the like; also a page banner (``<header>`` or role ``banner``
    without a heading in it: an article's own header holding its ``<h1>`` is kept)."""
    role = str(tag.get("role") or "").lower()
    if tag.name == "header" or role == "banner":
        return tag.find(list(_HEADINGS)) is None
    return tag.name in _DROP or tag.has_attr("hidden") or role in _DROP_ROLES


def _is_text(node: object) -> bool:
    """A plain text node (comments, doctypes, CDATA and processing instructions are not text)."""
    return type(node) is NavigableString


def _soft_text(text: str) -> str:
    """Whitespace of a text node: a run with a line break becomes ``_SOFT``, any other run one space."""
    return re.sub(r"\s+", lambda m: _SOFT if "\n" in m.group() else " ", text.replace(_SOFT, " "))


def _raw_text(node: Tag, skip: frozenset[str]) -> str:
    """Text of a node with source whitespace marked (see ``_SOFT``), ``<br>`` as a newline and block
    elements on their own lines; dropped elements and elements named in ``skip`` are left out."""
    parts: list[str] = []
    for child in node.children:
        if _is_text(child):
            parts.append(_soft_text(str(child)))
        elif isinstance(child, Tag) and not _dropped(child) and child.name not in skip:
            if child.name == "br":
                parts.append("\n")
            elif child.name in _BLOCK_TAGS:
                parts.append("\n" + _raw_text(child, skip) + "\n")
            else:
                parts.append(_raw_text(child, skip))
    return "".join(parts)


def _clean(raw: str) -> str:
    """Resolve source line breaks CJK-aware, collapse spaces, strip lines and drop empty ones."""
    raw = re.sub(f"(?<=[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]) ?{_SOFT}[ {_SOFT}]*(?=[{CJK_CHARS}"
                 f"\u3000-\u303f\uff00-\uffef])", "", raw)
    raw = raw.replace(_SOFT, " ")
    lines = (" ".join(line.split()) for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


def _node_text(node: Tag, skip: frozenset[str] = frozenset()) -> str:
    return _clean(_raw_text(node, skip))


def _preformatted(node: Tag) -> str:
    parts: list[str] = []
    for child in node.descendants:
        if _is_text(child) and not any(isinstance(p, Tag) and _dropped(p) for p in child.parents):
            parts.append(str(child))
        elif isinstance(child, Tag) and child.name == "br":
            parts.append("\n")
    return "\n".join(line.rstrip() for line in "".join(parts).split("\n")).strip("\n")


def _top_level(node: Tag, names: frozenset[str]) -> Iterator[Tag]:
    """Descendants named in ``names`` that are not inside another such descendant, in document order."""
    for child in node.children:
        if isinstance(child, Tag) and not _dropped(child):
            if child.name in names:
                yield child
            else:
                yield from _top_level(child, names)


def _own(tag: Tag, names: Sequence[str], table: Tag) -> list[Tag]:
    """Descendants of ``tag`` with one of ``names`` that belong to ``table`` itself, not a nested table."""
    return [t for t in tag.find_all(list(names)) if t.find_parent("table") is table]


def _cells(row: Tag) -> list[tuple[bool, str, int]]:
    """(is a header cell, text on one line, colspan) for the cells of a row."""
    out = []
    for cell in row.find_all(["th", "td"], recursive=False):
        try:
            span = min(max(int(str(cell.get("colspan") or 1)), 1), 50)
        except ValueError:
            span = 1
        out.append((cell.name == "th", _node_text(cell).replace("\n", " "), span))
    return out


def _html_table(table: Tag) -> str:
    """Header: the last row of ``<thead>``, else a first row made only of ``<th>``. Without a header, a row
    that starts with a ``<th>`` (a key/value table) is written ``Key: value``."""
    rows = _own(table, ["tr"], table)
    head_rows = [r for r in rows if (head := r.find_parent("thead")) is not None
                 and head.find_parent("table") is table]
    header: list[str] | None = None
    if head_rows:
        header = [text for _, text, span in _cells(head_rows[-1]) for _ in range(span)]
        rows = [r for r in rows if r not in head_rows]
    elif rows and (first := _cells(rows[0])) and all(is_th for is_th, _, _ in first):
        header = [text for _, text, span in first for _ in range(span)]
        rows = rows[1:]
    lines: list[str] = []
    for row in rows:
        cells = _cells(row)
        if not any(text for _, text, _ in cells):
            continue
        if header and any(header):
            keys: list[str] = []
            values: list[str] = []
            col = 0
            for _, text, span in cells:
                keys.append(header[col] if col < len(header) else "")
                values.append(text)
                col += span
            if values == header[: len(values)] and len(values) == len(header):
                continue  # a header row repeated in the body
            lines.append(_row_line(keys, values))
        elif len(cells) > 1 and cells[0][0] and not any(is_th for is_th, _, _ in cells[1:]):
            rest = " | ".join(text for _, text, _ in cells[1:] if text)
            lines.append(f"{cells[0][1]}: {rest}" if rest and cells[0][1] else cells[0][1] or rest)
        else:
            lines.append(" | ".join(text for _, text, _ in cells if text))
    if not lines and header:
        return " | ".join(h for h in header if h)
    return "\n".join(line for line in lines if line)


@dataclass
class _HtmlWalker:
    out: _Builder = field(default_factory=_Builder)
    pos: int = 0  # offset in the extracted text: block texts joined by blank lines

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

    def walk(self, node: Tag) -> None:
        """Children of a container: block children are handled on their own, runs of inline content
        between them become paragraphs."""
        inline: list[str] = []
        for child in node.children:
            if _is_text(child):
                inline.append(_soft_text(str(child)))
            elif isinstance(child, Tag) and not _dropped(child):
                if child.name == "br":
                    inline.append("\n")
                elif child.name in _BLOCK_TAGS or child.find(list(_BLOCK_TAGS)) is not None:
                    self.emit("paragraph", _clean("".join(inline)))
                    inline = []
                    self.block(child)
                else:
                    inline.append(_raw_text(child, frozenset()))
        self.emit("paragraph", _clean("".join(inline)))

    def block(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self.emit("heading", _node_text(tag), int(name[1]))
        elif name == "p":
            self.emit("paragraph", _node_text(tag))
        elif name == "pre":
            self.emit("code", _preformatted(tag))
        elif name == "table":
            for caption in _own(tag, ["caption"], tag):
                self.emit("paragraph", _node_text(caption))
            self.emit("table", _html_table(tag))
        elif name in _LISTS:
            self.html_list(tag)
        elif name == "li":
            self.list_item(tag, "")
        elif name == "hr":
            return
        else:
            self.walk(tag)

    def html_list(self, tag: Tag) -> None:
        ordered = tag.name == "ol"
        try:
            n = int(str(tag.get("start") or 1))
        except ValueError:
            n = 1
        for child in tag.children:
            if isinstance(child, Tag) and child.name == "li" and not _dropped(child):
                value = str(child.get("value") or "")
                n = int(value) if value.isdigit() else n
                self.list_item(child, f"{n}. " if ordered else "")
                n += 1
            elif isinstance(child, Tag) and not _dropped(child):
                self.block(child)
            elif _is_text(child) and str(child).strip():
                self.emit("paragraph", _clean(_soft_text(str(child))))

    def list_item(self, tag: Tag, prefix: str) -> None:
        """The item's own text is one block; nested lists, tables and code follow as their own blocks."""
        nested = _LISTS | {"table", "pre"}
        text = _node_text(tag, nested)
        if text:
            self.emit("list_item", prefix + text)
        for child in _top_level(tag, nested):
            self.block(child)


def html_blocks(html: str) -> list[Block]:
    """HTML to blocks with BeautifulSoup (lxml). Scripts, styles, navigation, footers, forms, images and
    ``hidden`` elements are dropped; ``h1``-``h6`` are headings; ``p`` and loose inline text paragraphs;
    ``li`` list items (``<ol>`` items numbered); tables one line per row with header cells as keys;
    ``pre`` code; ``<br>`` a line break. ``<title>`` is not a block: see :func:`html_title`.

    Offsets are in the extracted text, i.e. the block texts joined by blank lines (``"\\n\\n"``).
    """
    soup = BeautifulSoup(html, "lxml")
    root = soup.body if soup.body is not None else soup
    walker = _HtmlWalker()
    walker.walk(root)
    return walker.out.blocks


def html_title(html: str) -> str | None:
    """The page's ``<title>`` (whitespace collapsed), else its first ``<h1>``, else ``None``."""
    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all("title"):
        if tag.find_parent("svg") is None and (text := " ".join(tag.get_text(" ").split())):
            return text
    h1 = soup.find("h1")
    if isinstance(h1, Tag) and (text := _node_text(h1).replace("\n", " ")):
        return text
    return None


__all__ = ["CJK_CHARS", "Block", "BlockKind", "html_blocks", "html_title", "markdown_blocks",
           "parse_front_matter", "text_blocks"]
