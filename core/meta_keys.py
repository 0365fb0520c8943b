"""The keys of the ``kb_meta`` table, defined once: what the knowledge base stores about itself."""

from __future__ import annotations

from enum import StrEnum


class MetaKey(StrEnum):
    manifest = "manifest"
    """Embedding model, tokenizer, BM25 and chunker settings the index was built with."""
    bm25_stats = "bm25_stats"
    """Unit count and token total behind BM25's average document length."""
    fusion = "fusion"
    """The dense/BM25 fusion model (``kb fit-fusion``)."""
    calibration = "calibration"
    """The confidence model and answer threshold (``kb calibrate``)."""
    calibration_set = "calibration_set"
    """The labelled questions of the last calibration, for refits."""
    generation = "learning_generation"
    """Bumped by every change other processes must pick up (calibration, fusion, demotions, edits)."""
