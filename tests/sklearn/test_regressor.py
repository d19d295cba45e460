"""xmlp.sklearn.MLPRegressor: scikit-learn's estimator checks, the model-selection tools, multi-
output, and agreement with the Sequential it wraps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is needed for xmlp.sklearn")
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import xmlp  # noqa: E402
from xmlp.sklearn import MLPRegressor  # noqa: E402

# float32 predictions of a row can differ in the last bit (~1e-7 relative) with the number of
# rows predicted together (the BLAS kernel depends on it); the check wants 1e-7 absolute. In
# float64 (the second estimator) the check passes.
SUBSET = {"check_methods_subset_invariance": "float32 outputs differ in the last bit with the batch's row count"}
WEIGHTS = {"check_sample_weight_equivalence_on_dense_data": "minibatch descent on shuffled rows: see test_classifier.py"}
ESTIMATORS = [MLPRegressor(random_state=0), MLPRegressor(dtype="float64", epochs=30, random_state=0),
              MLPRegressor(early_stopping=True, loss="huber", ensemble=2, epochs=20, random_state=0)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: WEIGHTS | ({} if est.dtype == "float64" else SUBSET))
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_it_is_the_sequential_it_wraps(diabetes):
    x, y = diabetes
    reg = MLPRegressor((8,), epochs=5, random_state=3).fit(x, y)
    model = xmlp.Sequential([xmlp.Dense(8, "relu", kernel_initializer="heUniform"), xmlp.Dense(1, "linear")],
                            task="regression")
    model.fit(x, y, epochs=5, batch_size=32, optimizer=xmlp.Adam(weight_decay=0.1), seed=3)
    np.testing.assert_array_equal(reg.predict(x), model.predict(x))
    assert reg.n_outputs_ == 1 and reg.n_iter_ == 5 and len(reg.loss_curve_) == 5
    assert reg.score(x, y) == pytest.approx(r2_score(y, reg.predict(x)), rel=1e-12)


def test_model_selection_tools_and_a_transformed_target(diabetes):
    x, y = diabetes
    pipe = make_pipeline(StandardScaler(), MLPRegressor((8,), epochs=10, random_state=0))
    scores = cross_val_score(pipe, x, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    search = GridSearchCV(MLPRegressor((8,), epochs=5, random_state=0), {"loss": ["mse", "mae"]}, cv=2).fit(x, y)
    assert search.best_params_["loss"] in ("mse", "mae")
    wrapped = TransformedTargetRegressor(MLPRegressor((8,), epochs=5, target_scaling=False, random_state=0),
                                         transformer=StandardScaler()).fit(x, y)
    assert wrapped.predict(x).shape == (442,)


def test_multi_output_and_warm_start(diabetes):
    x, y = diabetes
    targets = np.stack([y, -2 * y + 100], axis=1)
    reg = MLPRegressor((16,), epochs=20, random_state=0).fit(x, targets)
    assert reg.predict(x).shape == (442, 2) and reg.n_outputs_ == 2
    assert reg.score(x, targets) == pytest.approx(r2_score(targets, reg.predict(x)), rel=1e-12)
    whole = MLPRegressor((8,), epochs=4, random_state=1).fit(x, y)
    parts = MLPRegressor((8,), epochs=2, random_state=1, warm_start=True).fit(x, y).fit(x, y)
    np.testing.assert_array_equal(parts.predict(x), whole.predict(x))  # 2 + 2 epochs are 4
    assert parts.n_iter_ == 4 and len(parts.loss_curve_) == 4
    with pytest.raises(ValueError, match="expected the parameters and targets that shaped the fitted model"):
        parts.fit(x, targets)


def test_early_stopping_reports_validation_r2(diabetes):
    x, y = diabetes
    reg = MLPRegressor(early_stopping=True, patience=3, epochs=200, random_state=0).fit(x, y)
    assert reg.n_iter_ < 200 and len(reg.validation_scores_) == reg.n_iter_
    assert all(-1 < s < 1 for s in reg.validation_scores_)


def test_scikit_learns_parameter_names_are_taken(diabetes):
    """A drop-in for sklearn.neural_network: its names map to xmlp's (alpha: its gradient alpha W / batch)."""
    from xmlp.sklearn import MLPClassifier

    x, y = diabetes
    reg = MLPRegressor((8,), max_iter=3, solver="sgd", learning_rate_init=0.001, alpha=0.32, activation="identity",
                       learning_rate="constant", batch_size=32, random_state=0).fit(x, y)
    assert reg.n_iter_ == 3 and reg.model_.layers[0].activation.name == "linear"
    assert reg.model_.training_state.optimizers[0].config() == {"name": "sgd", "learning_rate": 0.001,
                                                                "weight_decay": 0.01, "decoupled": False}
    clf = MLPClassifier(max_iter=2, activation="logistic").fit(x, y > 140)
    assert clf.n_iter_ == 2 and clf.model_.layers[0].activation.name == "sigmoid"
    with pytest.raises(ValueError, match="expected solver 'sgd' or 'adam'"):
        MLPRegressor(solver="lbfgs").fit(x, y)
    with pytest.raises(ValueError, match="expected learning_rate a number, None or 'constant'; received 'adaptive'"):
        MLPRegressor(learning_rate="adaptive").fit(x, y)
    assert reg.get_params()["max_iter"] == 3  # a parameter like any other: clone and GridSearchCV keep it


def test_sample_weight_reaches_the_loss(diabetes):
    """Full batches: integer weights give the estimator duplicated rows' weights (as Sequential's)."""
    x, y = diabetes
    x, y = x[:60], y[:60]
    w = np.random.default_rng(1).integers(0, 3, 60)
    params = dict(hidden_layer_sizes=(4,), epochs=3, batch_size=1000, preprocess=None, target_scaling=False,
                  dtype="float64", random_state=0)
    a = MLPRegressor(**params).fit(x, y, sample_weight=w)
    rows = np.repeat(np.arange(60), w)
    b = MLPRegressor(**params).fit(x[rows], y[rows])
    # float64, full batch: the same sum in another order (see tests/models/test_weights.py)
    np.testing.assert_allclose(a.predict(x), b.predict(x), rtol=1e-12)
    from xmlp.sklearn import MLPClassifier

    clf = MLPClassifier((4,), epochs=2, class_weight="balanced", random_state=0).fit(x, y > 150)
    assert clf.n_iter_ == 2 and clf.get_params()["class_weight"] == "balanced"
