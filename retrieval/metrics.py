"""Ranking metrics over ranked target ids (pure)."""

from __future__ import annotations

from collections.abc import Sequence, Set


def dedupe(ids: Sequence[str]) -> list[str]:
    """Keep the first occurrence: several chunks of one document count once, at its best rank."""
    return list(dict.fromkeys(ids))


def hit_at(ranked: Sequence[str], gold: Set[str], k: int) -> float:
    return 1.0 if any(r in gold for r in dedupe(ranked)[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Set[str], k: int = 10) -> float:
    for i, r in enumerate(dedupe(ranked)[:k], start=1):
        if r in gold:
            return 1.0 / i
    return 0.0


def summarize(runs: Sequence[tuple[Sequence[str], Set[str]]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 averaged over (ranked ids, gold ids) pairs."""
    n = max(len(runs), 1)
    return {
        "hit@1": round(sum(hit_at(r, g, 1) for r, g in runs) / n, 4),
        "hit@5": round(sum(hit_at(r, g, 5) for r, g in runs) / n, 4),
        "mrr@10": round(sum(reciprocal_rank(r, g, 10) for r, g in runs) / n, 4),
        "n": len(runs),
    }
