"""Parity: the same network, seed and batch on every backend gives the NumPy float64 results.

Tolerances. float64 on any backend vs NumPy float64: the same operations, possibly summed in a
different order by another BLAS, differ by a few ulps times the condition of a 30-term dot
product; rtol 1e-10 is ~1e5 ulps of slack yet catches any real divergence. float32 vs the
float64 reference: each op rounds at ~6e-8 relative, a forward/backward through three layers
accumulates ~1e-6; rtol 1e-5 with atol 1e-6 (for gradients that are near zero) bounds that.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import batch_gradients

from xmlp import Dense, Sequential

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def _net(backend, dtype):
    layers = [Dense(24, "relu"), Dense(24, "tanh"), Dense(3, "softmax")]
    return Sequential(layers, backend=backend, dtype=dtype)


@pytest.fixture(params=["float64", "float32"])
def dtype(request, backend):
    if not backend.supports(request.param):
        pytest.skip(f"{backend} has no {request.param}")
    return request.param


def test_same_seed_same_initial_weights(backend, dtype):
    ref, other = _net("numpy", "float64"), _net(backend, dtype)
    ref.build(30, np.random.default_rng(5))
    other.build(30, np.random.default_rng(5))
    for a, b in zip(ref.get_weights(), other.get_weights()):
        for key in a:
            # Drawn once in float64 on the host, then cast: equal to the cast reference exactly.
            np.testing.assert_array_equal(b[key], a[key].astype(dtype))


def test_forward_backward_matches_numpy_float64(backend, dtype, rng):
    x = rng.normal(size=(16, 30))
    y = np.eye(3)[rng.integers(0, 3, size=16)]
    ref, other = _net("numpy", "float64"), _net(backend, dtype)
    ref.build(30, np.random.default_rng(5))
    other.build(30, np.random.default_rng(5))
    ref_loss, ref_grads = batch_gradients(ref, x, y)
    loss, grads = batch_gradients(other, x, y)
    np.testing.assert_allclose(loss, ref_loss, **TOL[dtype])
    for i, (a, b) in enumerate(zip(ref_grads, grads)):
        for key in a:
            assert b[key].dtype == np.dtype(dtype)
            np.testing.assert_allclose(b[key], a[key], **TOL[dtype], err_msg=f"layers.{i}.{key}")


def test_sgd_steps_stay_matched(backend, dtype, wdbc):
    """Five epochs of seeded SGD (same batches everywhere) end at the same weights."""
    x, y, _ = wdbc
    runs = []
    for be, dt in (("numpy", "float64"), (backend, dtype)):
        model = Sequential([Dense(8, "relu"), Dense(2, "softmax")], backend=be, dtype=dt)
        model.fit(x[:120], y[:120], epochs=5, batch_size=16, learning_rate=0.05, seed=3)
        runs.append(model.get_weights())
    # 40 steps of a small, well-conditioned network stay within the one-step tolerances.
    for i, (a, b) in enumerate(zip(*runs)):
        for key in a:
            np.testing.assert_allclose(b[key], a[key], **TOL[dtype], err_msg=f"layers.{i}.{key}")


def test_input_noise_is_the_same_on_every_backend(backend, dtype, wdbc):
    """The noise is drawn on the host from the seeded stream: every backend trains on the same
    noisy inputs and ends at the same weights (within the tolerances above)."""
    x, y, _ = wdbc
    runs = []
    for be, dt, noise in (("numpy", "float64", 0.3), (backend, dtype, 0.3), ("numpy", "float64", 0.0)):
        model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=be, dtype=dt)
        model.fit(x[:120], y[:120], epochs=3, batch_size=16, learning_rate=0.05, seed=3, input_noise=noise)
        runs.append(model.get_weights())
    for i, (a, b) in enumerate(zip(runs[0], runs[1])):
        for key in a:
            np.testing.assert_allclose(b[key], a[key], **TOL[dtype], err_msg=f"layers.{i}.{key}")
    # and the noise is really there: without it the weights differ far beyond those tolerances
    assert np.abs(runs[2][0]["weight"] - runs[0][0]["weight"]).max() > 1e-3
