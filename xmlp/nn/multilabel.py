"""The multi-label loss on a sigmoid output: each output an independent yes/no (scikit-learn's
MLPClassifier on an indicator matrix, PyTorch's ``BCEWithLogitsLoss``).

``SigmoidCrossEntropy``: l = max(z, 0) - z y + log(1 + exp(-|z|)) per output (the binary
cross-entropy of sigmoid(z), written from the logits so that it is finite for any z: ±1000 give
exact values, not log(0)); dl/dz = sigmoid(z) - y. Means over rows *and* outputs, as PyTorch's
reduction "mean"; fused like the others (the summed loss of the batch's rows, each row's mean over
its outputs; the gradient of the batch's mean).
"""

from __future__ import annotations

from typing import Any

from .._types import Array, Namespace
from .regression import weight_sum


def sigmoid(xp: Namespace, z: Array) -> Array:
    """1 / (1 + exp(-z)) without overflow: exp of -|z| only."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class SigmoidCrossEntropy:
    """``loss="sigmoidCrossentropy"`` (the default of ``task="multilabel"``); see the module."""

    output_activation = "sigmoid"
    task = "multilabel"
    name = "sigmoidCrossentropy"

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def check_classes(self, n_classes: int) -> None:
        """Any number of labels (one sigmoid each)."""

    def _terms(self, xp: Namespace, z: Array, y: Array) -> tuple[Array, Array]:
        loss = xp.clip(z, min=0.0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))
        return loss, sigmoid(xp, z) - y

    def forward_backward(self, xp: Namespace, z: Array, y: Array, rows: int | None = None) -> tuple[Array, Array]:
        k = z.shape[1]
        loss, slope = self._terms(xp, z, y)
        return xp.sum(loss) * (1.0 / k), slope * (1.0 / ((rows or z.shape[0]) * k))

    def weighted(self, xp: Namespace, z: Array, y: Array, w: Array, divisor: Any = None) -> tuple[Array, Array]:
        k = z.shape[1]
        loss, slope = self._terms(xp, z, y)
        total = weight_sum(xp, w) if divisor is None else divisor
        return xp.sum(w * xp.sum(loss, axis=1)) * (1.0 / k), slope * (w / (total * k))[:, None]

    def value(self, xp: Namespace, z: Array, y: Array) -> Array:
        return xp.sum(self._terms(xp, z, y)[0]) * (1.0 / z.shape[1])
