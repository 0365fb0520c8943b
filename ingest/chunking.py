"""Structure-aware chunking for a bilingual (Chinese + English) retrieval index.

Rules (see :func:`chunk_blocks`): a chunk never spans two sections and starts with a breadcrumb line
(``Title > Section > Subsection``) so it is understandable alone; blocks are packed in order under a token
budget that includes the breadcrumb; a list stays with its lead-in paragraph and table rows stay whole;
a block larger than the budget is split at sentence boundaries with overlap. The output is a pure
function of the input, so chunk ids derived from it are stable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from core.text import CJK
from ingest.formats.blocks import Block
from ingest.sentences import sentence_spans, split_sentences

CHUNKER_VERSION = "2"  # bump when output changes; recorded in the index manifest and part of chunk ids

MIN_MAX_TOKENS = 16

# ------------------------------------------------------------------------------------------------ tokens

_WORD = re.compile(r"[^\W_]+")  # a run of letters/digits (CJK already removed)
_PUNCT = re.compile(r"[^\w\s]|_")
_CHARS_PER_WORD = 12


def _is_cjk(ch: str) -> bool:
    return CJK.match(ch) is not None


def approx_tokens(text: str) -> int:
    """Fast estimate of the subword tokens a multilingual e5/BERT tokenizer produces for ``text``.

    * 1 per CJK character (ideographs, kana, Hangul): these tokenizers split CJK text per character;
    * about 1.3 per latin word (any run of letters/digits), rounded up over the whole text: common words
      are one piece, rarer ones two or three. A run longer than 12 characters (serial numbers, hashes,
      long identifiers) counts as one word per 12 characters so it is not underestimated;
    * 1 per punctuation mark or symbol (anything else that is not whitespace).

    Whitespace is free, so joining texts with spaces or newlines never costs more than the parts.
    """
    cjk = len(CJK.findall(text))
    rest = CJK.sub(" ", text)
    words = sum(-(-len(w) // _CHARS_PER_WORD) for w in _WORD.findall(rest))
    punct = len(_PUNCT.findall(rest))
    return cjk + (13 * words + 9) // 10 + punct


def head_within(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose ``approx_tokens`` fits ``budget`` (the whole text when it fits)."""
    if approx_tokens(text) <= budget:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the estimate only grows as text is added: binary search on the prefix length
        mid = (lo + hi + 1) // 2
        if approx_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


# --------------------------------------------------------------------------------------------- sentences

# -------------------------------------------------------------------------------------------- splitting


def _break_ok(text: str, i: int) -> bool:
    """Whether a hard split may fall before ``text[i]``: at whitespace or next to a CJK character."""
    a, b = text[i - 1], text[i]
    return a.isspace() or b.isspace() or _is_cjk(a) or _is_cjk(b)


