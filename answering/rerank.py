"""The reranking seam. By default the learned fusion already ranks (no cross-encoder can be installed
offline here); a user who has a cross-encoder on disk sets ``KB_RERANKER_MODEL`` to its path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from core.errors import BackendError
from core.models import SearchHit
from core.settings import Settings


class Reranker(Protocol):
    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]: ...


class CrossEncoderReranker:
    """sentence-transformers ``CrossEncoder`` over (query, passage) pairs; the score replaces the hit's
    score only for ordering, and is kept in ``features['cross_encoder']`` for calibration."""

    def __init__(self, model_path: str, top_n: int = 10) -> None:
        self._path = model_path
        self._top_n = top_n
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            try:
                self._model = CrossEncoder(self._path, device="cpu")
            except (OSError, ValueError) as exc:
                raise BackendError(f"cannot load cross-encoder {self._path!r}: {exc}") from exc

    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
        self.warm_up()
        head, tail = list(hits[: self._top_n]), list(hits[self._top_n :])
        if not head:
            return []
        texts = [f"{h.question}\n{h.text}" if h.question else h.text for h in head]
        scores = self._model.predict([(query, t) for t in texts])
        rescored = [h.model_copy(update={"features": {**h.features, "cross_encoder": float(s)}})
                    for h, s in zip(head, scores, strict=True)]
        order = sorted(range(len(rescored)), key=lambda i: -float(scores[i]))
        return [rescored[i] for i in order] + tail


def build_reranker(settings: Settings) -> Reranker | None:
    return CrossEncoderReranker(settings.reranker_model) if settings.reranker_model else None
