"""Optimizers. Each docstring states its exact update; state lives on the device beside the
parameters and every update is done in place (arrays keep their identity across steps)."""

from __future__ import annotations

from typing import Any, Iterable


class Optimizer:
    name = ""

    def __init__(self, learning_rate: float = 0.01):
        if not learning_rate > 0.0:
            raise ValueError(f"expected a learning rate > 0; received {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.iterations = 0

    def build(self, xp: Any, layers: Iterable[Any]) -> None:
        """Create the per-parameter state on the parameters' device (called once per fit)."""
        self.xp = xp
        self.iterations = 0

    def step(self, layers: Iterable[Any]) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """Plain stochastic gradient descent: p <- p - lr * g."""

    name = "sgd"

    def step(self, layers):
        lr = self.learning_rate
        for layer in layers:
            params, grads = layer.params, layer.grads
            for key in params:
                params[key] -= lr * grads[key]
        self.iterations += 1


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD}


def get(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    if isinstance(name, Optimizer):
        return name
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"expected an optimizer among {', '.join(OPTIMIZERS)}; received {name!r}")
    return OPTIMIZERS[key](**kwargs)