def _hard_split(text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into spans of at most ``budget`` tokens: the longest prefix that fits
    (binary search; the estimate only grows as text is added), moved back to the last word or CJK
    character boundary when there is one, else cut between characters (a long URL or identifier)."""
    out: list[tuple[int, int]] = []
    s = start
    while s < end:
        while s < end and text[s].isspace():
            s += 1
        if s >= end:
            break
        lo, hi = s + 1, end
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if approx_tokens(text[s:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        if cut < end:
            back = next((k for k in range(cut, s, -1) if _break_ok(text, k)), None)
            cut = back if back is not None else cut
        e = cut
        while e > s and text[e - 1].isspace():
            e -= 1
        out.append((s, e))
        s = cut
    return out


def _split_text(text: str, budget: int, overlap: int) -> list[str]:
    """Pieces of at most ``budget`` tokens cut at sentence boundaries; each piece after the first starts
    with the trailing whole sentences of the previous piece that fit in ``overlap`` tokens. A sentence
    larger than the budget is hard-split (those parts are packed like sentences)."""
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        units.extend(_hard_split(text, s, e, budget) if approx_tokens(text[s:e]) > budget else [(s, e)])
    pieces: list[str] = []
    first = 0  # index of the first unit of the current piece
    for k in range(1, len(units)):
        if approx_tokens(text[units[first][0] : units[k][1]]) <= budget:
            continue
        pieces.append(text[units[first][0] : units[k - 1][1]])
        carry = k
        while (carry - 1 > first and approx_tokens(text[units[carry - 1][0] : units[k - 1][1]]) <= overlap
               and approx_tokens(text[units[carry - 1][0] : units[k][1]]) <= budget):
            carry -= 1
        first = carry
    if units:
        pieces.append(text[units[first][0] : units[-1][1]])
    return pieces


# ------------------------------------------------------------------------------------------------ chunks


class ChunkDraft(BaseModel, frozen=True):
    """A chunk before it gets an id: breadcrumb line + content, its section, order and source span.

    The span covers the whole blocks the chunk draws from (a piece of a split block has its block's
    span)."""

    text: str
    section_path: tuple[str, ...]
    position: int = Field(ge=0)  # 0-based order in the document
    char_start: int = Field(ge=0)
    char_end: int = Field(ge=0)


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _breadcrumb(path: Sequence[str], title: str | None, limit: int) -> str:
    """``Title > Section > Subsection``; the title is left out when it is already the first heading. A
    breadcrumb over ``limit`` tokens loses its outermost parts, then is cut, so content keeps room."""
    parts = [p for p in path if p.strip()]
    if title and title.strip() and not (parts and _same(parts[0], title)):
        parts.insert(0, " ".join(title.split()))
    while len(parts) > 1 and approx_tokens(" > ".join(parts)) > limit:
        parts.pop(0)
    crumb = " > ".join(parts)
    if approx_tokens(crumb) > limit:
        s, e = _hard_split(crumb, 0, len(crumb), limit - 1)[0]
        crumb = crumb[s:e] + "…"
    return crumb


@dataclass
class _Packer:
    """Fills chunks of one section in order; a chunk is emitted when the next unit would not fit."""

    crumb: str
    path: tuple[str, ...]
    max_tokens: int
    out: list[ChunkDraft]
    lines: list[str] = field(default_factory=list)
    start: int = 0
    end: int = 0

    def render(self, lines: Sequence[str]) -> str:
        return "\n".join([self.crumb, *lines] if self.crumb else lines)

    def fits(self, extra: Sequence[str], alone: bool = False) -> bool:
        return approx_tokens(self.render([*([] if alone else self.lines), *extra])) <= self.max_tokens

    def add(self, text: str, block: Block) -> None:
        """Append a unit, first emitting the current chunk if the unit does not fit in it."""
        if self.lines and not self.fits([text]):
            self.flush()
        if not self.lines:
            self.start, self.end = block.char_start, block.char_end
        self.lines.append(text)
        self.start, self.end = min(self.start, block.char_start), max(self.end, block.char_end)

    def flush(self) -> None:
        if self.lines:
            self.out.append(ChunkDraft(text=self.render(self.lines), section_path=self.path,
                                       position=len(self.out), char_start=self.start, char_end=self.end))
            self.lines = []


def _sections(blocks: Sequence[Block]) -> list[tuple[tuple[str, ...], list[Block]]]:
    """Runs of non-heading blocks; a heading (or a change of section path) starts a new run."""
    out: list[tuple[tuple[str, ...], list[Block]]] = []
    for block in blocks:
        if block.kind == "heading" or not out or out[-1][0] != block.section_path:
            out.append((block.section_path, []))
        if block.kind != "heading" and block.text.strip():
            out[-1][1].append(block)
    return [(path, body) for path, body in out if body]


def _units(block: Block) -> list[str]:
    """What a block is packed as: a table row by row, anything else whole."""
    if block.kind == "table":
        return [row for row in block.text.split("\n") if row.strip()]
    return [block.text.strip("\n") if block.kind == "code" else block.text.strip()]


_FIRST_ORDINAL = re.compile(r"1\. ")


def _groups(body: Sequence[Block]) -> list[list[Block]]:
    """Split a section into runs to keep together when possible: a list (consecutive items; an item
    numbered ``1.`` starts a new list) or a table, each with the paragraph directly before it, its
    lead-in. Any other block is a group of its own."""
    groups: list[list[Block]] = []
    i = 0
    while i < len(body):
        j = i
        if body[j].kind == "paragraph" and j + 1 < len(body) and body[j + 1].kind in ("list_item", "table"):
            j += 1
        if body[j].kind == "list_item":
            j += 1
            while j < len(body) and body[j].kind == "list_item" and not _FIRST_ORDINAL.match(body[j].text):
                j += 1
        else:
            j += 1
        groups.append(list(body[i:j]))
        i = j
    return groups


def _pack_section(packer: _Packer, body: Sequence[Block], overlap: int) -> None:
    budget = packer.max_tokens - approx_tokens(packer.crumb)
    for group in _groups(body):
        units = [u for b in group for u in _units(b)]
        if packer.lines and len(units) > 1 and not packer.fits(units):
            lead_in = group[0].kind == "paragraph"
            # start a new chunk rather than split a list or table that fits in one, and rather than
            # leave a lead-in at the end of a chunk without at least the first item after it
            if packer.fits(units, alone=True) or (lead_in and not packer.fits(units[:2])):
                packer.flush()
        for block in group:
            for unit in _units(block):
                if packer.fits([unit], alone=True):
                    packer.add(unit, block)
                    continue
                pieces = _split_text(unit, budget, overlap)
                packer.flush()
                for piece in pieces[:-1]:
                    packer.add(piece, block)
                    packer.flush()
                packer.add(pieces[-1], block)


def chunk_blocks(
    blocks: Sequence[Block], max_tokens: int = 220, overlap_tokens: int = 40, title: str | None = None,
) -> list[ChunkDraft]:
    """Pack a document's blocks into chunks of at most ``max_tokens`` (:func:`approx_tokens`).

    * Sections are never mixed: each heading starts new chunks, and heading blocks themselves are not
      content, they appear in the breadcrumb. Every chunk starts with its breadcrumb line, ``title`` first
      unless it is the first heading of the path; the breadcrumb counts in the budget (and is shortened
      from the outside if it would take more than half of it).
    * Blocks are packed in order, joined by newlines. A list (or a table) and the paragraph directly
      before it, its lead-in, are kept together: a new chunk is started before them when they would fit
      in one but not in the current one; a lead-in too long for that at least keeps its first item. A
      table is packed row by row (rows carry their header), so a big table splits between rows, never
      inside one.
    * A block (or table row) larger than the budget is split at sentence boundaries, each piece starting
      with up to ``overlap_tokens`` of the previous piece's trailing sentences; a sentence larger than the
      budget is hard-split at word (or CJK character) boundaries.
    * Empty blocks produce nothing, no chunk is empty, positions are 0, 1, 2, ...
    """
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError(f"overlap_tokens must be >= 0 and < max_tokens // 2 ({max_tokens // 2}), "
                         f"got {overlap_tokens}")
    out: list[ChunkDraft] = []
    for path, body in _sections(blocks):
        crumb = _breadcrumb(path, title, max_tokens // 2)
        packer = _Packer(crumb=crumb, path=path, max_tokens=max_tokens, out=out)
        _pack_section(packer, body, overlap_tokens)
        packer.flush()
    return out


__all__ = ["CHUNKER_VERSION", "ChunkDraft", "approx_tokens", "chunk_blocks", "split_sentences"]
