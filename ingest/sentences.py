"""Sentence boundaries in Chinese, English and mixed text: one splitter for chunks and answer extracts."""

from __future__ import annotations

import re

from core.text import CJK


def _is_cjk(ch: str) -> bool:
    return bool(CJK.match(ch))


_ZH_TERMINATORS = "。！？；…｡．"
_EN_TERMINATORS = "!?"
_CLOSERS = "\"'”’」』）)】》〕〉］]｝}＂＇"
# Abbreviations after which "." does not end a sentence.
_ABBREVIATIONS = frozenset({
    "e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "prof.", "vs.", "approx.", "fig.", "figs.", "cf.", "incl.",
    "jr.", "sr.", "st.", "no.", "nos.", "etc.", "ca.", "resp.", "ref.", "vol.", "pp.", "al.",
})
_DOTTED_ACRONYM = re.compile(r"(?:[A-Za-z]\.){2,}")  # U.S., e.g., a.m.
_OPENERS = "\"'“‘「『（(【《〔〈［[｛{"


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _dot_ends_sentence(text: str, start: int, dot: int, after: int) -> bool:
    """``text[dot]`` is a "." followed by whitespace or the end (``after`` is past any closers). It ends a
    sentence unless the word it closes is an abbreviation (``e.g.``, ``Mr.``, ``No. 5``, ``U.S.``), or a
    list ordinal at the start of the sentence (``1. Open the app``). ``etc.`` ends a sentence only before an
    upper-case or CJK character; ``No.`` is an abbreviation only before a number."""
    before = text[start : dot + 1].split()
    if not before:
        return True
    word = before[-1].lstrip(_OPENERS).lower()
    nxt = text[after:].lstrip()[:1]
    if word == "etc.":
        return nxt == "" or nxt.isupper() or _is_cjk(nxt)
    if word in ("no.", "nos."):
        return not (nxt.isdigit() or nxt == "#")
    if word in _ABBREVIATIONS or _DOTTED_ACRONYM.fullmatch(word):
        return False
    return not (len(before) == 1 and word[:-1].isdigit() and len(word) <= 4)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, whitespace trimmed; see :func:`split_sentences`."""
    spans: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))

    start = i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        end: int | None = None
        if ch == "\n":
            add(start, i)
            start = i = i + 1
            continue
        if ch in _ZH_TERMINATORS:
            end = _skip(text, i + 1, _ZH_TERMINATORS + _EN_TERMINATORS + _CLOSERS)
        elif ch in _EN_TERMINATORS:
            j = _skip(text, i + 1, _ZH_TERMINATORS + _EN_TERMINATORS + _CLOSERS)
            if j == n or text[j].isspace() or _is_cjk(text[j]):
                end = j
            else:
                i = j
                continue
        elif ch == ".":
            j = _skip(text, _skip(text, i + 1, "."), _CLOSERS)
            if (j == n or text[j].isspace()) and _dot_ends_sentence(text, start, i, j):
                end = j
            else:
                i = max(j, i + 1)
                continue
        if end is not None:
            add(start, end)
            start = i = end
            continue
        i += 1
    add(start, n)
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences of Chinese, English or mixed text, whitespace trimmed, empty ones dropped.

    * Chinese ``。！？；…`` (and ``｡`` ``．``) end a sentence wherever they are; repeated marks (``！？``,
      ``……``) and closing quotes/brackets (``”」）】》``) stay with the sentence.
    * English ``!`` ``?`` end a sentence before whitespace, the end of the text or a CJK character;
      ``.`` only before whitespace or the end, so decimals (3.5), version numbers (v2.1.3), URLs and
      domains never split, and not after abbreviations (e.g., i.e., Mr., No. 5, U.S.) or a list ordinal
      (``1. Open``). Closing quotes/brackets after the mark stay with the sentence.
    * A newline always ends a sentence.
    """
    return [text[s:e] for s, e in sentence_spans(text)]


__all__ = ["sentence_spans", "split_sentences"]
