"""Dense + every activation: analytic backward vs finite differences, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_grad_close, numeric_grad

from xmlp.nn import activations
from xmlp.nn.layers import Dense


def _dense(backend, n_in, units, activation, rng):
    layer = Dense(units, activation)
    host = layer.init_host(n_in, rng)
    host["bias"] = rng.normal(size=units)  # non-zero bias exercises its gradient path
    f64 = backend.dtype("float64")
    layer.set_params(backend.xp, {k: backend.asarray(v, f64) for k, v in host.items()})
    return layer, host


@pytest.mark.parametrize("activation", sorted(activations.ACTIVATIONS))
def test_dense_gradients_match_finite_differences(backend64, activation, rng):
    be = backend64
    f64 = be.dtype("float64")
    x = rng.normal(size=(5, 4))
    r = rng.normal(size=(5, 3))  # L = sum(a * r), so dL/da = r
    layer, host = _dense(be, 4, 3, activation, rng)

    def loss(w=host["weight"], b=host["bias"], xin=x):
        probe = Dense(3, activation)
        probe.set_params(be.xp, {"weight": be.asarray(w, f64), "bias": be.asarray(b, f64)})
        return float(np.sum(be.to_numpy(probe.forward(be.asarray(xin, f64))) * r))

    layer.forward(be.asarray(x, f64), training=True)
    dx = be.to_numpy(layer.backward(be.asarray(r, f64)))
    assert_grad_close(be.to_numpy(layer.grads["weight"]), numeric_grad(lambda w: loss(w=w), host["weight"]), "dW")
    assert_grad_close(be.to_numpy(layer.grads["bias"]), numeric_grad(lambda b: loss(b=b), host["bias"]), "db")
    assert_grad_close(dx, numeric_grad(lambda xin: loss(xin=xin), x), "dx")


def test_backward_can_skip_input_gradient(backend, rng):
    f32 = backend.dtype("float32")
    layer = Dense(3, "relu")
    layer.set_params(backend.xp, {k: backend.asarray(v, f32) for k, v in layer.init_host(4, rng).items()})
    layer.forward(backend.asarray(rng.normal(size=(2, 4)), f32), training=True)
    assert layer.backward(backend.asarray(np.ones((2, 3)), f32), input_grad=False) is None
    assert tuple(layer.grads["weight"].shape) == (4, 3) and tuple(layer.grads["bias"].shape) == (3,)


def test_backward_before_forward_is_an_error(backend, rng):
    layer = Dense(3, "relu")
    with pytest.raises(RuntimeError, match="before a training forward"):
        layer.backward(None)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="expected an activation among linear, relu"):
        activations.get("mish")
    with pytest.raises(ValueError, match="expected a Dense layer width >= 1; received 0"):
        Dense(0)
    with pytest.raises(ValueError, match="expected an initializer among heUniform"):
        Dense(3, kernel_initializer="orthogonal")


def test_config_round_trip_and_malformed_descriptions():
    layer = Dense(6, activations.LeakyReLU(0.3), kernel_initializer="glorot_normal")
    config = layer.config()
    assert config == {"kind": "Dense", "units": 6, "activation": "leakyRelu", "alpha": 0.3,
                      "kernel_initializer": "glorotNormal", "bias_initializer": "zeros"}
    again = Dense.from_config(config)
    assert again.config() == config
    for bad, message in ((["Dense"], "expected a layer of kind 'Dense'"), ({"kind": "Conv"}, "expected a layer of kind 'Dense'"),
                         ({"kind": "Dense", "units": True}, "expected a Dense layer width >= 1; received True"),
                         ({"kind": "Dense", "units": 2, "activation": 3}, "expected an activation among")):
        with pytest.raises(ValueError, match=message):
            Dense.from_config(bad)
