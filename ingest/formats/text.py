"""Plain text to blocks: paragraphs split on blank lines, headings recognised only when obvious."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from core.text import CJK_CHARS
from ingest.formats.blocks import Block, BlockBuilder, Line, first_char, join_lines, split_lines

_TEXT_LIST = re.compile(r"^\s*(?:[-*•·]\s+|\d{1,2}[.)]\s+|\d{1,2}、|[（(]\d{1,2}[）)])")
_SENTENCE_PUNCT = re.compile(r"[.!?。！？；;:：,，、…]")
_TEXT_UNDERLINE = re.compile(r"^\s*(={3,}|-{3,})\s*$")
_LETTER = re.compile(rf"[A-Za-z{CJK_CHARS}]")


def _paragraphs(lines: Sequence[Line]) -> Iterator[list[Line]]:
    group: list[Line] = []
    for line in lines:
        if not line.text.strip():
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


def _text_paragraph(lines: Sequence[Line]) -> str:
    """Wrapped lines are joined; a line that starts a list item (``-``, ``1.``, ``1、``, ``（1）``) keeps
    its line break so the items stay apart."""
    out: list[list[str]] = [[]]
    for line in lines:
        if out[-1] and _TEXT_LIST.match(line.text):
            out.append([])
        out[-1].append(line.text)
    return "\n".join(join_lines(p) for p in out)


def text_blocks(body: str) -> list[Block]:
    """Plain text to paragraphs split on blank lines (no inline markup is removed).

    Headings are recognised conservatively: a two-line paragraph whose second line is ``===`` (level 1) or
    ``---`` (level 2), or a single short line that passes :func:`_obvious_heading` (level 1 when it is the
    first paragraph of the text, the document's title, level 2 after that).
    """
    out = BlockBuilder()
    paras = list(_paragraphs(split_lines(body)))
    for n, para in enumerate(paras):
        start, end = first_char(para[0]), para[-1].end
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
