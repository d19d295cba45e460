"""The regression losses (nn/regression.py) against PyTorch: values and gradients equal
``torch.nn.functional.mse_loss`` / ``l1_loss`` / ``huber_loss`` (reduction "mean") and their
autograd, on every CPU backend, in float64; and a regression training step equal to a torch step."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from xmlp.nn import losses
from xmlp.nn.regression import Huber

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
# float64: both sides sum the same ~40 terms in another order, so they agree to a few ulps of the
# result (~1e-16 relative); 1e-10 leaves room for that and catches any wrong term or factor (>= 1e-3).
TOL = 1e-10


@needs_torch
@pytest.mark.parametrize("spec, torch_name, kw", [
    ("mse", "mse_loss", {}),
    ("mae", "l1_loss", {}),
    ("huber", "huber_loss", {"delta": 1.0}),
    (Huber(0.3), "huber_loss", {"delta": 0.3}),
])
def test_a_regression_loss_and_its_gradient_equal_torch(backend64, rng, spec, torch_name, kw):
    import torch
    import torch.nn.functional as F

    be = backend64
    f64 = be.dtype("float64")
    z, y = rng.normal(size=(8, 3)) * 2, rng.normal(size=(8, 3))
    y[0, 0] = z[0, 0]  # a zero residual: l1's subgradient there is 0, as torch's
    y[1, 1] = z[1, 1] - 0.3  # Huber(0.3)'s boundary
    loss = losses.get(spec)
    assert loss.output_activation == "linear" and loss.task == "regression"
    total, grad = loss.forward_backward(be.xp, be.asarray(z, f64), be.asarray(y, f64))
    zt = torch.tensor(z, requires_grad=True)
    expected = getattr(F, torch_name)(zt, torch.tensor(y), reduction="mean", **kw)
    expected.backward()
    # The summed loss over rows of each row's mean over outputs: the mean times the rows.
    np.testing.assert_allclose(float(be.to_numpy(total)) / 8, expected.item(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(be.to_numpy(grad), zt.grad.numpy(), rtol=TOL, atol=TOL)
    value = loss.value(be.xp, be.asarray(z, f64), be.asarray(y, f64))
    assert float(be.to_numpy(value)) == float(be.to_numpy(total))
    # rows: the divisor of a data-parallel slice (the batch's rows on all processes)
    _, half = loss.forward_backward(be.xp, be.asarray(z[:4], f64), be.asarray(y[:4], f64), rows=8)
    np.testing.assert_allclose(be.to_numpy(half), zt.grad.numpy()[:4], rtol=TOL, atol=TOL)


def test_loss_names_options_and_configs():
    assert losses.get("meanSquaredError").config() == {"name": "mse"}
    assert losses.get({"name": "huber", "delta": 2.5}).delta == 2.5
    assert losses.get(Huber(0.5)).config() == {"name": "huber", "delta": 0.5}
    with pytest.raises(ValueError, match="expected huber's delta to be a number > 0; received 0"):
        Huber(0)
    with pytest.raises(ValueError, match=r"expected the options of mse \(huber: delta\); received \['delta'\]"):
        losses.get({"name": "mse", "delta": 1.0})


@needs_torch
def test_one_regression_step_equals_a_torch_step(backend64, rng):
    """Dense(5, tanh) -> Dense(2, linear), MSE, one SGD step on 16 rows: the same weights as
    torch.optim.SGD on torch's autograd, float64."""
    import torch

    from xmlp.nn.dense import Dense
    from xmlp.nn.network import Network
    from xmlp.optim import optimizers

    be = backend64
    f64 = be.dtype("float64")
    x, y = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    net = Network([Dense(5, "tanh"), Dense(2, "linear")], "mse", be, "float64")
    net.build(4, np.random.default_rng(0))
    weights = net.get_weights()
    opt = optimizers.get("sgd", learning_rate=0.1)
    opt.build(be.xp, net.layers)
    net.train_step(be.asarray(x, f64), be.asarray(y, f64))
    opt.step()
    t = [{k: torch.tensor(v, requires_grad=True) for k, v in w.items()} for w in weights]
    h = torch.tanh(torch.tensor(x) @ t[0]["weight"] + t[0]["bias"])
    loss = torch.nn.functional.mse_loss(h @ t[1]["weight"] + t[1]["bias"], torch.tensor(y))
    params = [p for w in t for p in w.values()]
    torch_opt = torch.optim.SGD(params, lr=0.1)
    loss.backward()
    torch_opt.step()
    for mine, theirs in zip(net.get_weights(), t):
        for key in ("weight", "bias"):
            np.testing.assert_allclose(mine[key], theirs[key].detach().numpy(), rtol=TOL, atol=TOL)
