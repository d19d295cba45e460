"""xmlp.sklearn.MLPClassifier: scikit-learn's estimator checks, the model-selection tools, and
array-API dispatch (torch CPU and array-api-strict inputs train and answer in their library)."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pytest

import xmlp

sklearn = pytest.importorskip("sklearn", reason="scikit-learn not installed (pip install 'xmlp[sklearn]')")

from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from xmlp import BatchNorm, CosineDecay, Dropout  # noqa: E402
from xmlp.sklearn import MLPClassifier  # noqa: E402

HAS_TORCH = importlib.util.find_spec("torch") is not None

# Checks that cannot pass, each with its reason (scikit-learn's expected_failed_checks). The
# array-API checks for CuPy, CUDA, MPS and XPU devices skip where that hardware is absent.
SAMPLE_WEIGHT_REASON = ("minibatch descent on shuffled rows: a row of weight 2 is one term of its batch, its duplicate "
                        "another batch's; with full batches the weights equal duplicated rows "
                        "(tests/models/test_weights.py)")
EXPECTED_FAILED_CHECKS: dict[str, str] = {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON}


# The defaults, xmlp train's recipe (Yeo-Johnson, input noise) as an ensemble of two, and the
# training toolkit (dropout, BatchNorm, a cosine schedule with warm-up, clipping).
ESTIMATORS = [MLPClassifier(), MLPClassifier(preprocess="yeo-johnson", input_noise=0.2, ensemble=2, epochs=30),
              MLPClassifier(dropout=0.1, norm="batch", lr_schedule=CosineDecay(30, min_lr=1e-4, warmup=3), clip_norm=1.0,
                            epochs=30,
                            optimizer="adam", learning_rate=0.01)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_conventions(wdbc):
    x, y, names = wdbc
    clf = MLPClassifier((8,), epochs=5, random_state=0)
    assert clf.get_params()["hidden_layer_sizes"] == (8,) and not hasattr(clf, "model_")
    assert clf.fit(x, y) is clf
    assert list(clf.classes_) == ["B", "M"] and clf.n_features_in_ == 30 and clf.n_iter_ == 5
    assert len(clf.loss_curve_) == 5 and clf.validation_scores_ is None
    predicted = clf.predict(x[:10])
    assert isinstance(predicted, np.ndarray) and set(predicted) <= {"B", "M"}
    assert clf.predict_proba(x[:10]).shape == (10, 2) and 0.8 < clf.score(x, y) <= 1.0
    assert clf.model_.classes == ["B", "M"]  # the Sequential it wraps, ready to save


def test_the_toolkit_parameters_shape_the_network_and_its_training(wdbc):
    x, y, _ = wdbc
    schedule = CosineDecay(6, warmup=2)
    clf = MLPClassifier((8, 6), dropout=0.25, norm="batch", lr_schedule=schedule, clip_norm=0.5, optimizer="adam",
                        learning_rate=0.01, epochs=6, batch_size=16, random_state=0).fit(x, y)  # 569 % 16 = 9
    kinds = [layer.kind for layer in clf.model_.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert clf.model_.layers[3].rate == 0.25 and clf.model_.layers[0].activation.name == "linear"
    lrs = clf.model_.history.history["lr"]
    np.testing.assert_allclose(lrs, [schedule.learning_rate(e, 0.01) for e in range(6)], rtol=1e-15)
    assert clf.get_params()["lr_schedule"] is schedule and clf.model_.history.params["clip_norm"] == 0.5
    assert 0.9 < clf.score(x, y) <= 1.0
    with pytest.raises(ValueError, match="expected norm None, 'batch' or 'layer'; received 'group'"):
        MLPClassifier(norm="group").fit(x, y)
    with pytest.raises(ValueError, match=r"expected clip_norm > 0 \(or None\); received -1"):
        MLPClassifier(clip_norm=-1).fit(x, y)
    assert isinstance(MLPClassifier(norm="layer", epochs=1).fit(x, y).model_.layers[1], xmlp.LayerNorm)


def _same_weights(a, b):
    return all(u[k].tobytes() == v[k].tobytes() for m, n in zip(a.model_.members, b.model_.members)
               for u, v in zip(m.get_weights(), n.get_weights()) for k in u)


def test_warm_start_continues_weights_optimizer_and_streams(wdbc):
    """3 epochs + a warm-started fit of 3 == 6 epochs, bitwise (NumPy float64), early stopping's
    held-out rows included; the fitted attributes accumulate, as scikit-learn's."""
    x, y, _ = wdbc
    kw = dict(hidden_layer_sizes=(8,), optimizer="adam", dtype="float64", random_state=0, input_noise=0.1,
              early_stopping=True, patience=50)
    whole = MLPClassifier(epochs=6, **kw).fit(x, y)
    warm = MLPClassifier(epochs=3, warm_start=True, **kw).fit(x, y)
    # The validation loss falls every epoch here, so early stopping's end-of-fit restore keeps the last weights.
    assert whole.model_.history.best_epoch == 6
    assert warm.fit(x, y) is warm and _same_weights(whole, warm)
    assert warm.n_iter_ == 6 and warm.loss_curve_ == whole.loss_curve_
    assert warm.validation_scores_ == whole.validation_scores_
    with pytest.raises(ValueError, match=r"expected y with the classes of the previous fit \(\['B', 'M'\]\) to warm-start; received \['B', 'X'\]"):
        warm.fit(x[y == "B"][:20], np.array(["B", "X"] * 10))
    with pytest.raises(ValueError, match="expected the parameters that shaped the fitted model"):
        warm.set_params(hidden_layer_sizes=(4,)).fit(x, y)
    cold = MLPClassifier(epochs=3, **kw).fit(x, y).fit(x, y)  # warm_start=False: each fit starts over
    assert cold.n_iter_ == 3 and len(cold.loss_curve_) == 3


