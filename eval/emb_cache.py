"""An on-disk cache of embeddings for benchmarks (keyed by model, query/passage and text hash).

Benchmarks embed the same tens of thousands of texts on every run; on a shared 2-core machine that is
most of their time. ``CachingEmbedder`` wraps any ``Embedder`` and keeps vectors in one SQLite file
(default ``/tmp/supportkb-emb-cache/emb.sqlite``, ``KB_EMB_CACHE`` overrides), so a re-run only embeds
what it has not seen."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.embed import Embedder

DEFAULT_CACHE = Path(os.environ.get("KB_EMB_CACHE", "/tmp/supportkb-emb-cache")) / "emb.sqlite"


class CachingEmbedder:
    """Same interface as the wrapped embedder; vectors are read from and written to the cache."""

    def __init__(self, inner: Embedder, path: Path = DEFAULT_CACHE) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.inner.warm_up()

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha1(f"{self.model_id}\x00{kind}\x00{text}".encode()).hexdigest()

    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        keys = [self._key(kind, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = sorted({i for i, k in enumerate(keys) if k not in found}, key=lambda i: keys[i])
        todo = list(dict.fromkeys(keys[i] for i in missing))
        if todo:
            first = {keys[i]: i for i in reversed(missing)}
            batch = [texts[first[k]] for k in todo]
            vectors = self.inner.embed_queries(batch) if kind == "q" else self.inner.embed_passages(batch)
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                                     [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(todo, vectors,
                                                                                                     strict=True)])
                self._db.commit()
            found.update({k: np.asarray(v, dtype=np.float32) for k, v in zip(todo, vectors, strict=True)})
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[k] for k in keys])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "q")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "p")


def cached(inner: Embedder) -> CachingEmbedder:
    return CachingEmbedder(inner)
