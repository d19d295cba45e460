"""Optimizers. Each docstring states its exact update, applied per parameter p with gradient g
at step t = 1, 2, …. State lives on the device beside the parameters; updates are in place.

Weight decay, for every optimizer: with ``weight_decay`` = wd > 0 and
- ``decoupled=False`` (L2, as torch.optim's ``weight_decay``): g <- g + wd * p before the update;
- ``decoupled=True`` (AdamW-style): p <- p - lr * wd * p before the update, g unchanged.
"""

from __future__ import annotations

import math
from typing import Any, Iterable


class Optimizer:
    name = ""

    def __init__(self, learning_rate: float = 0.01, *, weight_decay: float = 0.0, decoupled: bool = False):
        _check("learning rate", learning_rate, low=0.0, strict=True)
        _check("weight decay", weight_decay, low=0.0)
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.decoupled = bool(decoupled)
        self.iterations = 0
        self.slots: list[tuple[Any, str, tuple[Any, ...]]] = []

    def build(self, xp: Any, layers: Iterable[Any]) -> None:
        """Create the per-parameter state on the parameters' device (called once per fit)."""
        self.xp = xp
        self.iterations = 0
        # One flat list of (layer, key, state): the step loop does no nesting.
        self.slots = [(layer, key, self._init_state(xp, p))
                      for layer in layers for key, p in layer.params.items()]

    def _init_state(self, xp: Any, p: Any) -> tuple[Any, ...]:
        return ()

    def step(self, layers: Iterable[Any] = ()) -> None:
        """Update every parameter of the layers given to ``build`` from its gradient."""
        self.iterations += 1
        lr, wd, update = self.learning_rate, self.weight_decay, self._update
        for layer, key, state in self.slots:
            p, g = layer.params[key], layer.grads[key]
            if wd:
                if self.decoupled:
                    p -= (lr * wd) * p
                else:
                    g = g + wd * p
            update(p, g, state)

    def _update(self, p: Any, g: Any, state: tuple[Any, ...]) -> None:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        out = {"name": self.name, "learning_rate": self.learning_rate}
        if self.weight_decay:
            out |= {"weight_decay": self.weight_decay, "decoupled": self.decoupled}
        return out


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum mu, as torch.optim.SGD:

    - mu = 0:   p <- p - lr * g
    - mu > 0:   b <- mu * b + g   (b_0 = 0);   p <- p - lr * b
    - nesterov: b <- mu * b + g;               p <- p - lr * (g + mu * b)
    """

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kw: Any):
        super().__init__(learning_rate, **kw)
        _check("momentum", momentum, low=0.0, high=1.0)
        if nesterov and not momentum > 0.0:
            raise ValueError(f"expected momentum > 0 with nesterov; received {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _init_state(self, xp, p):
        return (xp.zeros_like(p),) if self.momentum else ()

    def _update(self, p, g, state):
        lr, mu = self.learning_rate, self.momentum
        if not mu:
            p -= lr * g
            return
        (b,) = state
        b *= mu
        b += g
        p -= lr * (g + mu * b) if self.nesterov else lr * b

    def config(self):
        out = super().config()
        if self.momentum:
            out |= {"momentum": self.momentum, "nesterov": self.nesterov}
        return out


class RMSprop(Optimizer):
    """RMSprop: v <- rho * v + (1 - rho) * g^2  (v_0 = 0);  p <- p - lr * g / (sqrt(v) + eps)."""

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, eps: float = 1e-7, **kw: Any):
        super().__init__(learning_rate, **kw)
        _check("rho", rho, low=0.0, high=1.0)
        _check("eps", eps, low=0.0, strict=True)
        self.rho, self.eps = float(rho), float(eps)

    def _init_state(self, xp, p):
        return (xp.zeros_like(p),)

    def _update(self, p, g, state):
        (v,) = state
        v *= self.rho
        v += (1.0 - self.rho) * (g * g)
        p -= self.learning_rate * g / (self.xp.sqrt(v) + self.eps)

    def config(self):
        return super().config() | {"rho": self.rho, "eps": self.eps}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba; torch.optim.Adam's arithmetic):

    m <- b1 * m + (1 - b1) * g;   v <- b2 * v + (1 - b2) * g^2   (m_0 = v_0 = 0)
    p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    name = "adam"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, **kw: Any):
        super().__init__(learning_rate, **kw)
        _check("beta1", beta1, low=0.0, high=1.0)
        _check("beta2", beta2, low=0.0, high=1.0)
        _check("eps", eps, low=0.0, strict=True)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _init_state(self, xp, p):
        return (xp.zeros_like(p), xp.zeros_like(p))

    def _update(self, p, g, state):
        m, v = state
        b1, b2, t = self.beta1, self.beta2, self.iterations
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        step = self.learning_rate / (1.0 - b1**t)
        p -= step * m / (self.xp.sqrt(v) / math.sqrt(1.0 - b2**t) + self.eps)

    def config(self):
        return super().config() | {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


def _check(name: str, value: Any, low: float, high: float | None = None, strict: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if strict else value >= low) and (high is None or value < high)
    if not ok:
        bounds = f"> {low}" if strict else f">= {low}"
        if high is not None:
            bounds += f" and < {high}"
        raise ValueError(f"expected {name} {bounds}; received {value!r}")


OPTIMIZERS: dict[str, Any] = {
    "sgd": SGD,
    "momentum": lambda **kw: SGD(**{"momentum": 0.9, **kw}),
    "nesterov": lambda **kw: SGD(**{"momentum": 0.9, "nesterov": True, **kw}),
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": lambda **kw: Adam(**{"weight_decay": 0.01, "decoupled": True, **kw}),
}


def get(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """An optimizer by name (sgd, momentum, nesterov, rmsprop, adam, adamw) or instance."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"expected an optimizer among {', '.join(OPTIMIZERS)}; received {name!r}")
    return OPTIMIZERS[key](**{k: v for k, v in kwargs.items() if v is not None})
