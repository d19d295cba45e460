"""Continuing a training: fit(warm_start=True), partial_fit, the training state in the model file
(xmlp/resume.py, xmlp/fitting.py), and ``xmlp train --resume``. The promise: 5 epochs, (save,
load,) 5 more == 10 epochs, bitwise — weights, optimizer state, per-epoch history."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import xmlp
from xmlp.errors import DataError
from xmlp.serialization import read_model_file, write_model_file

OPTIMIZERS = ["sgd", "momentum", "adam"]


def _model(backend="numpy", dtype="float64", ensemble=1):
    return xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], backend=backend, dtype=dtype,
                           ensemble=ensemble)


def _state(model):
    """Everything a continued training depends on, as host data: weights of every member, the
    optimizer slots and step counts, the generators' states, the epochs run."""
    doc, slots = model.training_state.file_data()
    weights = {f"{k}.{i}.{key}": w[key] for k, net in enumerate(model.members)
               for i, w in enumerate(net.get_weights()) for key in w}
    return doc, {**weights, **slots}


def assert_same_state(a, b):
    doc_a, arrays_a = _state(a)
    doc_b, arrays_b = _state(b)
    assert doc_a == doc_b  # epochs, seed, optimizer, step counts, generator states
    assert sorted(arrays_a) == sorted(arrays_b)
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype
        assert arrays_a[key].tobytes() == arrays_b[key].tobytes(), key  # bitwise


def _fit(model, x, y, **kw):
    return model.fit(x, y, validation_data=(x[:100], y[:100]), batch_size=16, input_noise=0.1, **kw)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_five_then_five_more_is_ten_bitwise(wdbc, tmp_path, optimizer):
    """NumPy float64: fit 10 == fit 5 + fit(warm_start) 5 == fit 5, save, load, fit(warm_start) 5."""
    x, y, _ = wdbc
    whole = _model()
    h10 = _fit(whole, x, y, epochs=10, seed=3, optimizer=optimizer)
    warm = _model()
    h5 = _fit(warm, x, y, epochs=5, seed=3, optimizer=optimizer)
    warm.save(tmp_path / "m.safetensors")
    h5b = _fit(warm, x, y, epochs=5, warm_start=True)
    loaded = xmlp.load_model(tmp_path / "m.safetensors")
    h5c = _fit(loaded, x, y, epochs=5, warm_start=True)
    for model, second in ((warm, h5b), (loaded, h5c)):
        assert_same_state(whole, model)
        assert model.training_state.epochs == 10
        for key, values in h10.history.items():
            assert h5.history[key] + second.history[key] == values  # exact floats
        assert second.params["initial_epoch"] == 5
    assert warm.training_state.optimizers[0].iterations == 10 * -(-len(y) // 16)


def test_partial_fit_n_times_is_fit_n_epochs(wdbc):
    x, y, _ = wdbc
    whole = _model()
    whole.fit(x, y, epochs=4, seed=5, optimizer="adam", batch_size=32)
    calls = _model()
    losses = [calls.partial_fit(x, y, seed=5, optimizer="adam", batch_size=32).history["loss"][0] for _ in range(4)]
    assert_same_state(whole, calls)
    assert losses == whole.history.history["loss"]


def test_partial_fit_takes_its_classes_from_the_first_call(wdbc):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(4, "tanh"), xmlp.Dense(3, "softmax")])
    benign = y == "B"
    model.partial_fit(x[benign], y[benign], classes=["M", "X", "B"], seed=0)  # sorted, as scikit-learn
    assert model.classes == ["B", "M", "X"] and model.predict_proba(x[:3]).shape == (3, 3)
    mean = model.standardizer.mean.copy()
    model.partial_fit(x[~benign], y[~benign])  # new rows: the preprocessing of the first call is kept
    assert model.standardizer.mean.tobytes() == mean.tobytes() and model.training_state.epochs == 2
    with pytest.raises(ValueError, match=r"expected classes=\['B', 'M', 'X'\] \(those of the first call\); "
                                         r"received \['B', 'M'\]"):
        model.partial_fit(x, y, classes=["B", "M"])
    with pytest.raises(ValueError, match="expected a label among B, M, X; received 'Z' \\(row 0\\)"):
        model.partial_fit(x[:2], np.array(["Z", "B"]))
    with pytest.raises(ValueError, match="expected 30 features per row"):
        model.partial_fit(x[:, :5], y)


def test_a_warm_start_refuses_another_optimizer_or_seed(wdbc):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=1, seed=3, optimizer="momentum")
    with pytest.raises(ValueError, match=r"expected the optimizer the model trained with to continue \(name=sgd, "
                                         r"learning_rate=0.01, momentum=0.9, nesterov=False\); received name=adam"):
        model.fit(x, y, epochs=1, warm_start=True, optimizer="adam")
    with pytest.raises(ValueError, match="received name=sgd, learning_rate=0.5, momentum=0.9"):
        model.fit(x, y, epochs=1, warm_start=True, learning_rate=0.5)
    with pytest.raises(ValueError, match="expected seed None or 3 .*; received 4"):
        model.fit(x, y, epochs=1, warm_start=True, seed=4)
    model.fit(x, y, epochs=1, warm_start=True, optimizer="momentum", seed=3)  # the same: continues
    assert model.training_state.epochs == 2
    fresh = _model()
    fresh.fit(x, y, epochs=1, seed=3, warm_start=True)  # never fitted: a warm start starts fresh
    assert fresh.training_state.epochs == 1


