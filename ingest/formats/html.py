"""HTML to blocks with BeautifulSoup (lxml), walked with explicit stacks so nesting depth cannot recurse."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag

from core.text import CJK_CHARS, CJK_PUNCT
from ingest.formats.blocks import Block, ExtractedText, row_line

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
_ITEM_NESTED = _LISTS | {"table", "pre"}
_SOFT = "\x1f"  # a source line break inside text: a space, except between two CJK characters
_TIGHT = f"{CJK_CHARS}{CJK_PUNCT}"
_SOFT_BETWEEN_CJK = re.compile(f"(?<=[{_TIGHT}]) ?{_SOFT}[ {_SOFT}]*(?=[{_TIGHT}])")


def _is_text(node: object) -> bool:
    """A plain text node (comments, doctypes, CDATA and processing instructions are not text)."""
    return type(node) is NavigableString


def _soft_text(text: str) -> str:
    """Whitespace of a text node: a run with a line break becomes ``_SOFT``, any other run one space."""
    return re.sub(r"\s+", lambda m: _SOFT if "\n" in m.group() else " ", text.replace(_SOFT, " "))


def _clean(raw: str) -> str:
    """Resolve source line breaks CJK-aware, collapse spaces, strip lines and drop empty ones."""
    raw = _SOFT_BETWEEN_CJK.sub("", raw).replace(_SOFT, " ")
    lines = (" ".join(line.split()) for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


class _Tree:
    """A parsed page with what the walk asks of every element computed once, bottom-up and without
    recursion: whether it holds a block element, and whether it holds a heading."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.has_block: set[int] = set()
        self.has_heading: set[int] = set()
        for node in reversed(list(soup.descendants)):  # children before their parents
            if not isinstance(node, Tag) or node.parent is None:
                continue
            parent = id(node.parent)
            if node.name in _BLOCK_TAGS or id(node) in self.has_block:
                self.has_block.add(parent)
            if node.name in _HEADINGS or id(node) in self.has_heading:
                self.has_heading.add(parent)

    def dropped(self, tag: Tag) -> bool:
        """Navigation, footers, scripts and the like; also a page banner (``<header>`` or role ``banner``
        without a heading in it: an article's own header holding its ``<h1>`` is kept)."""
        role = str(tag.get("role") or "").lower()
        if tag.name == "header" or role == "banner":
            return id(tag) not in self.has_heading
        return tag.name in _DROP or tag.has_attr("hidden") or role in _DROP_ROLES

    def raw_text(self, node: Tag, skip: frozenset[str] = frozenset()) -> str:
        """Text of a node with source whitespace marked (see ``_SOFT``), ``<br>`` as a newline and block
        elements on their own lines; dropped elements and elements named in ``skip`` are left out."""
        parts: list[str] = []
        stack: list[object] = list(reversed(list(node.children)))
        while stack:
            item = stack.pop()
            if isinstance(item, str) and not isinstance(item, NavigableString):
                parts.append(item)  # a line break pushed for a block element
            elif _is_text(item):
                parts.append(_soft_text(str(item)))
            elif isinstance(item, Tag) and not self.dropped(item) and item.name not in skip:
                if item.name == "br":
                    parts.append("\n")
                elif item.name in _BLOCK_TAGS:
                    stack.append("\n")
                    stack.extend(reversed(list(item.children)))
                    stack.append("\n")
                else:
                    stack.extend(reversed(list(item.children)))
        return "".join(parts)

    def text(self, node: Tag, skip: frozenset[str] = frozenset()) -> str:
        return _clean(self.raw_text(node, skip))

    def preformatted(self, node: Tag) -> str:
        parts: list[str] = []
        stack: list[object] = list(reversed(list(node.children)))
        while stack:
            item = stack.pop()
            if _is_text(item):
                parts.append(str(item))
            elif isinstance(item, Tag) and not self.dropped(item):
                if item.name == "br":
                    parts.append("\n")
                stack.extend(reversed(list(item.children)))
        return "\n".join(line.rstrip() for line in "".join(parts).split("\n")).strip("\n")

    def top_level(self, node: Tag, names: frozenset[str]) -> Iterator[Tag]:
        """Descendants named in ``names`` that are not inside another such descendant, in document order."""
        stack: list[Tag] = [c for c in reversed(list(node.children)) if isinstance(c, Tag)]
        while stack:
            child = stack.pop()
            if self.dropped(child):
                continue
            if child.name in names:
                yield child
            else:
                stack.extend(c for c in reversed(list(child.children)) if isinstance(c, Tag))

    def cells(self, row: Tag) -> list[tuple[bool, str, int]]:
        """(is a header cell, text on one line, colspan) for the cells of a row."""
        out = []
        for cell in row.find_all(["th", "td"], recursive=False):
            try:
                span = min(max(int(str(cell.get("colspan") or 1)), 1), 50)
            except ValueError:
                span = 1
            out.append((cell.name == "th", self.text(cell).replace("\n", " "), span))
        return out

    def table(self, table: Tag) -> str:
        """Header: the last row of ``<thead>``, else a first row made only of ``<th>``. Without a header, a
        row that starts with a ``<th>`` (a key/value table) is written ``Key: value``."""
        rows = _own(table, ["tr"], table)
        head_rows = [r for r in rows if (head := r.find_parent("thead")) is not None
                     and head.find_parent("table") is table]
        header: list[str] | None = None
        if head_rows:
            header = [text for _, text, span in self.cells(head_rows[-1]) for _ in range(span)]
            rows = [r for r in rows if r not in head_rows]
        elif rows and (first := self.cells(rows[0])) and all(is_th for is_th, _, _ in first):
            header = [text for _, text, span in first for _ in range(span)]
            rows = rows[1:]
        lines = [line for row in rows if (line := self._row(self.cells(row), header))]
        if not lines and header:
            return " | ".join(h for h in header if h)
        return "\n".join(lines)

    @staticmethod
    def _row(cells: list[tuple[bool, str, int]], header: list[str] | None) -> str:
        if not any(text for _, text, _ in cells):
            return ""
        if header and any(header):
            keys: list[str] = []
            values: list[str] = []
            col = 0
            for _, text, span in cells:
                keys.append(header[col] if col < len(header) else "")
                values.append(text)
                col += span
            if values == header[: len(values)] and len(values) == len(header):
                return ""  # a header row repeated in the body
            return row_line(keys, values)
        if len(cells) > 1 and cells[0][0] and not any(is_th for is_th, _, _ in cells[1:]):
            rest = " | ".join(text for _, text, _ in cells[1:] if text)
            return f"{cells[0][1]}: {rest}" if rest and cells[0][1] else cells[0][1] or rest
        return " | ".join(text for _, text, _ in cells if text)


