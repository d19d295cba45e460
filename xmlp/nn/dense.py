"""``Dense``: the fully connected layer, a = activation(x @ W + b), with fast paths (the backend's
primitives into buffers reused every step) beside its generic Array API code."""

from __future__ import annotations

from typing import Any

from .._types import Array, Namespace
from . import activations, initializers
from .layer import Layer, short

_CONFIG_KEYS = ("kind", "units", "activation", "kernel_initializer", "bias_initializer")


class Dense(Layer):
    """Fully connected layer: a = activation(x @ W + b), with W shaped (n_in, n_out).

    ``params`` and ``grads`` map "weight"/"bias" to device arrays; optimizers update ``params``.
    """

    kind = "Dense"

    def __init__(
        self,
        units: int,
        activation: str | activations.ActivationFunction | None = None,
        *,
        kernel_initializer: str = "heUniform",
        bias_initializer: str = "zeros",
    ):
        super().__init__()
        self.width = _check_units(units)
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.canonical(kernel_initializer)
        self.bias_initializer = initializers.canonical(bias_initializer)
        self._x: Array = None
        self._cache: Array = None
        self._raw = False
        self._fast: Any = None  # (bias + activation, activation backward) kernels, or None
        self._ws: dict[int, tuple[Any, ...]] = {}  # training buffers per batch size (fast paths)
        self._step_ws: tuple[Any, ...] | None = None  # those of the last training forward
        self._gbuf: tuple[Array, Array] | None = None  # the gradients' buffers (fast paths)

    @property
    def units(self) -> int:
        return self.width

    def output_width(self, n_in: int) -> int:
        return self.width

    def tensor_shapes(self, n_in: int) -> dict[str, tuple[int, ...]]:
        return {"weight": (n_in, self.width), "bias": (self.width,)}

    def trainable(self) -> tuple[str, ...]:
        return ("weight", "bias")

    def describe(self) -> str:
        return self.activation.name

    def adopt_flat(self, flat: Any, views: dict[str, tuple[Array, Array]]) -> None:
        super().adopt_flat(flat, views)
        self._ws, self._gbuf = {}, (views["weight"][1], views["bias"][1])

    def use_kernels(self, kernels: Any) -> None:
        """Train through the backend's optional primitives (None: the generic code only). The
        activation's own kernels are used where the backend has both directions of it."""
        self.kernels, self._ws, self._gbuf = kernels, {}, None
        fwd = kernels.bias_activation(self.activation.name) if kernels is not None else None
        bwd = kernels.activation_backward(self.activation.name) if kernels is not None else None
        self._fast = (fwd, bwd) if fwd is not None and bwd is not None else None

    def init_host(self, n_in: int, rng: Any) -> dict[str, Any]:
        """Initial parameters as float64 host arrays from the host generator ``rng``
        (drawn in a fixed order: kernel, then bias)."""
        w = initializers.get(self.kernel_initializer)(rng, (n_in, self.units))
        b = initializers.get(self.bias_initializer)(rng, (1, self.units))[0]
        return {"weight": w, "bias": b}

    def set_params(self, xp: Namespace, tensors: dict[str, Array], n_in: int | None = None) -> None:
        """Adopt device arrays as parameters (shapes checked)."""
        w, b = tensors["weight"], tensors["bias"]
        if w.ndim != 2 or w.shape[1] != self.units or tuple(b.shape) != (self.units,):
            raise ValueError(
                f"expected weight (n_in, {self.units}) and bias ({self.units},); "
                f"received {tuple(w.shape)} and {tuple(b.shape)}"
            )
        super().set_params(xp, {"weight": w, "bias": b}, int(w.shape[0]))
        self._ws, self._gbuf = {}, None

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        """x @ W + b, then the activation unless ``raw`` (used by fused output losses). With the
        backend's fast paths, training writes into this layer's buffers (reused every step)."""
        if training and self.kernels is not None:
            return self._forward_into(x, raw)
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
        if self._step_ws is not None:
            return self._backward_into(grad, input_grad)
        xp = self.xp
        g = grad if self._raw else self.activation.backward(xp, grad, self._cache)
        self.grads["weight"] = self._x.T @ g
        self.grads["bias"] = xp.sum(g, axis=0)
        dx = g @ self.params["weight"].T if input_grad else None
        self._x = self._cache = None  # release the cached batch
        return dx

    # The same computation as forward/backward, into buffers, through the backend's kernels.
    def _forward_into(self, x: Array, raw: bool) -> Array:
        m = x.shape[0]
        ws = self._ws.get(m) or self._workspace(m)
        z = ws[4](x, self.params["weight"], out=ws[0])
        if raw or self._fast is None:
            z += self.params["bias"]
            a, cache = (z, z) if raw else self.activation.forward_train(self.xp, z)
        else:
            a, cache = self._fast[0](z, self.params["bias"], ws[1])
        self._x, self._cache, self._raw, self._step_ws = x, cache, raw, ws
        return a

    def _backward_into(self, grad: Array, input_grad: bool) -> Array | None:
        ws: Any = self._step_ws  # set by the training forward (backward checked it is)
        k, (gw, gb) = self.kernels, self._gbuf or self._grad_buffers()
        if self._raw:
            g = grad
        elif self._fast is not None:
            g = self._fast[1](grad, self._cache, ws[2])
        else:
            g = self.activation.backward(self.xp, grad, self._cache)
        self.grads["weight"] = ws[4](self._x.T, g, out=gw)
        self.grads["bias"] = k.column_sums(g, out=gb)
        dx = ws[5](g, self.params["weight"].T, out=ws[3]) if input_grad else None
        self._x = self._cache = self._step_ws = None
        return dx

    def _workspace(self, m: int) -> tuple[Any, ...]:
        """(z, mask, dL/dz, dL/dx) buffers for batches of m rows, and the matrix products to use
        on the input (x @ W, x.T @ g) and on the layer's own buffers (g @ W.T)."""
        xp, w, k = self.xp, self.params["weight"], self.kernels
        shapes = ((m, self.units), (m, self.units), (m, self.units), (m, w.shape[0]))
        dot = getattr(k, "dot", None) if min(m, *w.shape) > 1 else None
        self._ws[m] = (*(xp.empty(s, dtype=w.dtype, device=w.device) for s in shapes),
                       dot if dot is not None and self.inner else k.matmul, dot or k.matmul)
        return self._ws[m]

    def _grad_buffers(self) -> tuple[Array, Array]:
        w, b = self.params["weight"], self.params["bias"]
        self._gbuf = (self.xp.empty(w.shape, dtype=w.dtype, device=w.device),
                      self.xp.empty(b.shape, dtype=b.dtype, device=b.device))
        return self._gbuf

    def config(self) -> dict[str, Any]:
        """JSON description: kind, units, activation (with its own parameters), initializers."""
        return {"kind": "Dense", "units": self.units, "activation": self.activation.name,
                **self.activation.params(), "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}

    @classmethod
    def from_config(cls, config: Any) -> "Dense":
        """The inverse of ``config()``; a malformed description is a ValueError naming the fault."""
        if not isinstance(config, dict) or config.get("kind") != "Dense":
            raise ValueError(f"expected a layer of kind 'Dense'; received {short(config)}")
        params = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
        return cls(_check_units(config.get("units")),
                   activations.from_config(config.get("activation"), params),
                   kernel_initializer=config.get("kernel_initializer", "heUniform"),
                   bias_initializer=config.get("bias_initializer", "zeros"))

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r})"


def _check_units(units: Any) -> int:
    if isinstance(units, bool) or not hasattr(units, "__index__") or units < 1:
        raise ValueError(f"expected a Dense layer width >= 1; received {short(units)}")
    return int(units.__index__())
