"""Sequential: whole-network gradients, dtype, determinism, transfers, learning."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp import Dense, Sequential, load_model
from xmlp.data.split import split_indices


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
    from xmlp.nn.activations import LeakyReLU

    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(6, LeakyReLU(0.2)), xmlp.Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.layers[0].activation.alpha == 0.2
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


@pytest.mark.parametrize("preprocess", ["standardize", "yeo-johnson"])
def test_constant_column_does_not_make_nan(wdbc, preprocess):
    x, y, _ = wdbc
    x = x.copy()
    x[:, 3] = 7.0
    model = xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], preprocess=preprocess)
    history = model.fit(x, y, epochs=2, seed=0)
    assert np.isfinite(history.history["loss"]).all() and np.isfinite(model.predict_proba(x)).all()


def test_ensemble_averages_its_members_and_round_trips(backend, wdbc, tmp_path):
    x, y, names = wdbc
    model = Sequential([Dense(6, "tanh"), Dense(2, "softmax")], preprocess="yeo-johnson", ensemble=3)
    history = model.fit(x[:400], y[:400], epochs=4, seed=1, feature_names=names)
    assert history.epochs == 4 and len(model.members) == 3
    # Members differ (their own seeds) and the model's probabilities are their mean.
    w = [m.get_weights()[0]["weight"] for m in model.members]
    assert not np.array_equal(w[0], w[1]) and not np.array_equal(w[1], w[2])
    chunk = model._to_device(x[400:])
    members = [model.backend.to_numpy(m.probabilities(chunk)) for m in model.members]
    np.testing.assert_allclose(model.predict_proba(x[400:]), np.mean(members, axis=0), rtol=1e-6)  # float32 sums
    model.save(tmp_path / "e.safetensors")
    loaded = load_model(tmp_path / "e.safetensors", backend=backend)
    assert len(loaded.members) == 3 and loaded.standardizer.method == "yeo-johnson"
    for a, b in zip(model.members, loaded.members):
        assert all(np.array_equal(p["weight"], q["weight"]) for p, q in zip(a.get_weights(), b.get_weights()))
    # Same float32 weights, another backend's kernels: ~1e-7 relative in the probabilities.
    np.testing.assert_allclose(loaded.predict_proba(x[400:]), model.predict_proba(x[400:]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected a single network to calibrate; received an ensemble of 3"):
        model.calibrate(x[400:], y[400:])


def test_ensemble_members_follow_the_first_members_early_stopping(split):
    xt, yt, xv, yv = split
    model = Sequential([Dense(64, "relu"), Dense(2, "softmax")], ensemble=2)
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=100, learning_rate=0.1, seed=0,
                        early_stopping=xmlp.EarlyStopping(patience=3))
    assert history.restored_epoch == history.best_epoch and history.kept_epochs < 100
    one = Sequential([Dense(64, "relu"), Dense(2, "softmax")], ensemble=2)
    # Member 1 trained for the kept epochs: the same as a fixed-length ensemble of that length.
    one.fit(xt, yt, validation_data=(xv, yv), epochs=history.kept_epochs, learning_rate=0.1, seed=0)
    assert np.array_equal(model.members[1].get_weights()[0]["weight"], one.members[1].get_weights()[0]["weight"])


def test_version_1_files_load_as_standardize(tmp_path, wdbc):
    """A file written before Yeo-Johnson and ensembles (format version 1) still loads."""
    import json

    import safetensors.numpy

    x, y, _ = wdbc
    model = Sequential([Dense(4, "tanh"), Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    meta, tensors = model.to_file_data(include_optimizer=False, include_fingerprint=False)  # as version 1 held
    meta = {k: v for k, v in meta.items() if k != "ensemble"} | {"format": "xmlp-model", "format_version": 1}
    (tmp_path / "v1.safetensors").write_bytes(safetensors.numpy.save(tensors, metadata={"xmlp": json.dumps(meta)}))
    loaded = load_model(tmp_path / "v1.safetensors")
    assert loaded.standardizer.method == "standardize" and len(loaded.members) == 1
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    meta["preprocess"] = "yeo-johnson"  # not a version-1 method
    (tmp_path / "bad.safetensors").write_bytes(safetensors.numpy.save(tensors, metadata={"xmlp": json.dumps(meta)}))
    with pytest.raises(xmlp.XmlpError, match="expected preprocess among 'standardize' or null; received 'yeo-johnson'"):
        load_model(tmp_path / "bad.safetensors")


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


@pytest.mark.parametrize("preprocess, ensemble", [("standardize", 1), ("yeo-johnson", 2)])
def test_device_arrays_in_device_arrays_out(backend, wdbc, preprocess, ensemble):
    """An array of the model's own backend is trained on where it is, and answered in kind."""
    x, y, _ = wdbc
    dtype = "float64" if backend.supports("float64") else "float32"
    xd = backend.asarray(x, backend.dtype(dtype))
    x = backend.to_numpy(xd)
    models = [Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend, preprocess=preprocess,
                         ensemble=ensemble) for _ in range(2)]
    for model, data in zip(models, (xd, x)):
        model.fit(data, y, validation_data=(data, y), epochs=2, seed=5, input_noise=0.1)
    proba = models[0].predict_proba(xd)
    if backend.name != "numpy":
        assert backend.holds(proba) and backend.holds(models[0].decision_function(xd))
    # The same computation but for the order of the standardisation's sums (and expm1/log1p's last bits).
    np.testing.assert_allclose(backend.to_numpy(proba), models[1].predict_proba(x), rtol=1e-4, atol=1e-5)
    assert np.mean(np.array(models[0].predict(xd)) != np.array(models[1].predict(x))) < 0.01
    assert models[0].evaluate(xd, y)["accuracy"] == pytest.approx(models[1].evaluate(x, y)["accuracy"], abs=0.01)


def test_sequential_pickles_in_memory(backend, wdbc):
    import pickle

    x, y, _ = wdbc
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend, preprocess="yeo-johnson", ensemble=2)
    model.fit(x, y, epochs=1, seed=0)
    again = pickle.loads(pickle.dumps(model))
    assert again.backend is again.network.backend is again.members[1].backend and again.backend.spec == backend.spec
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
