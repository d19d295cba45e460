"""Layers. ``forward(x)`` caches only what ``backward`` needs; ``backward(grad)`` returns the
gradient w.r.t. the input and overwrites the layer's parameter gradients in ``grads``."""

from __future__ import annotations

from typing import Any

from . import activations, initializers
from ._types import Array, Namespace

_CONFIG_KEYS = ("kind", "units", "activation", "kernel_initializer", "bias_initializer")


class Dense:
    """Fully connected layer: a = activation(x @ W + b), with W shaped (n_in, n_out).

    ``params`` and ``grads`` map "weight"/"bias" to device arrays; optimizers update ``params``.
    """

    def __init__(
        self,
        units: int,
        activation: str | activations.Activation | None = None,
        *,
        kernel_initializer: str = "heUniform",
        bias_initializer: str = "zeros",
    ):
        self.units = _check_units(units)
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.canonical(kernel_initializer)
        self.bias_initializer = initializers.canonical(bias_initializer)
        self.n_in: int | None = None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.xp: Namespace = None
        self._x: Array = None
        self._cache: Array = None
        self._raw = False

    def init_host(self, n_in: int, rng: Any) -> dict[str, Any]:
        """Initial parameters as float64 host arrays from the host generator ``rng``
        (drawn in a fixed order: kernel, then bias)."""
        w = initializers.get(self.kernel_initializer)(rng, (n_in, self.units))
        b = initializers.get(self.bias_initializer)(rng, (1, self.units))[0]
        return {"weight": w, "bias": b}

    def set_params(self, xp: Namespace, params: dict[str, Array]) -> None:
        """Adopt device arrays as parameters (shapes checked)."""
        w, b = params["weight"], params["bias"]
        if w.ndim != 2 or w.shape[1] != self.units or tuple(b.shape) != (self.units,):
            raise ValueError(
                f"expected weight (n_in, {self.units}) and bias ({self.units},); "
                f"received {tuple(w.shape)} and {tuple(b.shape)}"
            )
        self.xp, self.n_in = xp, int(w.shape[0])
        self.params = {"weight": w, "bias": b}
        self.grads = {}

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        """x @ W + b, then the activation unless ``raw`` (used by fused output losses)."""
        z = x @ self.params["weight"]
        z += self.params["bias"]  # in place: z is fresh, so this saves an allocation
        if raw:
            a = cache = z
        elif training:
            a, cache = self.activation.forward_train(self.xp, z)
        else:
            return self.activation.forward(self.xp, z)
        if training:
            self._x, self._cache, self._raw = x, cache, raw
        return a

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        """Gradients from dL/da (or dL/dz after a raw forward); returns dL/dx unless not needed."""
        if self._x is None:
            raise RuntimeError("Dense.backward called before a training forward")
        xp = self.xp
        g = grad if self._raw else self.activation.backward(xp, grad, self._cache)
        self.grads["weight"] = self._x.T @ g
        self.grads["bias"] = xp.sum(g, axis=0)
        dx = g @ self.params["weight"].T if input_grad else None
        self._x = self._cache = None  # release the cached batch
        return dx

    def config(self) -> dict[str, Any]:
        """JSON description: kind, units, activation (with its own parameters), initializers."""
        return {"kind": "Dense", "units": self.units, "activation": self.activation.name,
                **self.activation.params(), "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}

    @classmethod
    def from_config(cls, config: Any) -> "Dense":
        """The inverse of ``config()``; a malformed description is a ValueError naming the fault."""
        if not isinstance(config, dict) or config.get("kind") != "Dense":
            raise ValueError(f"expected a layer of kind 'Dense'; received {_short(config)}")
        params = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
        return cls(_check_units(config.get("units")),
                   activations.from_config(config.get("activation"), params),
                   kernel_initializer=config.get("kernel_initializer", "heUniform"),
                   bias_initializer=config.get("bias_initializer", "zeros"))

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r})"


def _check_units(units: Any) -> int:
    if isinstance(units, bool) or not hasattr(units, "__index__") or units < 1:
        raise ValueError(f"expected a Dense layer width >= 1; received {_short(units)}")
    return int(units.__index__())


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
