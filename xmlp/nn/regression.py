"""Regression losses on a linear output, fused with their gradient like the classification loss:
each returns the batch's summed loss (over rows, of each row's mean over the outputs) and dL/dz
of the batch's mean loss (over rows and outputs: the divisor ``rows * outputs`` lives here).

- ``MeanSquaredError``: l = (z - y)^2, dl/dz = 2 (z - y) (PyTorch ``mse_loss``, Keras ``mse``;
  scikit-learn's MLPRegressor minimises half of it, so its gradients are half of these).
- ``MeanAbsoluteError``: l = |z - y|, dl/dz = sign(z - y), 0 at 0 (PyTorch ``l1_loss``).
- ``Huber(delta)``: l = (z - y)^2 / 2 where |z - y| <= delta, else delta (|z - y| - delta / 2);
  dl/dz = clip(z - y, -delta, delta) (PyTorch ``huber_loss``, Keras ``Huber``).
"""

from __future__ import annotations

import math
from typing import Any

from .._types import Array, Namespace


def weight_sum(xp: Namespace, w: Array) -> Array:
    """sum(w), or 1 where it is 0 (every weight 0: every gradient term is 0, not 0/0)."""
    total = xp.sum(w)
    return total + xp.astype(total == 0, total.dtype)


class _Regression:
    output_activation = "linear"
    task = "regression"
    name = ""

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def check_classes(self, n_classes: int) -> None:
        """No classes to check: a regression has targets."""

    def elementwise(self, xp: Namespace, e: Array) -> tuple[Array, Array]:
        """(l(e), dl/de) of the residual e = z - y, elementwise."""
        raise NotImplementedError

    def forward_backward(self, xp: Namespace, z: Array, y: Array, rows: int | None = None) -> tuple[Array, Array]:
        """(summed loss over the rows of each row's mean over outputs, dL/dz of the batch's mean
        over rows and outputs; ``rows``: the batch's rows on all processes)."""
        k = z.shape[1]
        loss, slope = self.elementwise(xp, z - y)
        return xp.sum(loss) * (1.0 / k), slope * (1.0 / ((rows or z.shape[0]) * k))

    def weighted(self, xp: Namespace, z: Array, y: Array, w: Array, divisor: Any = None) -> tuple[Array, Array]:
        """(sum_i w_i l_i, dL/dz of sum_i w_i l_i / sum_i w_i), l_i a row's mean over outputs;
        ``divisor`` instead of sum_i w_i (as ``SoftmaxCrossEntropy.weighted``)."""
        k = z.shape[1]
        loss, slope = self.elementwise(xp, z - y)
        total = weight_sum(xp, w) if divisor is None else divisor
        return xp.sum(w * xp.sum(loss, axis=1)) * (1.0 / k), slope * (w / (total * k))[:, None]

    def value(self, xp: Namespace, z: Array, y: Array) -> Array:
        """The summed loss alone (validation, evaluate)."""
        return xp.sum(self.elementwise(xp, z - y)[0]) * (1.0 / z.shape[1])


class MeanSquaredError(_Regression):
    """``loss="mse"``: the mean of (z - y)^2 over rows and outputs; dL/dz = 2 (z - y) / (rows * outputs)."""

    name = "mse"

    def elementwise(self, xp: Namespace, e: Array) -> tuple[Array, Array]:
        return e * e, e * 2.0


class MeanAbsoluteError(_Regression):
    """``loss="mae"``: the mean of |z - y|; dL/dz = sign(z - y) / (rows * outputs), 0 at z = y."""

    name = "mae"

    def elementwise(self, xp: Namespace, e: Array) -> tuple[Array, Array]:
        return xp.abs(e), xp.sign(e)


class Huber(_Regression):
    """``loss=xmlp.Huber(delta)`` (``"huber"``: delta 1): (z - y)^2 / 2 within ``delta`` of the
    target, delta (|z - y| - delta / 2) beyond; dL/dz = clip(z - y, -delta, delta) / (rows * outputs)."""

    name = "huber"

    def __init__(self, delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta) or delta <= 0:
            raise ValueError(f"expected huber's delta to be a number > 0; received {delta!r}")
        self.delta = float(delta)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "delta": self.delta}

    def elementwise(self, xp: Namespace, e: Array) -> tuple[Array, Array]:
        d = self.delta
        a = xp.abs(e)
        quadratic = a <= d
        loss = xp.where(quadratic, e * e * 0.5, (a - 0.5 * d) * d)
        return loss, xp.clip(e, -d, d)


REGRESSION_LOSSES: dict[str, Any] = {"mse": MeanSquaredError, "mae": MeanAbsoluteError, "huber": Huber}