def _own(tag: Tag, names: Sequence[str], table: Tag) -> list[Tag]:
    """Descendants of ``tag`` with one of ``names`` that belong to ``table`` itself, not a nested table."""
    return [t for t in tag.find_all(list(names)) if t.find_parent("table") is table]


# A unit of work of the walk: ("walk", container), ("block", element), ("item", <li>, prefix) or
# ("para", text). The walk pops them from a stack, so document depth never becomes call depth.
_Task = tuple[str, Tag | str, str]


@dataclass
class _Walker:
    tree: _Tree
    out: ExtractedText = field(default_factory=ExtractedText)

    def run(self, root: Tag) -> list[Block]:
        stack: list[_Task] = [("walk", root, "")]
        while stack:
            kind, node, prefix = stack.pop()
            if kind == "para":
                self.out.emit("paragraph", str(node))
            elif isinstance(node, Tag):
                if kind == "walk":
                    todo = self.walk(node)
                elif kind == "block":
                    todo = self.block(node)
                else:
                    todo = self.list_item(node, prefix)
                stack.extend(reversed(todo))
        return self.out.out.blocks

    def walk(self, node: Tag, _: str = "") -> list[_Task]:
        """Children of a container: block children are handled on their own, runs of inline content
        between them become paragraphs."""
        todo: list[_Task] = []
        inline: list[str] = []
        for child in node.children:
            if _is_text(child):
                inline.append(_soft_text(str(child)))
            elif isinstance(child, Tag) and not self.tree.dropped(child):
                if child.name == "br":
                    inline.append("\n")
                elif child.name in _BLOCK_TAGS or id(child) in self.tree.has_block:
                    todo.append(("para", _clean("".join(inline)), ""))
                    inline = []
                    todo.append(("block", child, ""))
                else:
                    inline.append(self.tree.raw_text(child))
        todo.append(("para", _clean("".join(inline)), ""))
        return todo

    def block(self, tag: Tag, _: str = "") -> list[_Task]:
        name = tag.name
        if name in _HEADINGS:
            self.out.emit("heading", self.tree.text(tag), int(name[1]))
        elif name == "p":
            self.out.emit("paragraph", self.tree.text(tag))
        elif name == "pre":
            self.out.emit("code", self.tree.preformatted(tag))
        elif name == "table":
            for caption in _own(tag, ["caption"], tag):
                self.out.emit("paragraph", self.tree.text(caption))
            self.out.emit("table", self.tree.table(tag))
        elif name in _LISTS:
            return self.html_list(tag)
        elif name == "li":
            return self.list_item(tag, "")
        elif name != "hr":
            return self.walk(tag)
        return []

    def html_list(self, tag: Tag) -> list[_Task]:
        ordered = tag.name == "ol"
        try:
            n = int(str(tag.get("start") or 1))
        except ValueError:
            n = 1
        todo: list[_Task] = []
        for child in tag.children:
            if isinstance(child, Tag) and child.name == "li" and not self.tree.dropped(child):
                value = str(child.get("value") or "")
                n = int(value) if value.isdigit() else n
                todo.append(("item", child, f"{n}. " if ordered else ""))
                n += 1
            elif isinstance(child, Tag) and not self.tree.dropped(child):
                todo.append(("block", child, ""))
            elif _is_text(child) and str(child).strip():
                todo.append(("para", _clean(_soft_text(str(child))), ""))
        return todo

    def list_item(self, tag: Tag, prefix: str) -> list[_Task]:
        """The item's own text is one block; nested lists, tables and code follow as their own blocks."""
        text = self.tree.text(tag, _ITEM_NESTED)
        if text:
            self.out.emit("list_item", prefix + text)
        return [("block", child, "") for child in self.tree.top_level(tag, _ITEM_NESTED)]


def html_blocks(html: str) -> list[Block]:
    """HTML to blocks with BeautifulSoup (lxml). Scripts, styles, navigation, footers, forms, images and
    ``hidden`` elements are dropped; ``h1``-``h6`` are headings; ``p`` and loose inline text paragraphs;
    ``li`` list items (``<ol>`` items numbered); tables one line per row with header cells as keys;
    ``pre`` code; ``<br>`` a line break. ``<title>`` is not a block: see :func:`html_title`.

    Offsets are in the extracted text, i.e. the block texts joined by blank lines (``"\\n\\n"``).
    """
    soup = BeautifulSoup(html, "lxml")
    root = soup.body if soup.body is not None else soup
    return _Walker(_Tree(soup)).run(root)


def html_title(html: str) -> str | None:
    """The page's ``<title>`` (whitespace collapsed), else its first ``<h1>``, else ``None``."""
    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all("title"):
        if tag.find_parent("svg") is None and (text := " ".join(tag.get_text(" ").split())):
            return text
    h1 = soup.find("h1")
    if isinstance(h1, Tag) and (text := _Tree(soup).text(h1).replace("\n", " ")):
        return text
    return None


__all__ = ["html_blocks", "html_title"]
