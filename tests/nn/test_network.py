"""The network: whole-network gradients, weights in and out, summary."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grad_close, batch_gradients, numeric_grad

from xmlp import Dense, Network, Sequential


def small_net(backend, classes, dtype="float64"):
    layers = [Dense(5, "tanh"), Dense(4, "relu"), Dense(4, "sigmoid"), Dense(classes, "softmax")]
    return Network(layers, "categoricalCrossentropy", backend, dtype)


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
                z = model.logits(be.asarray(x, f))
                return float(be.to_numpy(model.loss(model.xp, z, be.asarray(y, f))[0]))

            assert_grad_close(grads[i][key], numeric_grad(loss_at, value), f"layers.{i}.{key}")
    model.set_weights(weights)


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


def test_pickles_in_memory_as_descriptions_spec_and_host_weights(backend, rng):
    import copy
    import pickle

    net = small_net(backend, 3, dtype="float32")
    unbuilt = pickle.loads(pickle.dumps(net))
    assert not unbuilt.built and [l.units for l in unbuilt.layers] == [5, 4, 4, 3]
    net.build(6, rng)
    for again in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert again.backend.spec == backend.spec and again.loss.name == net.loss.name
        for a, b in zip(net.get_weights(), again.get_weights()):
            assert all(a[k].tobytes() == b[k].tobytes() for k in a)
        x = backend.asarray(rng.normal(size=(4, 6)), net.dtype)
        assert np.array_equal(backend.to_numpy(net.logits(x)), again.backend.to_numpy(again.logits(again.backend.asarray(backend.to_numpy(x), again.dtype))))
