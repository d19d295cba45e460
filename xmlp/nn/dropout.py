"""``Dropout(rate)``: inverted dropout, active in training only.

In training each value is kept with probability 1 - rate and scaled by 1 / (1 - rate), so the
expected output is the input and inference is the identity (as ``torch.nn.Dropout`` and Keras's
``Dropout``). The mask is not drawn here: the trainer draws it on the host from the fit's
seeded dropout stream (``random_width`` values per row; see ``masks``), in blocks of rows sent in one transfer,
and hands each batch its slice (``mask``) — so the same seed gives the same masks, and the same
trained weights, on every backend, and no host<->device traffic happens per batch.
"""

from __future__ import annotations

from typing import Any

from .._types import Array
from . import masks
from .layer import Layer, check_number, short


class Dropout(Layer):
    """y = x * m, m = [u >= rate] / (1 - rate) for u uniform in [0, 1) (16-bit draws: ``masks``)."""

    kind = "Dropout"

    def __init__(self, rate: float):
        super().__init__()
        self.rate = check_number("a dropout rate", rate, 0.0, 1.0)
        self.mask: Array = None  # this batch's scaled mask (rows, width), set by the trainer
        self._mask: Array = None  # the one the last training forward used

    def random_width(self) -> int:
        return int(self.n_in or 0) if self.rate > 0.0 else 0

    def host_mask(self, bits: Any, dtype: str = "float64") -> Any:
        """The scaled mask (a host array of 0 and 1/(1-rate) in ``dtype``, the model's) from this
        layer's slice of the 16-bit draws (``masks.draw``)."""
        return masks.scaled(bits, self.rate, dtype)

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.mask is None or tuple(self.mask.shape) != tuple(x.shape):
            got = None if self.mask is None else tuple(self.mask.shape)
            raise RuntimeError(f"expected the trainer's dropout mask of shape {tuple(x.shape)}; received {got} "
                               "(a Dropout layer trains inside Trainer.fit, which draws its masks)")
        self._mask = self.mask
        return x * self._mask

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        if not input_grad:
            return None
        return grad if self._mask is None else grad * self._mask

    def _backward_into(self, grad: Array, input_grad: bool) -> Array | None:
        # The fast path: ``grad`` is the layer above's scratch gradient, rewritten every step.
        if not input_grad or self._mask is None:
            return self.backward(grad, input_grad=input_grad)
        grad *= self._mask
        return grad

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "rate": self.rate}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Dropout":
        extra = sorted(set(config) - {"kind", "rate"})
        if extra:
            raise ValueError(f"expected a Dropout description with a rate only; received {short(extra)}")
        return cls(config.get("rate"))  # type: ignore[arg-type]  # checked by the constructor

    def describe(self) -> str:
        return f"rate {self.rate:g}"
