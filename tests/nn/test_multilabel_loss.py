"""The multi-label loss (nn/multilabel.py) against PyTorch: value and gradient equal
``binary_cross_entropy_with_logits`` (reduction "mean") and its autograd on every CPU backend, in
float64, finite for logits of ±1000."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from xmlp.nn import losses
from xmlp.nn.multilabel import sigmoid

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
TOL = 1e-10  # float64, sums of ~40 terms in another order: a few ulps (see test_regression_losses.py)


@needs_torch
def test_the_sigmoid_cross_entropy_and_its_gradient_equal_torch(backend64, rng):
    import torch
    import torch.nn.functional as F

    be = backend64
    f64 = be.dtype("float64")
    z = rng.normal(size=(8, 5)) * 3
    z[0, :2] = [1000.0, -1000.0]  # saturated logits: exact, not log(0)
    y = (rng.random((8, 5)) < 0.4).astype(np.float64)
    loss = losses.get("sigmoidCrossentropy")
    assert (loss.output_activation, loss.task) == ("sigmoid", "multilabel")
    total, grad = loss.forward_backward(be.xp, be.asarray(z, f64), be.asarray(y, f64))
    zt = torch.tensor(z, requires_grad=True)
    expected = F.binary_cross_entropy_with_logits(zt, torch.tensor(y), reduction="mean")
    expected.backward()
    assert np.isfinite(float(be.to_numpy(total)))
    np.testing.assert_allclose(float(be.to_numpy(total)) / 8, expected.item(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(be.to_numpy(grad), zt.grad.numpy(), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(be.to_numpy(sigmoid(be.xp, be.asarray(z, f64))), torch.sigmoid(torch.tensor(z)).numpy(),
                               rtol=1e-15, atol=0)
