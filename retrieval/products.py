"""Which product (or place, plan, device: whatever the entries' ``product`` names) a question is about.

Support knowledge is often per product: the same question ("is there free parking?", "how do I reset it?")
has one entry per hotel or per device, and the entries differ only in the product's name. A dense or BM25
ranking weighs that name as one word among many, so the right question of the wrong product often wins.
When a question (or the conversation before it) names a product of the knowledge base, search is scoped to
that product's entries and to the entries of no product; entries of other products are left out.

Names are matched on word boundaries, case- and punctuation-blind, and also with their spaces removed
("Acorn Guesthouse" finds "ACORN GUEST HOUSE"); a leading "the" is optional. Chinese names match as
substrings. When several products are named, the last one named is the one meant (a customer who compares
two hotels asks about the one they named last); at one position the longest name wins."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

log = logging.getLogger(__name__)
_WORD = re.compile(r"[0-9a-z]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
MIN_NAME_CHARS = 3
"""Shorter names ("A", "X1") are skipped: as words they occur in ordinary questions."""
MAX_NAME_WORDS = 8


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class ProductMatcher:
    """Finds the knowledge base's product names in text. Immutable once built; safe to share."""

    def __init__(self, names: Iterable[str]) -> None:
        self._by_key: dict[str, str] = {}
        self._cjk: list[str] = []
        self.names: tuple[str, ...] = tuple(sorted({n.strip() for n in names if n and n.strip()}))
        for name in self.names:
            if _CJK.search(name):
                if len(name) >= 2:
                    self._cjk.append(name)
                continue
            words = _words(name)
            variants = [words]
            if len(words) > 1 and words[0] == "the":
                variants.append(words[1:])
            for variant in variants:
                key = "".join(variant)
                if len(key) >= MIN_NAME_CHARS and len(variant) <= MAX_NAME_WORDS:
                    # two products with one key are ambiguous: the first (sorted) keeps it, deterministically
                    self._by_key.setdefault(key, name)
        self._cjk.sort(key=len, reverse=True)
        self._longest = max((len(k) for k in self._by_key), default=0)
        self.ambiguous: tuple[str, ...] = ()
        """Names left out because the knowledge base uses them as ordinary words (``identifying_products``)."""

    def __bool__(self) -> bool:
        return bool(self._by_key or self._cjk)

    def _word_mentions(self, text: str) -> list[tuple[int, int, str]]:
        """(index of the last word, key length, name) of every name written out in words."""
        out: list[tuple[int, int, str]] = []
        if not self._by_key:
            return out
        words = _words(text)
        for start in range(len(words)):
            key = ""
            for end in range(start, min(start + MAX_NAME_WORDS, len(words))):
                key += words[end]
                if len(key) > self._longest:
                    break
                name = self._by_key.get(key)
                if name is not None:
                    out.append((end, len(key), name))
        return out

    def find_all(self, text: str) -> set[str]:
        """Every product named in ``text``."""
        return {name for _, _, name in self._word_mentions(text)} | {n for n in self._cjk if n in text}

    def find(self, text: str) -> str | None:
        """The product named last in ``text`` (None: none named)."""
        best: tuple[int, int, str] | None = max(self._word_mentions(text), default=None)
        if self._cjk:
            # CJK positions are counted in characters, word positions in words: keep them apart by
            # preferring the CJK match only when no word match exists or it ends later in the text
            cjk_best: tuple[int, int, str] | None = None
            for name in self._cjk:
                pos = text.rfind(name)
                if pos >= 0 and (cjk_best is None or (pos + len(name), len(name)) > cjk_best[:2]):
                    cjk_best = (pos + len(name), len(name), name)
            if cjk_best is not None and (best is None or _char_end(text, best[0]) < cjk_best[0]):
                best = cjk_best
        return best[2] if best else None


def _char_end(text: str, word_index: int) -> int:
    """Character offset just past the ``word_index``-th word of ``text`` (as ``_words`` counts them)."""
    for n, match in enumerate(_WORD.finditer(text.lower())):
        if n == word_index:
            return match.end()
    return len(text)


AMBIGUOUS_SHARE = 0.2
"""A name the knowledge base's own texts use more often than this outside its product's entries is a word."""
ANSWER_CHARS = 200
"""How much of each answer ``identifying_products`` reads (names are used early; the scan stays cheap)."""


def identifying_products(names: Iterable[str], texts: Iterable[tuple[str | None, str]],
                         max_elsewhere: float = AMBIGUOUS_SHARE) -> ProductMatcher:
    """A matcher over the names that identify their product. ``texts``: (the entry's product, a text of it).

    A product named "app" or "store" is an ordinary word in the entries of other products ("pair the lock
    with the app"): scoping a question on it would hide the right entries. Such a name shows itself in the
    knowledge base's own texts: it is used elsewhere more than once and more than ``max_elsewhere`` of the
    time. A name its texts never use (an id such as "hub-x2") is kept."""
    every = ProductMatcher(names)
    if not every:
        return every
    own: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for product, text in texts:
        for name in every.find_all(text):
            (own if name == product else other)[name] += 1
    # one use elsewhere is a cross-reference ("works with the SmartLock L7"), not yet a word
    keep = [n for n in every.names if other[n] <= max(1.0, max_elsewhere * (own[n] + other[n]))]
    matcher = ProductMatcher(keep)
    matcher.ambiguous = tuple(n for n in every.names if n not in set(keep))
    return matcher


class ProductCatalog:
    """The matcher of a knowledge base's current product names, rebuilt when they change. ``names``: the
    distinct ``product`` values of its entries; ``texts(chars)``: (product, text) pairs of its questions,
    phrasings and the first ``chars`` of its answers (``identifying_products``)."""

    def __init__(self, names: Callable[[], Sequence[str]],
                 texts: Callable[[int], Iterable[tuple[str | None, str]]]) -> None:
        self._names = names
        self._texts = texts
        self._last: tuple[str, ...] | None = None

    def refresh(self, force: bool = True) -> ProductMatcher | None:
        """A new matcher, or None when not ``force``d and the set of names is the one of the last refresh (the
        texts are then not read: a generation change must not cost a scan of every entry)."""
        names = tuple(self._names())
        if not force and names == self._last:
            return None
        self._last = names
        if not names:
            return ProductMatcher(())
        matcher = identifying_products(names, self._texts(ANSWER_CHARS))
        if matcher.ambiguous:
            log.info("product names used as ordinary words, not scoped on: %s", ", ".join(matcher.ambiguous[:20]))
        return matcher
