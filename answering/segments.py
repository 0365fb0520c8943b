"""Mondrian-style thresholds: one answer threshold per segment that has enough labelled questions (pure).

A question's segments are keys such as ``category:billing``, ``source:faq.jsonl`` and ``lang:zh``, most
specific first. At decision time the first key of the question that has a threshold decides, else the global
threshold. So a segment where the confidence is unreliable gets a high threshold without raising the one of
segments where it is reliable, and a segment with too few labels falls back to a broader one.

At fitting time each threshold is fitted on exactly the questions it will decide: level by level (category,
then source, then language), a key with at least ``min_segment`` labelled questions not yet claimed by a more
specific key (and both right and wrong answers among them) gets the threshold that makes those questions
reach the target precision, and claims them; the global threshold is fitted on the questions no key claimed
(``residual``). Fitting a broad key on all its questions instead lets a reliable, well-labelled part make it
lax for the rest: measured on one knowledge base holding banking77, the sample corpus and cmrc2018 passages,
the Chinese threshold was set by cmrc2018's easy questions (which had their own source threshold) and the
sample corpus's few Chinese questions, too few for a threshold of their own, were answered under it at 73%
precision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.models import SearchHit
from core.text import detect_lang


def segment_keys(question: str, hits: Sequence[SearchHit]) -> tuple[str, ...]:
    """The segments of a question, most specific first: the top entry's category and source, the language."""
    keys: list[str] = []
    if hits:
        top = hits[0]
        category = top.metadata.get("category")
        if category:
            keys.append(f"category:{category}")
        if top.source:
            keys.append(f"source:{top.source}")
    keys.append(f"lang:{detect_lang(question)}")
    return tuple(keys)


def threshold_for(thresholds: Mapping[str, float], keys: Sequence[str], default: float) -> float:
    """The threshold of the first key that has one, else ``default``."""
    for key in keys:
        if key in thresholds:
            return thresholds[key]
    return default


SEGMENT_LEVELS: tuple[str, ...] = ("category", "source", "lang")
"""Key prefixes from the most specific to the broadest (``segment_keys`` lists a question's keys in this order)."""


def _level(key: str) -> int:
    prefix = key.split(":", 1)[0]
    return SEGMENT_LEVELS.index(prefix) if prefix in SEGMENT_LEVELS else len(SEGMENT_LEVELS)


def segment_thresholds(scores: Sequence[float], correct: Sequence[bool], weights: Sequence[float],
                       segments: Sequence[Sequence[str]], target: float, min_segment: int, z: float = 0.0,
                       ) -> dict[str, float]:
    """Per-segment answer thresholds, level by level, each fitted on the rows no more specific key claimed (see
    the module doc): a key needs at least ``min_segment`` such rows of both outcomes (``z``: see
    ``threshold_for_precision``; a small segment then needs a larger margin)."""
    from .calibration import threshold_for_precision

    members: dict[str, list[int]] = {}
    for i, keys in enumerate(segments):
        for key in keys:
            members.setdefault(key, []).append(i)
    out: dict[str, float] = {}
    claimed: set[int] = set()
    for level in sorted({_level(k) for k in members}):
        taken: set[int] = set()
        for key, rows in sorted(members.items()):
            if _level(key) != level:
                continue
            idx = [i for i in rows if i not in claimed]
            labels = [bool(correct[i]) for i in idx]
            if len(idx) < min_segment or all(labels) or not any(labels):
                continue
            out[key] = threshold_for_precision([scores[i] for i in idx], labels, target,
                                               [weights[i] for i in idx], z)
            taken.update(idx)
        claimed |= taken
    return out


def residual(thresholds: Mapping[str, float], segments: Sequence[Sequence[str]]) -> list[int]:
    """The rows that no segment threshold decides (the global threshold's own)."""
    return [i for i, keys in enumerate(segments) if not any(k in thresholds for k in keys)]
