"""Mondrian-style thresholds: one answer threshold per segment that has enough labelled questions (pure).

A question's segments are keys such as ``category:billing``, ``source:faq.jsonl`` and ``lang:zh``, most
specific first. At fitting time every key with at least ``min_segment`` labelled questions (and both
right and wrong answers among them) gets the threshold that makes *its own* answered questions reach the
target precision; at decision time the first key of the question that has a threshold decides, else the
global threshold. So a segment where the confidence is unreliable gets a high threshold without raising
the one of segments where it is reliable, and a segment with too few labels falls back to the global one."""

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


def segment_thresholds(scores: Sequence[float], correct: Sequence[bool], weights: Sequence[float],
                       segments: Sequence[Sequence[str]], target: float, min_segment: int, z: float = 0.0,
                       ) -> dict[str, float]:
    """Per-segment answer thresholds for the keys with at least ``min_segment`` rows of both outcomes (``z``: see
    ``threshold_for_precision``; a small segment then needs a larger margin)."""
    from .calibration import threshold_for_precision

    members: dict[str, list[int]] = {}
    for i, keys in enumerate(segments):
        for key in keys:
            members.setdefault(key, []).append(i)
    out: dict[str, float] = {}
    for key, idx in sorted(members.items()):
        labels = [bool(correct[i]) for i in idx]
        if len(idx) < min_segment or all(labels) or not any(labels):
            continue
        out[key] = threshold_for_precision([scores[i] for i in idx], labels, target, [weights[i] for i in idx], z)
    # a segment whose every member is covered by a more specific segment adds nothing: keep it anyway, it
    # serves future questions whose more specific segment has no threshold
    return out
