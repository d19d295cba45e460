"""Gradient clipping between the gradient and the update (after the data-parallel sum, so that W
processes clip the gradient of the whole batch, as one process does).

- ``clip_norm``: the global L2 norm over every parameter's gradient, as
  ``torch.nn.utils.clip_grad_norm_``: n = sqrt(sum over parameters of |g|^2); every g <- g * c with
  c = min(clip_norm / (n + 1e-6), 1) (a device scalar: nothing is read back to the host).
- ``clip_value``: every gradient value clipped to [-clip_value, clip_value], as
  ``torch.nn.utils.clip_grad_value_``.

One or the other (as Keras's optimizers take one of ``clipnorm`` and ``clipvalue``). The
gradients are changed in place, so the fast paths' flat layout, and with it the fused update of
all parameters at once, still applies. Compute only.
"""

from __future__ import annotations

import math
from typing import Any, Sequence


def check(clip_norm: float | None, clip_value: float | None) -> tuple[float | None, float | None]:
    """The clipping asked for, checked (a ValueError in Keras's manner otherwise)."""
    for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and math.isfinite(value) and value > 0):
            raise ValueError(f"expected {name} > 0 (or None); received {value!r}")
    if clip_norm is not None and clip_value is not None:
        raise ValueError(f"expected one of clip_norm and clip_value; received both ({clip_norm}, {clip_value})")
    return (None if clip_norm is None else float(clip_norm)), (None if clip_value is None else float(clip_value))


class GradientClipping:
    """Clips the gradients of ``layers`` in place when called (after backward and the sync)."""

    def __init__(self, xp: Any, layers: Sequence[Any], clip_norm: float | None = None,
                 clip_value: float | None = None):
        self.xp, self.layers = xp, [layer for layer in layers if layer.params]
        self.norm, self.value = check(clip_norm, clip_value)

    def __call__(self) -> None:
        xp = self.xp
        grads = [layer.grads[key] for layer in self.layers for key in layer.params]
        if self.value is not None:
            for g in grads:
                g[...] = xp.clip(g, -self.value, self.value)
            return
        total = None
        for g in grads:
            flat = xp.reshape(g, (-1,))  # a view of a contiguous gradient: no copy
            s = xp.vecdot(flat, flat)
            total = s if total is None else total + s
        coef = xp.clip(self.norm / (xp.sqrt(total) + 1e-6), max=1.0)
        for g in grads:
            g *= coef
