"""The network: whole-network gradients, weights in and out, summary."""

from __future__ import annotations

import importlib.util

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


TOOLKIT = [("Dense", 6, "linear"), ("BatchNorm",), ("Activation", "gelu"), ("Dropout", 0.25), ("Dense", 5, "silu"),
           ("LayerNorm",), ("Dense", 4, "elu"), ("Dense", 3, "softmax")]


def _toolkit_layers():
    from xmlp import Activation, BatchNorm, Dropout, LayerNorm

    make = {"Dense": lambda u, a: Dense(u, a), "BatchNorm": BatchNorm, "Activation": Activation, "Dropout": Dropout,
            "LayerNorm": LayerNorm}
    return [make[spec[0]](*spec[1:]) for spec in TOOLKIT]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_one_training_step_with_every_layer_equals_a_torch_step(backend64, rng):
    """Forward (batch statistics, the same dropout mask), fused softmax cross-entropy, backward
    and one SGD step of a network holding every layer kind, against the same network written with
    torch.nn.functional and stepped by torch.optim.SGD, in float64. Tolerance 1e-10 as in
    test_layers.py: the same float64 formulas in other orders differ by ~1e-15."""
    import torch
    import torch.nn.functional as F

    from xmlp import SGD

    net = Network(_toolkit_layers(), "categoricalCrossentropy", backend64, "float64")
    net.build(7, rng)
    x, y = rng.normal(size=(10, 7)), np.eye(3)[rng.integers(0, 3, 10)]
    host_masks = net.host_masks(np.random.default_rng(5), 10)
    net.use_masks([backend64.asarray(m, net.dtype) for m in host_masks])
    weights = net.get_weights()
    opt = SGD(0.1)
    opt.build(net.xp, net.layers)
    total, _ = net.train_step(backend64.asarray(x, net.dtype), backend64.asarray(y, net.dtype))
    opt.iterations += 1
    opt.step()

    t = [{k: torch.tensor(v, requires_grad=k in ("weight", "bias")) for k, v in w.items()} for w in weights]
    z = torch.tensor(x)
    for spec, w in zip(TOOLKIT, t):
        kind = spec[0]
        if kind == "Dense":
            z = z @ w["weight"] + w["bias"]
            if spec[2] != "softmax":
                z = {"linear": lambda a: a, "silu": F.silu, "elu": F.elu}[spec[2]](z)
        elif kind == "BatchNorm":
            z = F.batch_norm(z, w["running_mean"], w["running_var"], w["weight"], w["bias"], training=True)
        elif kind == "Activation":
            z = F.gelu(z, approximate="tanh")
        elif kind == "Dropout":
            z = z * torch.tensor(host_masks[0])
        else:
            z = F.layer_norm(z, (z.shape[1],), w["weight"], w["bias"])
    loss = F.cross_entropy(z, torch.tensor(y))
    params = [v for w in t for k, v in w.items() if k in ("weight", "bias")]
    torch_opt = torch.optim.SGD(params, lr=0.1)
    loss.backward()
    torch_opt.step()
    np.testing.assert_allclose(float(backend64.to_numpy(total)) / 10, float(loss.detach()), rtol=1e-12)
    for i, (ours, theirs) in enumerate(zip(net.get_weights(), t)):
        for key in ours:
            np.testing.assert_allclose(ours[key], theirs[key].detach().numpy(), rtol=1e-10, atol=1e-10,
                                       err_msg=f"layers.{i}.{key} after the step")


def test_summary_lists_every_layer_with_its_parameters(rng):
    from xmlp import get_backend

    net = Network(_toolkit_layers(), "categoricalCrossentropy", get_backend("cpu"), "float32")
    net.build(7, rng)
    text = net.summary()
    for line in ("0: Dense       linear        (None, 6)  48", "1: BatchNorm   momentum 0.1  (None, 6)  12 (+12 non-trainable)",
                 "3: Dropout     rate 0.25     (None, 6)  0", "5: LayerNorm                 (None, 5)  10"):
        assert line in text, text
    # 48 + 12 + 35 + 10 + 24 + 15 trainable, BatchNorm's 12 running statistics
    assert "total parameters: 156 (trainable 144, non-trainable 12)" in text
