"""Training the triage models from labelled history: the team router and the anger classifier."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from answering.calibration import threshold_for_precision
from core.errors import BadInput
from core.progress import ProgressFactory
from retrieval.embed import Embedder, embed_in_batches
from retrieval.embed_english import is_english

from .classifier import TextClassifier, join_english, read_labelled, train_text_classifier
from .emotion import EmotionDetector


def router_features(embedder: Embedder, english: Embedder | None, texts: Sequence[str],
                    progress: ProgressFactory | None = None) -> np.ndarray:
    """The router's input vectors: the shared embedding, and with an English embedder its vector appended
    (zeros for texts that are not English). On banking77 the English vector lifts the router from 0.923
    to 0.942 (``python -m eval.bench_routing``)."""
    vectors = embed_in_batches(embedder, texts, progress)
    if english is None:
        return vectors
    rows = [i for i, t in enumerate(texts) if is_english(t)]
    extra = np.zeros((len(texts), english.dim), dtype=np.float32)
    if rows:
        extra[rows] = embed_in_batches(english, [texts[i] for i in rows], progress)
    return join_english(vectors, extra, english.dim)


def train_router(embedder: Embedder, path: Path, text_field: str, label_field: str, version: int,
                 progress: ProgressFactory | None = None, english: Embedder | None = None) -> TextClassifier:
    """The team classifier on every labelled row (the router's own cross-validation picks its parts)."""
    texts, labels = read_labelled(path, text_field, label_field)
    clf = train_text_classifier(texts, labels, router_features(embedder, english, texts, progress),
                                embedder_id=embedder.model_id, version=version, ensemble=True)
    clf.meta["source"] = path.name
    if english is not None:
        clf.meta.update({"english_dim": english.dim, "english_model": english.model_id})
    return clf


def train_emotion(embedder: Embedder, path: Path, text_field: str, label_field: str, positive: Sequence[str],
                  target_precision: float = 0.91, progress: ProgressFactory | None = None) -> TextClassifier:
    """The anger classifier (labels in ``positive`` vs the rest) on 80% of the rows; the escalation threshold
    for ``target_precision`` is derived on the other 20%, so it is not measured on its own training rows."""
    texts, raw = read_labelled(path, text_field, label_field)
    wanted = {p.strip() for p in positive}
    labels = ["angry" if any(part.strip() in wanted for part in lab.split(",")) else "neutral" for lab in raw]
    if len(set(labels)) < 2:
        raise BadInput(f"{path}: no row has a label in {sorted(wanted)} (or every row has)")
    vectors = embed_in_batches(embedder, texts, progress)
    order = np.random.default_rng(0).permutation(len(texts))
    cut = int(len(order) * 0.8)
    train, val = order[:cut], order[cut:]
    clf = train_text_classifier([texts[i] for i in train], [labels[i] for i in train], vectors[train],
                                class_weight="balanced", embedder_id=embedder.model_id)
    detector = EmotionDetector(clf, threshold=1.0)
    scores = [detector.score(texts[i], vectors[i]) for i in val]
    threshold = threshold_for_precision(scores, [labels[i] == "angry" for i in val], target_precision)
    clf.meta.update({"threshold": threshold, "target_precision": target_precision, "positive": sorted(wanted),
                     "source": path.name})
    return clf
