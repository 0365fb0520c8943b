"""Knowledge gaps: recent handed-off and low-confidence questions nobody resolved, clustered by meaning."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from core.store import Store
from retrieval.embed import Embedder, embed_in_batches


def cluster_by_similarity(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Greedy single pass: each vector joins the most similar running centroid at ``similarity`` or more,
    else starts a cluster (order-dependent but linear in clusters, enough for an editor's to-do list)."""
    clusters: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, v in enumerate(vectors):
        sims = [float(c @ v) / float(np.linalg.norm(c)) for c in centroids]
        best = int(np.argmax(sims)) if sims else -1
        if best >= 0 and sims[best] >= similarity:
            clusters[best].append(i)
            centroids[best] = centroids[best] + v
        else:
            clusters.append([i])
            centroids.append(v.copy())
    return clusters


def find_gaps(store: Store, embedder: Embedder, days: int = 30, max_confidence: float = 0.5,
              similarity: float = 0.9, limit: int = 20) -> list[dict[str, Any]]:
    """Clusters of recent unresolved hand-offs, largest first, so editors write the missing entries first."""
    asks = [a for a in store.asks.since(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
            if a.decision != "answer" or a.confidence < max_confidence]  # handed off, clarified or unsure
    if asks:  # not a gap any more once an agent resolved it or a vote picked an entry
        handled = store.asks.handled_request_ids()
        asks = [a for a in asks if a.request_id not in handled]
    if not asks:
        return []
    clusters = cluster_by_similarity(embed_in_batches(embedder, [a.question for a in asks]), similarity)
    out = []
    for members in sorted(clusters, key=lambda m: (-len(m), m[0]))[:limit]:
        examples = list(dict.fromkeys(asks[i].question for i in members))
        out.append({"count": len(members), "examples": examples[:5],
                    "decisions": dict(Counter(asks[i].decision for i in members)),
                    "mean_confidence": round(float(np.mean([asks[i].confidence for i in members])), 3),
                    "last_seen": max(asks[i].created_at for i in members).isoformat()})
    return out
