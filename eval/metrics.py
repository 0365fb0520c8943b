"""Evaluation metrics (pure): ranking, decisions, classification, text overlap, latency."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence, Set
from typing import Any

import numpy as np

from retrieval.metrics import dedupe, hit_at, reciprocal_rank


def recall_at(ranked: Sequence[str], gold: Set[str], k: int) -> float:
    if not gold:
        return 0.0
    return len(set(dedupe(ranked)[:k]) & set(gold)) / len(gold)


def ndcg_at(ranked: Sequence[str], gold: Set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k: sum 1/log2(rank+1) over relevant ranks, over the ideal."""
    ranks = dedupe(ranked)[:k]
    dcg = sum(1.0 / math.log2(i + 2) for i, r in enumerate(ranks) if r in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal if ideal else 0.0


def ranking_metrics(runs: Sequence[tuple[Sequence[str], Set[str]]]) -> dict[str, float]:
    n = max(len(runs), 1)
    out = {f"hit@{k}": sum(hit_at(r, g, k) for r, g in runs) / n for k in (1, 3, 5, 10)}
    out.update({f"recall@{k}": sum(recall_at(r, g, k) for r, g in runs) / n for k in (5, 10)})
    out["mrr@10"] = sum(reciprocal_rank(r, g, 10) for r, g in runs) / n
    out["ndcg@10"] = sum(ndcg_at(r, g, 10) for r, g in runs) / n
    return {k: round(v, 4) for k, v in out.items()} | {"n": len(runs)}


def coverage_precision_curve(confidence: Sequence[float], correct: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(threshold, coverage, precision) at every distinct confidence, highest first; coverage is the share of
    all questions answered, precision the share of answered ones that are right."""
    order = sorted(range(len(confidence)), key=lambda i: -confidence[i])
    out: list[tuple[float, float, float]] = []
    right = 0
    for n, i in enumerate(order, start=1):
        right += bool(correct[i])
        if n < len(order) and confidence[order[n]] == confidence[i]:
            continue
        out.append((float(confidence[i]), n / len(order), right / n))
    return out


def classification_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, object]:
    """Accuracy, macro-F1 and the confusion matrix (rows gold, columns predicted)."""
    labels = sorted(set(gold) | set(pred))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    f1s = []
    for i, _ in enumerate(labels):
        tp = matrix[i][i]
        fp = sum(matrix[r][i] for r in range(len(labels))) - tp
        fn = sum(matrix[i]) - tp
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    gold_labels = set(gold)
    macro = [f for label, f in zip(labels, f1s, strict=True) if label in gold_labels]
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / max(len(gold), 1)
    return {"accuracy": round(accuracy, 4), "macro_f1": round(sum(macro) / max(len(macro), 1), 4),
            "labels": labels, "confusion": matrix, "n": len(gold)}


def binary_metrics(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, float]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum((not g) and p for g, p in zip(gold, pred, strict=True))
    fn = sum(g and (not p) for g, p in zip(gold, pred, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(reference: Sequence[str], candidate: Sequence[str]) -> float:
    """ROUGE-L F1 over token lists. Tokenize Chinese first (words or characters): computed on raw
    strings, ROUGE implementations drop CJK characters and score Chinese as 0."""
    if not reference or not candidate:
        return 0.0
    lcs = _lcs(reference, candidate)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(candidate), lcs / len(reference)
    return 2 * p * r / (p + r)


def chrf(reference: str, candidate: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF (character n-gram F-score, n=1..6, beta=2), whitespace removed; language-independent."""
    ref, cand = "".join(reference.split()), "".join(candidate.split())
    precisions, recalls = [], []
    for k in range(1, n + 1):
        rc = Counter(ref[i : i + k] for i in range(len(ref) - k + 1))
        cc = Counter(cand[i : i + k] for i in range(len(cand) - k + 1))
        if not rc or not cc:
            continue
        overlap = sum((rc & cc).values())
        precisions.append(overlap / sum(cc.values()))
        recalls.append(overlap / sum(rc.values()))
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if p + r == 0 else (1 + beta**2) * p * r / (beta**2 * p + r)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(arr, 50)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
            "p99": round(float(np.percentile(arr, 99)), 3), "n": len(values)}


def mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def grouped(rows: Sequence[dict[str, Any]], key: str,
            fn: Callable[[Sequence[dict[str, Any]]], dict[str, float]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get(key) or "unknown"), []).append(row)
    return {name: fn(items) for name, items in sorted(groups.items())}
