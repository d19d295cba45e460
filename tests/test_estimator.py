"""Sequential: whole-network gradients, dtype, determinism, transfers, learning."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp import Dense, Sequential, load_model
from xmlp.split import split_indices


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


def test_learning_rate_beside_an_optimizer_instance_is_an_error(wdbc):
    x, y, _ = wdbc
    with pytest.raises(ValueError, match="expected learning_rate only with an optimizer name"):
        Sequential([Dense(2, "softmax")]).fit(x, y, optimizer=xmlp.Adam(0.01), learning_rate=0.1)


def test_save_load_is_bitwise_and_backend_neutral(backend, wdbc, tmp_path):
    x, y, names = wdbc
    model = xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x[:400], y[:400], epochs=3, seed=1, feature_names=names)
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors", backend=backend)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        for key in a:
            assert a[key].tobytes() == b[key].tobytes()
    np.testing.assert_array_equal(loaded.standardizer.mean, model.standardizer.mean)
    # Same float32 weights, another backend's kernels: ~1e-7 relative in the probabilities.
    np.testing.assert_allclose(loaded.predict_proba(x[400:]), model.predict_proba(x[400:]), rtol=1e-5, atol=1e-6)
    assert loaded.predict(x[400:]) == model.predict(x[400:])


def test_leaky_relu_alpha_round_trips(tmp_path, wdbc):
    from xmlp.activations import LeakyReLU

    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(6, LeakyReLU(0.2)), xmlp.Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.layers[0].activation.alpha == 0.2
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_constant_column_does_not_make_nan(wdbc):
    x, y, _ = wdbc
    x = x.copy()
    x[:, 3] = 7.0
    model = xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")])
    history = model.fit(x, y, epochs=2, seed=0)
    assert np.isfinite(history.history["loss"]).all() and np.isfinite(model.predict_proba(x)).all()


def test_one_hot_labels_are_labels(wdbc):
    x, y, _ = wdbc
    onehot = np.eye(2)[(y == "M").astype(int)]
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
    model.fit(x[:400], onehot[:400], validation_data=(x[400:], onehot[400:]), epochs=3, seed=0)
    assert model.classes == [0, 1] and set(model.predict(x[:20])) <= {0, 1}
    same = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
    same.fit(x[:400], (y[:400] == "M").astype(int), epochs=3, seed=0)
    np.testing.assert_array_equal(model.predict_proba(x), same.predict_proba(x))
    assert model.evaluate(x[400:], onehot[400:]) == model.evaluate(x[400:], (y[400:] == "M").astype(int))


def test_fit_twice_starts_over(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
    model.fit(x, y, epochs=2, seed=3)
    first = model.predict_proba(x)
    model.fit(x, y, epochs=2, seed=3)
    np.testing.assert_array_equal(model.predict_proba(x), first)  # fresh weights, not 4 epochs


def test_device_arrays_in_device_arrays_out(backend, wdbc):
    """An array of the model's own backend is trained on where it is, and answered in kind."""
    x, y, _ = wdbc
    dtype = "float64" if backend.supports("float64") else "float32"
    xd = backend.asarray(x, backend.dtype(dtype))
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend)
    model.fit(xd, y, validation_data=(xd, y), epochs=2, seed=5)
    proba = model.predict_proba(xd)
    if backend.name != "numpy":
        assert backend.holds(proba) and backend.holds(model.decision_function(xd))
    host = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend)
    host.fit(backend.to_numpy(xd), y, validation_data=(backend.to_numpy(xd), y), epochs=2, seed=5)
    np.testing.assert_allclose(backend.to_numpy(proba), host.predict_proba(x), rtol=1e-4, atol=1e-5)
    assert model.predict(xd) == host.predict(x) or np.mean(np.array(model.predict(xd)) != host.predict(x)) < 0.01
    assert model.evaluate(xd, y)["accuracy"] == pytest.approx(host.evaluate(x, y)["accuracy"], abs=0.01)


def test_sequential_pickles_in_memory(backend, wdbc):
    import pickle

    x, y, _ = wdbc
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend)
    model.fit(x, y, epochs=1, seed=0)
    again = pickle.loads(pickle.dumps(model))
    assert again.backend is again.network.backend and again.backend.spec == backend.spec
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
