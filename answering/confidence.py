"""Probability models over answer signals: logistic or calibrated gradient boosting, picked by cross-validation.

A ``ProbabilityModel`` is JSON-serialisable (it is stored in the knowledge base's record like the rest of
the calibration): a logistic model keeps its coefficients, a boosted one (scikit-learn's
HistGradientBoostingClassifier inside CalibratedClassifierCV with isotonic output, which can use
interactions between signals) keeps its fitted estimator as base64 joblib bytes. ``fit_probability``
computes out-of-fold probabilities for both and keeps the one with the lower out-of-fold log-loss;
with few labels (or one rare class) only the logistic model is tried."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, PrivateAttr

from answering.tree_ensemble import TreeEnsemble
from core.errors import BadInput

MIN_BOOSTED = 400
"""Fewer labelled rows than this (or fewer than MIN_BOOSTED / 10 of the rarer class): logistic only."""


class ProbabilityModel(BaseModel):
    """P(label) from a dict of signals; ``features`` names the inputs in order."""

    kind: Literal["logistic", "boosted"] = "logistic"
    features: tuple[str, ...]
    coef: tuple[float, ...] = ()
    intercept: float = 0.0
    blob: str | None = None
    oof_log_loss: float | None = None
    _estimator: Any = PrivateAttr(default=None)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        return np.asarray([[float(r.get(name, 0.0)) for name in self.features] for r in rows], dtype=np.float64)

    def predict(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        x = self.matrix(rows)
        if self.kind == "logistic":
            z = np.clip(x @ np.asarray(self.coef) + self.intercept, -60.0, 60.0)
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
        if self._estimator is None:
            self._estimator = _load_boosted(self.blob or "")
        if isinstance(self._estimator, TreeEnsemble):
            return self._estimator.predict_proba(x)
        with _one_thread():
            return np.asarray(self._estimator.predict_proba(x)[:, 1])

    def probability(self, row: Mapping[str, float]) -> float:
        if self.kind == "logistic":
            z = self.intercept + sum(c * float(row.get(n, 0.0)) for n, c in zip(self.features, self.coef, strict=True))
            return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))
        return float(self.predict([row])[0])


def _load_boosted(blob: str) -> Any:
    """The stored estimator as flat tree arrays (``answering.tree_ensemble``), or as scikit-learn's own object
    when it is not a shape those support."""
    import joblib

    estimator = joblib.load(io.BytesIO(base64.b64decode(blob)))
    try:
        return TreeEnsemble(estimator)
    except ValueError:
        return estimator


_CONTROLLER: Any = None


def _one_thread() -> Any:
    """OpenMP threads of the gradient boosting fight the embedder and each other on small machines.

    One ``ThreadpoolController`` for the process, made at the first boosted prediction (after the estimator,
    and with it scikit-learn's OpenMP runtime, is loaded): ``threadpool_limits()`` builds a new one on every
    call, walking every shared library loaded, which cost 6.5 ms per call in the API process (three calls per
    ``/v1/ask`` with a boosted calibration: answer, set and again answer) against 0.05 ms for ``limit`` on a
    kept controller."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="openmp")


def _logistic(x: np.ndarray, y: np.ndarray, c_value: float) -> tuple[np.ndarray, float]:
    """Coefficients on the raw scale of a logistic regression fitted on standardised inputs."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c_value, max_iter=3000).fit((x - mean) / scale, y)
    coef = lr.coef_[0] / scale
    return coef, float(lr.intercept_[0] - np.sum(lr.coef_[0] * mean / scale))


def _boosted() -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    hgb = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.06, max_leaf_nodes=15, min_samples_leaf=30,
                                         l2_regularization=1.0, random_state=0)
    return CalibratedClassifierCV(hgb, method="isotonic", cv=3)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_probability(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], features: Sequence[str],
                    c_value: float = 1.0, folds: int = 5, allow_boosted: bool = True,
                    ) -> tuple[ProbabilityModel, np.ndarray]:
    """(model fitted on every row, out-of-fold probabilities of the chosen kind)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=int)
    if len(y) < 10 or y.min() == y.max():
        raise BadInput(f"a confidence model needs at least 10 labelled questions of both kinds "
                       f"(got {len(y)}, {int(y.sum())} positive)")
    n_splits = int(min(folds, np.bincount(y, minlength=2).min()))
    if n_splits < 2:
        raise BadInput("a confidence model needs at least 2 positive and 2 negative questions")
    template = ProbabilityModel(features=tuple(features))
    x = template.matrix(rows)
    split = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0).split(x, y))
    best_kind, best_oof, best_loss, best_c = "logistic", np.zeros(len(y)), math.inf, c_value
    # the regularisation strength by cross-validation too: with few labels and many signals, less is more
    for c in sorted({c_value * 0.1, c_value, c_value * 10.0}):
        oof_lr = np.zeros(len(y))
        for train, test in split:
            coef, icpt = _logistic(x[train], y[train], c)
            oof_lr[test] = 1.0 / (1.0 + np.exp(-np.clip(x[test] @ coef + icpt, -60, 60)))
        loss = _log_loss(y, oof_lr)
        if loss < best_loss - 1e-9:
            best_oof, best_loss, best_c = oof_lr, loss, c
    rare = int(np.bincount(y, minlength=2).min())
    if allow_boosted and len(y) >= MIN_BOOSTED and rare >= MIN_BOOSTED // 10:
        oof_b = np.zeros(len(y))
        with _one_thread():
            for train, test in split:
                oof_b[test] = _boosted().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        loss = _log_loss(y, oof_b)
        if loss < best_loss:
            best_kind, best_oof, best_loss = "boosted", oof_b, loss
    if best_kind == "logistic":
        coef, icpt = _logistic(x, y, best_c)
        model = ProbabilityModel(kind="logistic", features=tuple(features), coef=tuple(float(c) for c in coef),
                                 intercept=icpt, oof_log_loss=round(best_loss, 5))
    else:
        import joblib

        buf = io.BytesIO()
        with _one_thread():
            joblib.dump(_boosted().fit(x, y), buf, compress=3)
        model = ProbabilityModel(kind="boosted", features=tuple(features),
                                 blob=base64.b64encode(buf.getvalue()).decode(), oof_log_loss=round(best_loss, 5))
    return model, best_oof
