"""Gradient clipping: equal to torch.nn.utils' on every backend, in place (the flat layout keeps
holding the gradients), after the data-parallel sum, and its bad arguments."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import ThreadGroup

from xmlp import Dense, Network, Sequential
from xmlp.optim.clipping import GradientClipping, check
from xmlp.training.parallel import Partition


def _grads(backend, rng, scale):
    net = Network([Dense(6, "tanh"), Dense(3, "softmax")], "categoricalCrossentropy", backend, "float64")
    net.build(5, rng)
    x, y = rng.normal(size=(8, 5)) * scale, np.eye(3)[rng.integers(0, 3, 8)]
    net.train_step(backend.asarray(x, net.dtype), backend.asarray(y, net.dtype))
    return net


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.parametrize("kind, limit", [("norm", 0.05), ("norm", 1e6), ("value", 0.01)])
def test_clipping_equals_torch(backend64, rng, kind, limit):
    """float64, rtol 1e-12: the norm is a sum of squares in another order (per parameter, then
    over parameters, as torch's foreach norm), a few ulps apart."""
    import torch

    net = _grads(backend64, rng, 10.0)
    before = [backend64.to_numpy(layer.grads[k]) for layer in net.layers for k in layer.params]
    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in before]
    for p, g in zip(params, before):
        p.grad = torch.tensor(g)
    if kind == "norm":
        torch.nn.utils.clip_grad_norm_(params, limit)
        GradientClipping(net.xp, net.layers, clip_norm=limit)()
    else:
        torch.nn.utils.clip_grad_value_(params, limit)
        GradientClipping(net.xp, net.layers, clip_value=limit)()
    after = [backend64.to_numpy(layer.grads[k]) for layer in net.layers for k in layer.params]
    for ours, theirs in zip(after, params):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-12, atol=0)
    if limit == 1e6:
        assert all(np.array_equal(a, b) for a, b in zip(after, before))  # below the limit: unchanged


def test_clipping_writes_in_place_so_the_flat_update_still_applies(rng):
    from xmlp import backends

    net = _grads(backends.get_backend("cpu"), rng, 10.0)
    slots = [(layer, k, layer.grads[k]) for layer in net.layers for k in layer.params]
    assert all(np.shares_memory(view, net.layers[0].flat.grads) for _, _, view in slots)  # the flat layout's
    GradientClipping(net.xp, net.layers, clip_norm=0.01)()
    assert all(layer.grads[k] is view for layer, k, view in slots)  # the same arrays, changed in place
    views = [view for _, _, view in slots]
    total = np.sqrt(sum(float((g * g).sum()) for g in views))
    assert total == pytest.approx(0.01, rel=1e-5)  # clipped to the limit (1e-6 added to the norm)


def test_two_processes_clip_the_summed_gradient_as_one(split):
    """Each process's slice has its own norm; clipping the all-reduced gradient reproduces one
    process (rtol 1e-12, the reasoning of tests/training/test_parallel.py)."""
    xt, yt, xv, yv = split

    def fit(partition=None):
        model = Sequential([Dense(16, "tanh"), Dense(2, "softmax")], dtype="float64")
        model.fit(xt, yt, epochs=3, batch_size=16, seed=2, learning_rate=0.5, clip_norm=0.1, partition=partition)
        return model

    one = fit()
    for model in ThreadGroup(2).run(lambda comm: fit(Partition(comm))):
        for a, b in zip(model.get_weights(), one.get_weights()):
            for key in a:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-15, err_msg=key)


@pytest.mark.parametrize("norm, value, message", [
    (0.0, None, r"expected clip_norm > 0 \(or None\); received 0.0"),
    (-1, None, r"expected clip_norm > 0 \(or None\); received -1"),
    (None, float("inf"), r"expected clip_value > 0 \(or None\); received inf"),
    (1.0, 1.0, r"expected one of clip_norm and clip_value; received both \(1.0, 1.0\)"),
])
def test_bad_clipping_is_one_clear_error(norm, value, message, wdbc):
    with pytest.raises(ValueError, match=message):
        check(norm, value)
    x, y, _ = wdbc
    with pytest.raises(ValueError, match=message):
        Sequential([Dense(2, "softmax")]).fit(x, y, epochs=1, clip_norm=norm, clip_value=value)
