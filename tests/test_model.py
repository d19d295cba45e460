"""Sequential: whole-network gradients, dtype, determinism, transfers, learning."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp import Dense, Sequential
from xmlp.data import split_indices

from gradcheck import assert_grad_close, numeric_grad


def small_net(backend, classes, dtype="float64"):
    layers = [Dense(5, "tanh"), Dense(4, "relu"), Dense(4, "sigmoid"), Dense(classes, "softmax")]
    return Sequential(layers, backend=backend, dtype=dtype)


def batch_gradients(model, x, y_onehot):
    """Analytic gradients of the mean loss for one batch, via the model's own backward."""
    be, xp = model.backend, model.xp
    f = model.dtype
    z = model._logits(be.asarray(x, f), training=True)
    loss, grad = model.loss(xp, z, be.asarray(y_onehot, f))
    for i in range(len(model.layers) - 1, -1, -1):
        grad = model.layers[i].backward(grad, input_grad=i > 0)
    return float(be.to_numpy(loss)), [{k: be.to_numpy(v) for k, v in l.grads.items()} for l in model.layers]


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_whole_network_gradients(backend64, classes, rng):
    model = small_net(backend64, classes)
    model.build(6, rng)
    x = rng.normal(size=(7, 6))
    y = np.eye(classes)[np.arange(7) % classes]
    _, grads = batch_gradients(model, x, y)
    weights = model.get_weights()
    for i, layer_weights in enumerate(weights):
        for key, value in layer_weights.items():
            def loss_at(v, i=i, key=key):
                trial = [dict(w) for w in weights]
                trial[i] = {**trial[i], key: v}
                model.set_weights(trial)
                be, f = model.backend, model.dtype
                z = model._logits(be.asarray(x, f))
                return float(be.to_numpy(model.loss(model.xp, z, be.asarray(y, f))[0]))

            assert_grad_close(grads[i][key], numeric_grad(loss_at, value), f"layers.{i}.{key}")
    model.set_weights(weights)


def test_float32_in_float32_out(backend, wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")], backend=backend, dtype="float32")
    model.fit(x[:64], y[:64], validation_data=(x[64:96], y[64:96]), epochs=2, batch_size=16, seed=0)
    for layer in model.layers:
        for key in ("weight", "bias"):
            assert layer.params[key].dtype == backend.xp.float32
            assert layer.grads[key].dtype == backend.xp.float32
    assert model.predict_proba(x[:5]).dtype == np.float32


def test_same_seed_gives_bitwise_identical_weights(wdbc):
    x, y, _ = wdbc
    runs = []
    for _ in range(2):
        model = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
        model.fit(x, y, epochs=3, seed=7)
        runs.append(model.get_weights())
    for a, b in zip(*runs):
        for key in a:
            assert a[key].tobytes() == b[key].tobytes()
    other = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
    other.fit(x, y, epochs=3, seed=8)
    assert not np.array_equal(other.get_weights()[0]["weight"], runs[0][0]["weight"])


def _transfers(backend_spec, x, y, epochs, batch_size):
    backend = xmlp.get_backend(backend_spec)
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")], backend=backend)
    model.fit(x, y, validation_data=(x[:50], y[:50]), epochs=epochs, batch_size=batch_size, seed=0)
    return backend.stats.to_device, backend.stats.to_host


@pytest.mark.parametrize("spec", ["numpy", "strict:device1"])
def test_transfers_per_epoch_do_not_grow_with_batches(spec, wdbc):
    x, y, _ = wdbc
    counts = {}
    for batch_size in (4, 64):
        one = _transfers(spec, x, y, 1, batch_size)
        four = _transfers(spec, x, y, 4, batch_size)
        counts[batch_size] = ((four[0] - one[0]) / 3, (four[1] - one[1]) / 3)
    # Per epoch: one permutation in, one packed vector of metrics out; whatever the batch count
    # (143 batches of 4 vs 9 of 64).
    assert counts[4] == counts[64] == (1.0, 1.0)


def test_non_finite_loss_stops_training(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
    with pytest.raises(xmlp.TrainingDiverged, match=r"expected a finite loss; received (nan|inf) at epoch 1"):
        model.fit(x, y, epochs=3, learning_rate=1e6, seed=0)
    # The weights after the failed epoch are not finite: nothing may save or use them silently.
    assert not all(np.isfinite(w["weight"]).all() for w in model.get_weights())


def test_fit_rejects_bad_arguments(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(4, "relu"), Dense(2, "softmax")])
    with pytest.raises(ValueError, match="expected at least two classes.*received only \\['M'\\]"):
        model.fit(x[y == "M"], y[y == "M"], epochs=1)
    with pytest.raises(ValueError, match="expected epochs to be an integer >= 1; received 0"):
        model.fit(x, y, epochs=0)
    with pytest.raises(ValueError, match="expected learning rate > 0.0; received -1"):
        model.fit(x, y, learning_rate=-1)
    with pytest.raises(ValueError, match="expected 30 features per row"):
        model.fit(x, y, epochs=1)
        model.predict(x[:, :5])
    with pytest.raises(ValueError, match="expected a 'softmax' output layer"):
        Sequential([Dense(2, "relu")])


def test_predict_and_evaluate(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
    model.fit(x, y, epochs=5, seed=0)
    proba = model.predict_proba(x)
    assert proba.shape == (569, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)  # float32 softmax rows
    labels = model.predict(x)
    assert set(labels) <= {"B", "M"} and model.classes == ["B", "M"]
    scores = model.evaluate(x, y)
    assert scores["accuracy"] == np.mean(np.array(labels) == y)
    assert 0 < scores["bce"] < 0.5


@pytest.mark.slow
def test_default_network_learns_wdbc(backend, wdbc):
    """The CLI's default network on the CLI's default split reaches val accuracy >= 0.95."""
    x, y, _ = wdbc
    train, valid = split_indices(y, 0.2, np.random.default_rng(42))
    model = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")], backend=backend)
    history = model.fit(x[train], y[train], validation_data=(x[valid], y[valid]), epochs=70, seed=42)
    assert history.history["val_accuracy"][-1] >= 0.95


def test_summary_counts_parameters(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
    assert "not built" in model.summary()
    model.fit(x, y, epochs=1, seed=0)
    text = model.summary()
    # 30*24+24 + 24*24+24 + 24*2+2 = 744 + 600 + 50
    assert "total parameters: 1,394" in text and "0: Dense  relu" in text and "(None, 2)" in text
    assert "backend: numpy, dtype: float32, loss: categoricalCrossentropy" in text
    cfg = model.config()
    assert [l["units"] for l in cfg["layers"]] == [24, 24, 2] and cfg["n_features"] == 30
    assert cfg["classes"] == ["B", "M"] and cfg["dtype"] == "float32"


def test_learning_rate_beside_an_optimizer_instance_is_an_error(wdbc):
    x, y, _ = wdbc
    with pytest.raises(ValueError, match="expected learning_rate only with an optimizer name"):
        Sequential([Dense(2, "softmax")]).fit(x, y, optimizer=xmlp.Adam(0.01), learning_rate=0.1)