def test_ensemble_members_continue_their_own_state(wdbc, tmp_path):
    x, y, _ = wdbc
    whole, parts = _model(ensemble=2), _model(ensemble=2)
    whole.fit(x, y, epochs=4, seed=1, optimizer="adam")
    parts.fit(x, y, epochs=2, seed=1, optimizer="adam")
    parts.save(tmp_path / "e.safetensors")
    _, tensors = read_model_file(tmp_path / "e.safetensors")
    assert "members.1.optimizer.layers.1.bias.1" in tensors  # Adam's v of member 1's output bias
    loaded = xmlp.load_model(tmp_path / "e.safetensors")
    loaded.fit(x, y, epochs=2, warm_start=True)
    assert_same_state(whole, loaded)


def test_the_state_survives_pickling(wdbc):
    """joblib and copy.deepcopy pickle a fitted model: its state is re-linked to the new layers."""
    x, y, _ = wdbc
    whole, parts = _model(), _model()
    whole.fit(x, y, epochs=3, seed=2, optimizer="momentum")
    parts.fit(x, y, epochs=1, seed=2, optimizer="momentum")
    copy = pickle.loads(pickle.dumps(parts))
    copy.fit(x, y, epochs=2, warm_start=True)
    assert_same_state(whole, copy)
    assert parts.training_state.epochs == 1  # the original is untouched


def test_a_file_without_state_still_loads_and_says_so_when_continued(wdbc, tmp_path):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=2, seed=3, optimizer="adam")
    model.save(tmp_path / "old.safetensors", include_optimizer=False)
    meta, tensors = read_model_file(tmp_path / "old.safetensors")
    assert meta["format_version"] == 2 and "resume" not in meta and not any("optimizer" in k for k in tensors)
    loaded = xmlp.load_model(tmp_path / "old.safetensors")
    assert loaded.training_state is None
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    with pytest.warns(UserWarning, match="without a saved optimizer state or random streams .* will differ from a "
                                         "training that never stopped"):
        loaded.fit(x, y, epochs=1, warm_start=True, optimizer="adam")
    assert loaded.training_state.epochs == 1 and loaded.training_state.optimizers[0].iterations == 72


def test_the_saved_state_is_complete_and_checked(wdbc, tmp_path):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=1, seed=3, optimizer="adam")
    model.save(tmp_path / "m.safetensors")
    meta, tensors = read_model_file(tmp_path / "m.safetensors")
    assert meta["format_version"] == 3 and b"pickle" not in (tmp_path / "m.safetensors").read_bytes()
    state = meta["resume"]
    assert state["epochs"] == 1 and state["seed"] == 3 and state["slots"] == 2
    assert state["optimizer"] == {"name": "adam", "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08}
    assert state["members"][0]["iterations"] == 72 and state["members"][0]["shuffle"]["bit_generator"] == "PCG64"
    assert tensors["optimizer.layers.0.weight.1"].shape == (30, 8) and tensors["optimizer.layers.0.weight.1"].dtype == np.float64
    np.testing.assert_array_equal(tensors["optimizer.layers.1.bias.0"], model.training_state.optimizers[0].slots[3][2][0])

    def broken(edit, tensor_edit=None):
        m, t = read_model_file(tmp_path / "m.safetensors")
        edit(m["resume"])
        if tensor_edit:
            tensor_edit(t)
        write_model_file(tmp_path / "b.safetensors", m, t)
        with pytest.raises(DataError) as err:
            xmlp.load_model(tmp_path / "b.safetensors")
        return str(err.value)

    assert "expected a tensor optimizer.layers.0.bias.1; received a file without it" in broken(
        lambda r: None, lambda t: t.pop("optimizer.layers.0.bias.1"))
    assert "expected a training state (resume) with epochs" in broken(lambda r: r.update(members=[]))
    assert "expected a PCG64 generator state; received" in broken(
        lambda r: r["members"][0].update(shuffle={"bit_generator": "MT19937"}))
    assert "expected 2 optimizer slots per parameter for adam; received 1" in broken(
        lambda r: r.update(slots=1), lambda t: [t.pop(k) for k in list(t) if k.endswith(".1") and "optimizer" in k])
    assert "expected an optimizer among" in broken(lambda r: r["optimizer"].update(name="lbfgs"))
    assert "expected finite values in optimizer.layers.0.weight.0" in broken(
        lambda r: None, lambda t: t["optimizer.layers.0.weight.0"].__setitem__((0, 0), np.nan))


def test_continuing_is_bitwise_on_every_backend(backend, wdbc, tmp_path):
    """The same backend, the same operations in the same order, from the same bits (weights and
    slots are saved and sent back exactly): each backend reproduces its own uninterrupted run
    bit for bit, in float32 as in float64."""
    x, y, _ = wdbc
    dtype = "float64" if backend.supports("float64") else "float32"
    whole = _model(backend, dtype)
    whole.fit(x, y, epochs=4, seed=3, optimizer="adam", batch_size=32, input_noise=0.1)
    parts = _model(backend, dtype)
    parts.fit(x, y, epochs=2, seed=3, optimizer="adam", batch_size=32, input_noise=0.1)
    parts.save(tmp_path / "m.safetensors")
    loaded = xmlp.load_model(tmp_path / "m.safetensors", backend=backend)
    loaded.fit(x, y, epochs=2, warm_start=True, batch_size=32, input_noise=0.1)
    assert_same_state(whole, loaded)
