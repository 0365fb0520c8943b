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
    """The logistic model over [embedding | n-grams] and, optionally, the char n-gram linear-SVM baseline as a
    second member: probabilities are ``(1 - baseline_weight) * logistic + baseline_weight * baseline``, with
    the weight chosen by cross-validation at training time (``train_text_classifier(ensemble=True)``)."""

    def __init__(self, model: Any, vectorizers: list[Any], labels: list[str], meta: dict[str, Any],
                 baseline: Any = None, baseline_weight: float = 0.0) -> None:
        self._model = model
        self._vectorizers = vectorizers
        self.labels = labels
        self.meta = meta
        self._baseline = baseline
        self.baseline_weight = baseline_weight if baseline is not None else 0.0

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 1))

    @property
    def english_dim(self) -> int:
        """Length of the English embedder's vector appended to the shared embedding (0: trained without)."""
        return int(self.meta.get("english_dim", 0))

    def _features(self, texts: Sequence[str], embeddings: np.ndarray) -> Any:
        from scipy import sparse

        parts = [sparse.csr_matrix(np.asarray(embeddings, dtype=np.float64))]
        parts += [v.transform(list(texts)) for v in self._vectorizers]
        return sparse.hstack(parts).tocsr()

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """One row per text, one column per label (``self.labels`` order)."""
        w = self.baseline_weight
        proba = (np.zeros((len(texts), len(self.labels))) if w >= 1.0
                 else np.asarray(self._model.predict_proba(self._features(texts, embeddings))))
        if w > 0.0:
            proba = (1.0 - w) * proba + w * np.asarray(self._baseline.predict_proba(list(texts)))
        return proba

    def predict(self, texts: Sequence[str], embeddings: np.ndarray) -> list[tuple[str, float]]:
        proba = self.predict_proba(texts, embeddings)
        return [(self.labels[int(i)], float(p[int(i)])) for p, i in zip(proba, proba.argmax(axis=1), strict=True)]

    def save(self, folder: Path) -> None:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"model": self._model, "vectorizers": self._vectorizers, "labels": self.labels,
                     "baseline": self._baseline, "baseline_weight": self.baseline_weight}, folder / MODEL_FILE)
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TextClassifier:
        import joblib

        if not (folder / MODEL_FILE).is_file():
            raise NotFound(f"no trained model in {folder}")
        data = joblib.load(folder / MODEL_FILE)
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return cls(data["model"], data["vectorizers"], list(data["labels"]), meta, data.get("baseline"),
                   float(data.get("baseline_weight", 0.0)))


def join_english(vectors: np.ndarray, english: np.ndarray | None, dim: int) -> np.ndarray:
    """[shared embedding | English embedding] per row; zeros where a text has no English vector."""
    vectors = np.atleast_2d(vectors)
    extra = (np.zeros((len(vectors), dim), dtype=np.float32) if english is None
             else np.atleast_2d(np.asarray(english, dtype=np.float32)))
    return np.hstack([vectors.astype(np.float32), extra])


def char_svm_baseline(texts: Sequence[str], labels: Sequence[str]) -> Any:
    """The simplest strong text classifier: character 1-3-gram TF-IDF and a linear SVM, with sigmoid-calibrated
    probabilities (so it can be averaged with the logistic model)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    folds = int(min(3, min(np.unique(np.asarray(labels), return_counts=True)[1])))
    svm = LinearSVC(C=1.0)
    model = CalibratedClassifierCV(svm, cv=folds, method="sigmoid") if folds >= 2 else svm
    pipe = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=True),
                         model)
    return pipe.fit(list(texts), list(labels))


WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_baseline_weight(texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray,
                           fit_main: Any, folds: int = 3) -> tuple[float, dict[str, float]]:
    """The baseline's weight in the ensemble with the best cross-validated accuracy (ties: less baseline)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    n_splits = int(min(folds, min(np.unique(y, return_counts=True)[1])))
    if n_splits < 2:
        return 0.0, {}
    right = dict.fromkeys(WEIGHTS, 0)
    for train, held in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0).split(embeddings, y):
        main = fit_main([texts[i] for i in train], [labels[i] for i in train], embeddings[train])
        base = char_svm_baseline([texts[i] for i in train], [labels[i] for i in train])
        classes = list(main.labels)
        if list(base.classes_) != classes:
            return 0.0, {}
        p_main = main.predict_proba([texts[i] for i in held], embeddings[held])
        p_base = np.asarray(base.predict_proba([texts[i] for i in held]))
        for w in WEIGHTS:
            pred = np.asarray(classes)[((1 - w) * p_main + w * p_base).argmax(axis=1)]
            right[w] += int((pred == y[held]).sum())
    scores = {f"{w:g}": right[w] / len(y) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: (right[w], -w))
    return best, scores


def train_text_classifier(
    texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, *, c_value: float = 4.0,
    lexical: bool = True, class_weight: str | None = None, embedder_id: str = "", version: int = 1,
    ensemble: bool = False,
) -> TextClassifier:
    """Logistic regression over [embedding | word 1-2 grams | char 1-3 grams] (TF-IDF, sublinear). With
    ``ensemble``, the char n-gram linear-SVM baseline joins it with the weight (0 to 1) that
    cross-validation on the training texts picks, so the classifier does not lose to the baseline."""
    if len(texts) != len(labels) or len(texts) != len(embeddings):
        raise BadInput("texts, labels and embeddings differ in length")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise BadInput(f"training needs at least 2 classes, got {classes}")

    def fit_main(tx: Sequence[str], ty: Sequence[str], emb: np.ndarray) -> TextClassifier:
        return _train_logistic(tx, ty, emb, c_value=c_value, lexical=lexical, class_weight=class_weight,
                               embedder_id=embedder_id, version=version)

    if not ensemble:
        return fit_main(texts, labels, embeddings)
    weight, cv_scores = choose_baseline_weight(texts, labels, embeddings, fit_main)
    base = char_svm_baseline(texts, labels) if weight > 0.0 else None
    if weight < 1.0 or base is None:
        clf = fit_main(texts, labels, embeddings)
    else:  # the baseline alone: no logistic model to fit
        names = [str(c) for c in base.classes_]
        clf = TextClassifier(None, [], names, {
            "version": version, "labels": names, "n_train": len(texts),
            "trained_at": dt.datetime.now(dt.UTC).isoformat(), "embedder": embedder_id})
    clf.meta.update({"baseline_weight": weight, "cv_accuracy_by_baseline_weight": cv_scores})
    return TextClassifier(clf._model, clf._vectorizers, clf.labels, clf.meta, base, weight)


def _train_logistic(
    texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, *, c_value: float, lexical: bool,
    class_weight: str | None, embedder_id: str, version: int,
) -> TextClassifier:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
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
    from ingest.records import read_records, record_format

    if not path.is_file():
        raise BadInput(f"no such training file: {path}")
    if record_format(path) is None:
        raise BadInput(f"training file must be .csv, .tsv or .jsonl: {path}")
    _, records, _ = read_records(path)
    broken = next((r for r in records if r.data is None), None)
    if broken is not None:
        raise BadInput(f"{path} {broken.location}: {broken.error}")
    rows: list[dict[str, Any]] = [r.data for r in records if r.data is not None]
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
