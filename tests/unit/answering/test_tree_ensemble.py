"""The boosted model's numpy prediction against scikit-learn's own (oracle), and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

from answering.confidence import ProbabilityModel, _boosted, fit_probability
from answering.tree_ensemble import TreeEnsemble


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (x[:, 0] + x[:, 1] * x[:, 2] - 0.5 * x[:, 3] ** 2 + rng.normal(size=n) > 0).astype(int)
    return x, y


def test_same_probabilities_as_scikit_learn_including_missing_values() -> None:
    x, y = _data(3000, 0)
    x[::17, 2] = np.nan  # trained with missing values: each split learns where they go
    model = _boosted().fit(x, y)
    fast = TreeEnsemble(model)
    probe, _ = _data(700, 1)
    probe[::5, 1] = np.nan
    probe[::7, 2] = np.nan
    probe[0] = 1e6  # beyond every threshold and the isotonic range: clipped as scikit-learn clips
    probe[1] = -1e6
    np.testing.assert_allclose(fast.predict_proba(probe), model.predict_proba(probe)[:, 1], rtol=0, atol=1e-12)
    one = probe[3:4]
    assert fast.predict_proba(one)[0] == pytest.approx(model.predict_proba(one)[0, 1], abs=1e-12)


def test_a_stored_boosted_model_predicts_with_the_arrays_and_agrees() -> None:
    x, y = _data(1200, 2)
    rows = [{f"s{j}": float(v) for j, v in enumerate(r)} for r in x]
    model, _ = fit_probability(rows, [bool(v) for v in y], [f"s{j}" for j in range(6)])
    assert model.kind == "boosted"  # interactions: the logistic model cannot fit them
    stored = ProbabilityModel.model_validate_json(model.model_dump_json())
    probe, _ = _data(50, 3)
    probe_rows = [{f"s{j}": float(v) for j, v in enumerate(r)} for r in probe]
    got = [stored.probability(r) for r in probe_rows]
    assert isinstance(stored._estimator, TreeEnsemble)
    import base64
    import io

    import joblib

    reference = joblib.load(io.BytesIO(base64.b64decode(stored.blob or ""))).predict_proba(probe)[:, 1]
    np.testing.assert_allclose(got, reference, rtol=0, atol=1e-12)


def test_refuses_what_it_does_not_implement() -> None:
    x, y = _data(600, 4)
    sigmoid = CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=20), method="sigmoid", cv=2).fit(x, y)
    with pytest.raises(ValueError, match="isotonic"):
        TreeEnsemble(sigmoid)
    with pytest.raises(ValueError, match="binary"):
        TreeEnsemble(HistGradientBoostingClassifier(max_iter=5).fit(x, y))
    categorical = CalibratedClassifierCV(
        HistGradientBoostingClassifier(max_iter=20, categorical_features=[0]), method="isotonic", cv=2,
    ).fit(np.column_stack([np.arange(600) % 4, x[:, 1:]]), y)
    with pytest.raises(ValueError):
        TreeEnsemble(categorical)
