"""Text classifiers on the shared question embedding plus lexical (TF-IDF) features.

The service embeds a question once; retrieval, routing and emotion all use that vector, so a
classifier adds well under a millisecond. Lexical features catch what a small embedding model
blurs (product names, "card", "PIN"), and character n-grams make them work for Chinese too."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInput, NotFound

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"


class TextClassifier:
    def __init__(self, model: Any, vectorizers: list[Any], labels: list[str], meta: dict[str, Any]) -> None:
        self._model = model
        self._vectorizers = vectorizers
        self.labels = labels
        self.meta = meta

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 1))

    def _features(self, texts: Sequence[str], embeddings: np.ndarray) -> Any:
        from scipy import sparse

        parts = [sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64))]
        parts += [v.transform(list(texts)) for v in self._vectorizers]
        return sparse.hstack(parts).tocsr()

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """One row per text, one column per label (``self.labels`` order)."""
        proba = self._model.predict_proba(self._features(texts, embeddings))
        return np.asarray(proba)

    def predict(self, texts: Sequence[str], embeddings: np.ndarray) -> list[tuple[str, float]]:
        proba = self.predict_proba(texts, embeddings)
        return [(self.labels[int(i)], float(p[int(i)])) for p, i in zip(proba, proba.argmax(axis=1), strict=True)]

    def save(self, folder: Path) -> None:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"model": self._model, "vectorizers": self._vectorizers, "labels": self.labels},
                    folder / MODEL_FILE)
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TextClassifier:
        import joblib

        if not (folder / MODEL_FILE).is_file():
            raise NotFound(f"no trained model in {folder}")
        data = joblib.load(folder / MODEL_FILE)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return cls(data["model"], data["vectorizers"], list(data["labels"]), meta)


def train_text_classifier(
    texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, *, c_value: float = 4.0,
    lexical: bool = True, class_weight: str | None = None, embedder_id: str = "", version: int = 1,
) -> TextClassifier:
    """Logistic regression over [embedding | word 1-2 grams | char 1-3 grams] (TF-IDF, sublinear)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len(texts) != len(labels) or len(texts) != len(embeddings):
        raise BadInput("texts, labels and embeddings differ in length")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise BadInput(f"training needs at least 2 classes, got {classes}")
    vectorizers: list[Any] = []
    if lexical:
        vectorizers = [
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True, lowercase=True,
                            max_features=50000),
        ]
        for v in vectorizers:
            v.fit(list(texts))
    x = sparse.hstack([sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64))]
                      + [v.transform(list(texts)) for v in vectorizers]).tocsr()
    model = LogisticRegression(C=c_value, max_iter=3000, class_weight=class_weight)
    model.fit(x, list(labels))
    meta = {"version": version, "labels": [str(c) for c in model.classes_],
            "trained_at": dt.datetime.now(dt.UTC).isoformat(), "n_train": len(texts), "embedder": embedder_id,
            "c": c_value, "lexical": lexical}
    return TextClassifier(model, vectorizers, [str(c) for c in model.classes_], meta)


def read_labelled(path: Path, text_field: str, label_field: str) -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV or JSONL file, with errors that say what is wrong."""
    import csv

    from ingest.readers import decode_bytes

    if not path.is_file():
        raise BadInput(f"no such training file: {path}")
    text, _ = decode_bytes(path.read_bytes())
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise BadInput(f"{path} line {n}: invalid JSON ({exc.msg})") from exc
    elif path.suffix.lower() in {".csv", ".tsv"}:
        rows = list(csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    else:
        raise BadInput(f"training file must be .csv, .tsv or .jsonl: {path}")
    if not rows:
        raise BadInput(f"{path} has no rows")
    present = sorted(rows[0].keys())
    missing = [f for f in (text_field, label_field) if f not in rows[0]]
    if missing:
        raise BadInput(f"{path}: missing column(s) {missing}; columns present: {present}")
    pairs = [(str(r.get(text_field) or "").strip(), str(r.get(label_field) or "").strip()) for r in rows]
    pairs = [(t, lab) for t, lab in pairs if t and lab]
    if not pairs:
        raise BadInput(f"{path}: no rows with both {text_field!r} and {label_field!r}")
    labels = {lab for _, lab in pairs}
    if len(labels) < 2:
        raise BadInput(f"{path}: only one class ({next(iter(labels))!r}); a classifier needs at least two")
    return [t for t, _ in pairs], [lab for _, lab in pairs]