def test_partial_fit_as_scikit_learn(wdbc):
    x, y, _ = wdbc
    kw = dict(hidden_layer_sizes=(8,), optimizer="momentum", dtype="float64", random_state=1)
    clf = MLPClassifier(**kw)
    with pytest.raises(ValueError, match=r"expected classes= on the first call to partial_fit .*; received None"):
        clf.partial_fit(x, y)
    benign = y == "B"
    assert clf.partial_fit(x[benign], y[benign], classes=np.array(["M", "B"])) is clf  # y need not hold every class
    assert list(clf.classes_) == ["B", "M"] and clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    clf.partial_fit(x[~benign], y[~benign])
    clf.partial_fit(x, y, classes=["B", "M"])
    assert clf.n_iter_ == 3 and clf.predict_proba(x[:4]).shape == (4, 2)
    with pytest.raises(ValueError, match=r"expected classes= as on the first call \(\['B', 'M'\]\); received \['B', 'X'\]"):
        clf.partial_fit(x, y, classes=["B", "X"])
    with pytest.raises(ValueError, match="expected a label among B, M; received 'X'"):
        clf.partial_fit(x[:2], np.array(["X", "B"]))
    calls = MLPClassifier(**kw)
    for _ in range(3):
        calls.partial_fit(x, y, classes=["B", "M"])
    assert _same_weights(calls, MLPClassifier(epochs=3, **kw).fit(x, y))  # 3 calls == 3 epochs, bitwise
    fitted = MLPClassifier(epochs=2, **kw).fit(x, y).partial_fit(x, y)  # continues a fit, as scikit-learn's
    assert fitted.n_iter_ == 3 and _same_weights(fitted, calls)


def test_early_stopping_holds_out_rows_and_keeps_the_best_epoch(wdbc):
    x, y, _ = wdbc
    clf = MLPClassifier((32,), activation="relu", optimizer="adam", learning_rate=0.01, weight_decay=0.0,
                        epochs=300, early_stopping=True, patience=5, random_state=0).fit(x, y)
    assert clf.n_iter_ < 300 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.model_.history.best_epoch is not None


def test_pipeline_cross_val_score_and_grid_search(wdbc):
    x, y, _ = wdbc
    pipe = make_pipeline(MinMaxScaler(), MLPClassifier((8,), epochs=10, random_state=0))
    assert pipe.fit(x, y).predict(x[:3]).shape == (3,)
    scores = cross_val_score(pipe, x, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    # n_jobs=2: the estimator is cloned and pickled to worker processes.
    search = GridSearchCV(MLPClassifier(epochs=8, random_state=0), {"hidden_layer_sizes": [(4,), (16,)]},
                          cv=2, n_jobs=2).fit(x, y)
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (16,)] and search.best_score_ > 0.85
    assert search.best_estimator_.predict(x[:2]).shape == (2,)


