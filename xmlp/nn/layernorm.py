"""``LayerNorm(eps=1e-5)``: layer normalisation over each row's features (PyTorch's
``nn.LayerNorm(features)``, Keras's ``LayerNormalization``): each row is normalised by its own
mean and biased variance, then scaled and shifted by the learnable ``weight`` (ones) and ``bias``
(zeros) per feature. The same in training and inference; rows never mix, so data parallelism
needs nothing of it."""

from __future__ import annotations

from typing import Any

from .._types import Array
from .initializers import ones, zeros
from .layer import Layer, check_number, short


class LayerNorm(Layer):
    """y = (x - mean_row) / sqrt(var_row + eps) * weight + bias."""

    kind = "LayerNorm"

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = check_number("a LayerNorm eps", eps, 0.0, low_open=True)
        self._cache: Any = None

    def tensor_shapes(self, n_in: int) -> dict[str, tuple[int, ...]]:
        return {"weight": (n_in,), "bias": (n_in,)}

    def trainable(self) -> tuple[str, ...]:
        return ("weight", "bias")

    def init_host(self, n_in: int, rng: Any) -> dict[str, Any]:
        return {"weight": ones(None, (n_in,)), "bias": zeros(None, (n_in,))}

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        xp = self.xp
        d = x - xp.mean(x, axis=1, keepdims=True)
        invstd = 1.0 / xp.sqrt(xp.mean(d * d, axis=1, keepdims=True) + self.eps)
        xhat = d * invstd
        if training:
            self._cache = (xhat, invstd)
        return xhat * self.params["weight"] + self.params["bias"]

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        if self._cache is None:
            raise RuntimeError("LayerNorm.backward called before a training forward")
        xp = self.xp
        xhat, invstd = self._cache
        self._cache = None
        self.store_grads(weight=xp.sum(grad * xhat, axis=0), bias=xp.sum(grad, axis=0))
        if not input_grad:
            return None
        g = grad * self.params["weight"]  # dL/dxhat
        return (g - xp.mean(g, axis=1, keepdims=True) - xhat * xp.mean(g * xhat, axis=1, keepdims=True)) * invstd

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "eps": self.eps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LayerNorm":
        extra = sorted(set(config) - {"kind", "eps"})
        if extra:
            raise ValueError(f"expected a LayerNorm description with eps only; received {short(extra)}")
        return cls(config.get("eps", 1e-5))
