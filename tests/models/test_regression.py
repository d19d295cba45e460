"""Regression with Sequential: targets scaled and unscaled, the metrics equal to scikit-learn's,
the model file, warm starts and ensembles, and the bad targets refused — on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp


@pytest.fixture(scope="module")
def diabetes():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = sklearn_datasets.load_diabetes(return_X_y=True)
    return x, y


def _model(backend="numpy", out=1, **kw):
    kw.setdefault("task", "regression")
    return xmlp.Sequential([xmlp.Dense(16, "tanh"), xmlp.Dense(out, "linear")], backend=backend, **kw)


def test_a_regression_trains_and_reports_scikit_learns_metrics(backend, diabetes):
    from sklearn.metrics import (
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        root_mean_squared_error,
    )

    x, y = diabetes
    model = _model(backend, loss="mse")
    assert model.task == "regression"
    history = model.fit(x[:350], y[:350], validation_data=(x[350:], y[350:]), epochs=30, batch_size=16,
                        optimizer="adam", learning_rate=0.01, seed=0, metrics=["mse", "rmse", "mae", "r2"])
    pred = model.predict(x[350:])
    assert pred.shape == (92,) and pred.dtype == np.float64  # 1-D targets: 1-D predictions, in y's units
    r2 = r2_score(y[350:], pred)
    assert r2 > 0.3  # a 16-unit network learns diabetes (RidgeCV: 0.49)
    # The epoch's validation metrics are the device's sums in float32 (the targets scaled to unit
    # variance): relative error ~1e-6 of these values; 1e-4 leaves room and catches any wrong
    # scale or divisor (which would be off by a factor of ~77, the targets' std).
    val = {k: history.history[f"val_{k}"][-1] for k in ("mse", "rmse", "mae", "r2")}
    assert val["mse"] == pytest.approx(mean_squared_error(y[350:], pred), rel=1e-4)
    assert val["rmse"] == pytest.approx(root_mean_squared_error(y[350:], pred), rel=1e-4)
    assert val["mae"] == pytest.approx(mean_absolute_error(y[350:], pred), rel=1e-4)
    assert val["r2"] == pytest.approx(r2, rel=1e-4, abs=1e-4)
    scores = model.evaluate(x[350:], y[350:])  # on the host, in float64: scikit-learn's to 1e-9
    assert scores["r2"] == pytest.approx(r2, rel=1e-9) and scores["mae"] == pytest.approx(
        mean_absolute_error(y[350:], pred), rel=1e-9)
    assert scores["trained_rows"] == 0


def test_multi_output_metrics_average_the_outputs_as_scikit_learn(diabetes):
    from sklearn.metrics import mean_squared_error, r2_score, root_mean_squared_error

    x, y = diabetes
    targets = np.stack([y, x[:, 2] * 1000 + 5], axis=1)  # two outputs of very different scales
    model = _model(out=2, loss=xmlp.Huber(1.5))
    model.fit(x, targets, epochs=20, batch_size=32, optimizer="adam", learning_rate=0.01, seed=1)
    pred = model.predict(x)
    assert pred.shape == (442, 2)
    scores = model.evaluate(x, targets)
    assert scores["mse"] == pytest.approx(mean_squared_error(targets, pred), rel=1e-9)  # uniform average
    assert scores["rmse"] == pytest.approx(root_mean_squared_error(targets, pred), rel=1e-9)  # mean of RMSEs
    assert scores["r2"] == pytest.approx(r2_score(targets, pred), rel=1e-9)
    assert model.history.history["r2"][-1] == pytest.approx(r2_score(targets, pred), abs=0.05)  # (moving weights)


def test_targets_are_scaled_for_training_and_back_for_predict(diabetes):
    x, y = diabetes
    scaled, raw = _model(), _model(target_scaling=False)
    for model in (scaled, raw):
        model.fit(x, y * 1e4, epochs=10, batch_size=16, optimizer="adam", learning_rate=0.01, seed=0)
    np.testing.assert_allclose(scaled.encoder.mean, [np.mean(y * 1e4)], rtol=1e-12)
    np.testing.assert_allclose(scaled.encoder.scale, [np.std(y * 1e4)], rtol=1e-12)
    assert raw.encoder.mean.tolist() == [0.0] and raw.encoder.scale.tolist() == [1.0]
    # Targets of order 1e6: unscaled, the network's outputs (of order 1) are far off; scaled they fit.
    assert scaled.evaluate(x, y * 1e4)["r2"] > 0.3 > raw.evaluate(x, y * 1e4)["r2"]


def test_an_undefined_r2_is_none_not_nan():
    x = np.random.default_rng(0).normal(size=(40, 3))
    model = _model()
    model.fit(x, np.full(40, 7.0), epochs=2, seed=0)
    assert model.history.history["r2"] == [None, None]
    assert model.evaluate(x, np.full(40, 7.0))["r2"] is None
    assert model.encoder.mean.tolist() == [7.0] and model.encoder.scale.tolist() == [1.0]  # std 0: scale 1


def test_the_model_file_keeps_the_task_the_loss_and_the_scaling(tmp_path, diabetes, backend):
    from xmlp.io.model_file import read_model_file

    x, y = diabetes
    model = _model(loss=xmlp.Huber(0.5), ensemble=2)
    model.fit(x, y, epochs=3, seed=0)
    model.save(tmp_path / "r.safetensors")
    meta, tensors = read_model_file(tmp_path / "r.safetensors")
    assert meta["task"] == "regression" and meta["format_version"] == 5 and meta["classes"] == []
    assert meta["loss"] == "huber" and meta["loss_config"] == {"name": "huber", "delta": 0.5}
    np.testing.assert_array_equal(tensors["target.mean"], model.encoder.mean)
    loaded = xmlp.load_model(tmp_path / "r.safetensors", backend=backend)
    assert loaded.task == "regression" and loaded.network.loss.delta == 0.5
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)  # float32 on another backend


def test_a_warm_start_continues_a_regression_bitwise(diabetes):
    x, y = diabetes
    whole, parts = _model(), _model()
    whole.fit(x, y, epochs=4, seed=3, optimizer="adam")
    parts.fit(x, y, epochs=2, seed=3, optimizer="adam")
    parts.fit(x, y, epochs=2, warm_start=True)
    np.testing.assert_array_equal(parts.predict(x), whole.predict(x))


def test_bad_targets_and_misuse_are_clear_errors(diabetes):
    x, y = diabetes
    with pytest.raises(ValueError, match=r"expected finite regression targets; received \[nan\] \(row 3\)"):
        _model().fit(x[:10], np.r_[y[:3], np.nan, y[4:10]], epochs=1)
    with pytest.raises(ValueError, match="expected numeric regression targets; received 'M' .*task='classification'"):
        _model().fit(x[:3], ["1.5", "M", "2"], epochs=1)
    with pytest.raises(ValueError, match=r"expected the output layer to have one unit per target \(2\); received 1"):
        _model().fit(x[:10], np.stack([y[:10], y[:10]], 1), epochs=1)
    with pytest.raises(ValueError, match="expected a 'linear' output layer for mse"):
        xmlp.Sequential([xmlp.Dense(2, "softmax")], loss="mse")
    with pytest.raises(ValueError, match="expected a 'softmax' output layer for categoricalCrossentropy .* "
                                         "for a regression: loss='mse' or task='regression'"):
        xmlp.Sequential([xmlp.Dense(1, "linear")])  # the task follows from the loss, not the layer
    with pytest.raises(ValueError, match=r"expected metrics among mse, rmse, mae, r2 \(a regression\); received \['accuracy'\]"):
        _model().fit(x[:10], y[:10], epochs=1, metrics=["accuracy"])
    model = _model(task="regression")
    model.fit(x[:20], y[:20], epochs=1)
    with pytest.raises(ValueError, match="expected a classifier for predict_proba; received a regression model"):
        model.predict_proba(x[:2])