def test_a_fitted_classifier_pickles_in_memory_and_predicts_the_same(wdbc):
    x, y, _ = wdbc
    clf = MLPClassifier((8,), epochs=3, random_state=1, backend="strict", device="device1").fit(x, y)
    again = pickle.loads(pickle.dumps(clf))
    assert again.model_.backend.spec == "strict:device1"
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))


def test_random_state_instance_is_accepted(wdbc):
    x, y, _ = wdbc
    a = MLPClassifier((4,), epochs=2, random_state=np.random.RandomState(3)).fit(x, y)
    b = MLPClassifier((4,), epochs=2, random_state=np.random.RandomState(3)).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))


def test_one_class_is_an_error_that_names_it(wdbc):
    x, y, _ = wdbc
    with pytest.raises(ValueError, match="received one class only"):
        MLPClassifier().fit(x[y == "M"], y[y == "M"])


# ----------------------------------------------------------------------------- array API dispatch
@pytest.fixture
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
def test_torch_inputs_train_on_torch_without_a_numpy_round_trip(wdbc, dispatch, monkeypatch):
    import torch

    x, y, _ = wdbc
    labels = (y == "M").astype(np.int64)
    xt, yt = torch.asarray(x), torch.asarray(labels)
    converted = []  # the shapes of every tensor turned into a NumPy array
    numpy = torch.Tensor.numpy
    monkeypatch.setattr(torch.Tensor, "numpy", lambda self, *a, **k: converted.append(tuple(self.shape)) or numpy(self, *a, **k))
    clf = MLPClassifier((8,), epochs=3, random_state=0).fit(xt, yt)
    proba, predicted = clf.predict_proba(xt), clf.predict(xt)
    assert clf.model_.backend.spec == "torch:cpu"
    assert isinstance(proba, torch.Tensor) and proba.device.type == "cpu" and proba.shape == (569, 2)
    assert isinstance(predicted, torch.Tensor) and predicted.dtype == torch.int64
    assert x.shape not in converted  # the features never went through NumPy (labels do, once)
    monkeypatch.undo()
    with sklearn.config_context(array_api_dispatch=False):
        on_host = MLPClassifier((8,), epochs=3, random_state=0, backend="torch").fit(x, labels)
    # Same seed, same backend; only the standardisation's reductions ran in another order.
    np.testing.assert_allclose(proba.numpy(), on_host.predict_proba(x), rtol=1e-5, atol=1e-6)
    assert clf.score(xt, yt) == pytest.approx(on_host.score(x, labels), abs=2 / 569)


def test_array_api_strict_inputs_stay_on_their_device(wdbc, dispatch):
    import array_api_strict as xps

    x, y, _ = wdbc
    device = xps.Device("device1")  # NumPy cannot read arrays on this device: no silent round trip
    xs = xps.asarray(x, device=device)
    ys = xps.asarray((y == "M").astype(np.int64), device=device)
    clf = MLPClassifier((8,), epochs=3, random_state=0).fit(xs, ys)
    proba = clf.predict_proba(xs)
    assert clf.model_.backend.spec == "strict:device1"
    assert type(proba).__module__.startswith("array_api_strict") and proba.device == device
    assert clf.predict(xs).device == device
    with pytest.raises(ValueError, match=r"MLPClassifier.predict\(\) must use the same namespace"):
        clf.predict(x)


def test_text_labels_with_device_features(wdbc, dispatch):
    import array_api_strict as xps

    x, y, _ = wdbc
    clf = MLPClassifier((4,), epochs=2, random_state=0).fit(xps.asarray(x), y)
    assert set(clf.predict(xps.asarray(x[:5]))) <= {"B", "M"}


def test_an_explicit_backend_answers_in_the_inputs_namespace(wdbc, dispatch):
    import array_api_strict as xps

    x, y, _ = wdbc
    xs = xps.asarray(x)
    clf = MLPClassifier((4,), epochs=2, random_state=0, backend="numpy").fit(xs, y)
    assert clf.model_.backend.spec == "numpy"
    assert type(clf.predict_proba(xs)).__module__.startswith("array_api_strict")


def test_without_scikit_learn_the_import_names_the_extra(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "sklearn", None)
    for name in [m for m in sys.modules if m == "xmlp.sklearn" or m.startswith("xmlp.sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=r"expected scikit-learn >= 1.6 for xmlp.sklearn.*\[sklearn\]'"):
        importlib.import_module("xmlp.sklearn")
