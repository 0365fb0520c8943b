"""Structure-aware chunking with sentence boundaries that are right for Chinese and English.

A chunk never spans two sections; it starts with a breadcrumb (``Title > Section``) so it can be
understood alone; lists stay with their lead-in, table rows with their header; a block larger than
the budget is split at sentence boundaries with overlap. Deterministic, so chunk ids are stable."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from ingest.markup import Block

CHUNKER_VERSION = "1"

_ABBREV = ("e.g.", "i.e.", "etc.", "mr.", "mrs.", "ms.", "dr.", "no.", "vs.", "approx.", "fig.", "inc.", "st.")
_ZH_END = "。！？；…!?"
_CLOSERS = "”’」』）)】》\"'"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’\-.][A-Za-z0-9]+)*")
_PUNCT = re.compile(r"[^\w\s]")


def approx_tokens(text: str) -> int:
    """Estimate of multilingual-BERT/e5 subword tokens: 1 per CJK character, ~1.3 per latin word,
    1 per punctuation mark. Fast and good enough for a budget (the real tokenizer is not needed)."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(text))
    punct = len(_PUNCT.findall(_CJK.sub("", _WORD.sub("", text))))
    return cjk + math.ceil(words * 1.3) + punct


def split_sentences(text: str) -> list[str]:
    """Sentences of mixed Chinese/English text; newlines also end sentences."""
    out: list[str] = []
    for line in text.split("\n"):
        start = 0
        i = 0
        n = len(line)
        while i < n:
            ch = line[i]
            end: int | None = None
            if ch in _ZH_END:
                end = i + 1
                while end < n and (line[end] in _ZH_END or line[end] in _CLOSERS):
                    end += 1
            elif ch == "." and (i + 1 == n or line[i + 1] == " "):
                word = line[start:i + 1].split()[-1].lower() if line[start:i + 1].split() else ""
                if word not in _ABBREV and not re.fullmatch(r"[a-z]\.", word):
                    end = i + 1
            if end is not None:
                while end < n and line[end] in _CLOSERS:
                    end += 1
                piece = line[start:end].strip()
                if piece:
                    out.append(piece)
                start = end
                i = end
                continue
            i += 1
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out


class ChunkDraft(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    section_path: tuple[str, ...]
    position: int
    char_start: int
    char_end: int


def _hard_split(sentence: str, budget: int) -> list[str]:
    """A sentence longer than the budget: by words for latin text, by characters for CJK."""
    if _CJK.search(sentence):
        step = max(budget, 1)
        return [sentence[i : i + step] for i in range(0, len(sentence), step)]
    words = sentence.split()
    step = max(int(budget / 1.3), 1)
    return [" ".join(words[i : i + step]) for i in range(0, len(words), step)]


def _split_block(text: str, budget: int, overlap: int) -> list[str]:
    sentences: list[str] = []
    for s in split_sentences(text):
        sentences.extend(_hard_split(s, budget) if approx_tokens(s) > budget else [s])
    pieces: list[str] = []
    current: list[str] = []
    for s in sentences:
        if current and approx_tokens(_join([*current, s])) > budget:
            pieces.append(_join(current))
            carry: list[str] = []
            for prev in reversed(current):
                if approx_tokens(_join([prev, *carry])) > overlap:
                    break
                carry.insert(0, prev)
            current = carry if approx_tokens(_join([*carry, s])) <= budget else []
        current.append(s)
    if current:
        pieces.append(_join(current))
    return pieces


_ZH_PUNCT = "。！？；，、：“”‘’（）《》【】…"


def _cjkish(ch: str) -> bool:
    return bool(_CJK.match(ch)) or ch in _ZH_PUNCT


def _join(parts: Sequence[str]) -> str:
    """Join sentences: no space between Chinese neighbours, one space otherwise."""
    out = ""
    for p in parts:
        if out and p and not (_cjkish(out[-1]) and _cjkish(p[0])):
            out += " "
        out += p
    return out


def chunk_blocks(
    blocks: Sequence[Block], max_tokens: int = 220, overlap_tokens: int = 40, title: str | None = None,
) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    sections: list[tuple[tuple[str, ...], list[Block]]] = []
    for block in blocks:
        if block.kind == "heading" or not sections or sections[-1][0] != block.section_path:
            sections.append((block.section_path, []))
        if block.kind != "heading":
            sections[-1][1].append(block)

    for path, body in sections:
        if not body:
            continue
        crumbs = list(path)
        if title and (not crumbs or crumbs[0] != title):
            crumbs.insert(0, title)
        crumb = " > ".join(crumbs)
        budget = max(max_tokens - approx_tokens(crumb) - 1, 16)
        current: list[str] = []
        start = end = body[0].char_start

        def emit(lines: list[str], s: int, e: int, crumb: str = crumb, path: tuple[str, ...] = path) -> None:
            text = "\n".join([crumb, *lines]) if crumb else "\n".join(lines)
            drafts.append(ChunkDraft(text=text, section_path=path, position=len(drafts), char_start=s, char_end=e))

        for block in body:
            units = [block.text]
            if approx_tokens(block.text) > budget:
                units = block.text.split("\n") if block.kind == "table" else _split_block(block.text, budget,
                                                                                          overlap_tokens)
                units = [u for part in units for u in (_split_block(part, budget, 0) if approx_tokens(part) > budget
                                                       else [part])]
            for unit in units:
                if current and approx_tokens("\n".join([*current, unit])) > budget:
                    emit(current, start, end)
                    current = []
                    start = block.char_start
                if not current:
                    start = block.char_start
                current.append(unit)
                end = block.char_end
        if current:
            emit(current, start, end)
    return drafts
