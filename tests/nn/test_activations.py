"""Activations: values, overflow, stability, parameters in and out."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.nn import activations


@pytest.mark.parametrize(
    "name, expected",
    [
        ("relu", [0.0, 0.0, 2.0]),
        ("leakyRelu", [-0.01 * 1000.0, 0.0, 2.0]),
        ("tanh", [-1.0, 0.0, np.tanh(2.0)]),
        ("sigmoid", [0.0, 0.5, 1.0 / (1.0 + np.exp(-2.0))]),
        ("linear", [-1000.0, 0.0, 2.0]),
        ("gelu", [0.0, 0.0, 0.5 * 2.0 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (2.0 + 0.044715 * 8.0)))]),
        ("silu", [0.0, 0.0, 2.0 / (1.0 + np.exp(-2.0))]),
        ("elu", [-1.0, 0.0, 2.0]),
        ("softplus", [0.0, np.log(2.0), np.log1p(np.exp(2.0))]),
    ],
)
def test_activation_values_and_overflow(backend, name, expected):
    xp = backend.xp
    z = backend.asarray(np.array([[-1000.0, 0.0, 2.0]]), backend.dtype("float32"))
    a = backend.to_numpy(activations.get(name).forward(xp, z))
    assert a.dtype == np.float32
    assert np.isfinite(a).all()
    # float32 rounding of the expected values: 1 ulp at magnitude 1000 is 6e-5.
    np.testing.assert_allclose(a[0], expected, rtol=1e-6, atol=1e-6)


def test_softmax_activation_is_stable_and_normalized(backend):
    z = backend.asarray(np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]]), backend.dtype("float32"))
    p = backend.to_numpy(activations.get("softmax").forward(backend.xp, z))
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6, atol=1e-7)


def test_parameters_in_and_out():
    leaky = activations.from_config("leaky_relu", {"alpha": 0.2})
    assert leaky.name == "leakyRelu" and leaky.params() == {"alpha": 0.2}
    assert activations.get("tanh").params() == {}
    with pytest.raises(ValueError, match=r"expected parameters of tanh among none; received \['alpha'\]"):
        activations.from_config("tanh", {"alpha": 0.2})
    for bad in (1.5, True, "0.1", float("nan")):
        with pytest.raises(ValueError, match="expected LeakyReLU alpha in"):
            activations.LeakyReLU(bad)
    elu = activations.from_config("elu", {"alpha": 0.5})
    assert elu.params() == {"alpha": 0.5} and activations.get("swish").name == "silu"
    for bad in (0.0, -1.0, True, float("inf")):
        with pytest.raises(ValueError, match="expected ELU alpha > 0"):
            activations.ELU(bad)
