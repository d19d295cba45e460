"""Losses on device arrays. All return 0-d arrays: nothing here reads a value back to the host."""

from __future__ import annotations

from typing import Any

# Probabilities are clipped to [EPS, 1 - EPS] in the subject's binary cross-entropy so that a
# confident wrong prediction costs -log(1e-15) ~ 34.5 instead of infinity.
EPS = 1e-15


class SoftmaxCrossEntropy:
    """Softmax + categorical cross-entropy on logits, fused.

    L = -(1/N) sum_i sum_k y_ik log softmax(z_i)_k, computed with the row max subtracted, so
    logits of any finite size give a finite loss; dL/dz = (softmax(z) - y) / N (the 1/N lives
    here and nowhere else). For two classes this equals the binary cross-entropy of the subject.
    """

    name = "categoricalCrossentropy"
    output_activation = "softmax"

    def __call__(self, xp: Any, z: Any, y: Any) -> tuple[Any, Any]:
        """(mean loss as a 0-d array, dL/dz) for logits z and one-hot targets y."""
        total, grad = self.forward_backward(xp, z, y)
        return total / z.shape[0], grad

    def forward_backward(self, xp: Any, z: Any, y: Any) -> tuple[Any, Any]:
        """(summed loss as a 0-d array, dL/dz of the *mean* loss): the training loop's form,
        which accumulates the epoch's loss with one addition per batch."""
        s = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(s)
        se = xp.sum(e, axis=1, keepdims=True)
        # sum_i sum_k y_ik (log se_i - s_ik) = sum_i -log softmax(z_i)[true] for one-hot rows.
        total = xp.sum(y * (xp.log(se) - s))
        grad = (e / se - y) * (1.0 / z.shape[0])
        return total, grad

    def value(self, xp: Any, z: Any, y: Any) -> Any:
        """Summed (not mean) loss of logits z, without the gradient (validation, evaluate)."""
        s = z - xp.max(z, axis=1, keepdims=True)
        return xp.sum(xp.log(xp.sum(xp.exp(s), axis=1))) - xp.sum(y * s)


def clipped_nll_sum(xp: Any, z: Any, y: Any, eps: float = EPS) -> Any:
    """sum_i -log clip(p_i[true class], eps, 1 - eps) with p = softmax(z): for two classes,
    N times the subject's binary cross-entropy (p of the true class is p or 1 - p)."""
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    pt = xp.sum(y * e, axis=1) / xp.sum(e, axis=1)
    eps = max(eps, float(xp.finfo(pt.dtype).eps))
    return -xp.sum(xp.log(xp.clip(pt, eps, 1.0 - eps)))


LOSSES = {
    "categoricalCrossentropy": SoftmaxCrossEntropy,
    # On a 2-unit softmax output the subject's binary cross-entropy is the same function.
    "binaryCrossentropy": SoftmaxCrossEntropy,
}
_ALIASES = {
    "categorical_crossentropy": "categoricalCrossentropy",
    "binary_crossentropy": "binaryCrossentropy",
    "crossentropy": "categoricalCrossentropy",
}


def canonical(name: str) -> str:
    key = _ALIASES.get(name, name)
    if key not in LOSSES:
        raise ValueError(f"expected a loss among {', '.join(LOSSES)}; received {name!r}")
    return key


def get(name: str) -> SoftmaxCrossEntropy:
    return LOSSES[canonical(name)]()
