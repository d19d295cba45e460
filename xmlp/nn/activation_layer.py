"""``Activation(name)``: an activation function as a layer of its own, so that
``Dense(64, "linear"), BatchNorm(), Activation("relu")`` can be written (Keras's
``layers.Activation``)."""

from __future__ import annotations

from typing import Any

from .._types import Array
from . import activations
from .layer import Layer


class Activation(Layer):
    """a = f(x) element-wise (softmax: row-wise), f any registered activation."""

    kind = "Activation"

    def __init__(self, activation: str | activations.ActivationFunction):
        super().__init__()
        self.activation = activations.get(activation)
        self._cache: Any = None

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        if not training:
            return self.activation.forward(self.xp, x)
        a, self._cache = self.activation.forward_train(self.xp, x)
        return a

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        if self._cache is None:
            raise RuntimeError("Activation.backward called before a training forward")
        cache, self._cache = self._cache, None
        return self.activation.backward(self.xp, grad, cache) if input_grad else None

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "activation": self.activation.name, **self.activation.params()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Activation":
        params = {k: v for k, v in config.items() if k not in ("kind", "activation")}
        return cls(activations.from_config(config.get("activation"), params))

    def describe(self) -> str:
        return self.activation.name
