"""The layer protocol every layer of a ``Network`` follows, and the defaults of a layer that
keeps its input's width and has no parameters (``Dropout``, ``Activation``).

A layer has trainable ``params`` (device arrays the optimizer updates; their gradients in
``grads``, overwritten by each ``backward``) and ``buffers`` (device state that is saved but not
trained: BatchNorm's running statistics). ``forward(x, training=…)`` caches only what
``backward`` needs; ``backward(grad, input_grad=…)`` returns dL/dx (None when not needed) and
fills ``grads``. ``config()`` is the JSON description the model file stores; ``LAYERS`` in
``layers.py`` rebuilds a layer from it.
"""

from __future__ import annotations

from typing import Any, Callable

from .._types import Array, Namespace


class Layer:
    """Defaults: no parameters, no buffers, the input's width, no host randomness."""

    kind = ""
    #: a process's sums -> the sums over all processes (data parallelism; set by the trainer)
    reduce: Callable[[Array], Array] = staticmethod(lambda a: a)

    def __init__(self) -> None:
        self.n_in: int | None = None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.buffers: dict[str, Array] = {}
        self.xp: Namespace = None
        self.kernels: Any = None
        self.flat: Any = None  # the network's flat layout (flat.Flat), where the params live
        self._grad_views: dict[str, Array] = {}  # the flat layout's views of the gradients
        self.inner = False  # its training input is the previous layer's output

    # ------------------------------------------------------------------ shape and state
    def output_width(self, n_in: int) -> int:
        return n_in

    @property
    def units(self) -> int | None:
        """The output width (known once the layer is built, for a layer that keeps its input's)."""
        return None if self.n_in is None else self.output_width(self.n_in)

    def tensor_shapes(self, n_in: int) -> dict[str, tuple[int, ...]]:
        """The shapes of the parameters, then the buffers, for ``n_in`` inputs (the model file's
        tensors ``layers.{i}.{key}``)."""
        return {}

    def trainable(self) -> tuple[str, ...]:
        """The keys of ``tensor_shapes`` that are trained (the rest are buffers)."""
        return ()

    def init_host(self, n_in: int, rng: Any) -> dict[str, Any]:
        """Initial parameters and buffers as float64 host arrays (drawn from ``rng``, if at all)."""
        return {}

    def set_params(self, xp: Namespace, tensors: dict[str, Array], n_in: int) -> None:
        """Adopt device arrays as parameters and buffers (the network checked their shapes)."""
        self.xp, self.n_in = xp, n_in
        self.params = {k: tensors[k] for k in self.trainable()}
        self.buffers = {k: v for k, v in tensors.items() if k not in self.params}
        self.grads, self.flat, self._grad_views = {}, None, {}

    def adopt_flat(self, flat: Any, views: dict[str, tuple[Array, Array]]) -> None:
        """Take views of the flat layout's buffers (key -> (parameter, gradient)) as parameters,
        and as where ``store_grads`` writes the gradients."""
        self.params = {key: pv for key, (pv, _) in views.items()}
        self._grad_views = {key: gv for key, (_, gv) in views.items()}
        self.flat = flat

    def store_grads(self, **grads: Array) -> None:
        """Set ``grads`` (copied into the flat layout's views where there is one, so that the fused
        update of all parameters at once still applies)."""
        for key, g in grads.items():
            view = self._grad_views.get(key)
            if view is not None:
                view[...] = g
                g = view
            self.grads[key] = g

    def use_kernels(self, kernels: Any) -> None:
        """The backend's optional primitives (None: the generic code); most layers use none."""
        self.kernels = kernels

    def random_width(self) -> int:
        """Host random numbers this layer needs per row and training step (Dropout's mask)."""
        return 0

    def parameter_count(self, n_in: int) -> tuple[int, int]:
        """(trainable, non-trainable) values for ``n_in`` inputs."""
        shapes, trained = self.tensor_shapes(n_in), set(self.trainable())
        sizes = {k: _size(s) for k, s in shapes.items()}
        return (sum(v for k, v in sizes.items() if k in trained), sum(v for k, v in sizes.items() if k not in trained))

    # ------------------------------------------------------------------ compute
    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        raise NotImplementedError

    # The fast paths' entry points (Dense writes into buffers); by default the generic code.
    def _forward_into(self, x: Array, raw: bool) -> Array:
        return self.forward(x, training=True, raw=raw)

    def _backward_into(self, grad: Array, input_grad: bool) -> Array | None:
        return self.backward(grad, input_grad=input_grad)

    # ------------------------------------------------------------------ description
    def config(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def describe(self) -> str:
        """What ``summary()`` prints beside the kind (an activation, a rate)."""
        return ""

    def __repr__(self) -> str:
        return f"{self.kind}({self.describe()})"


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def check_number(what: str, value: Any, low: float, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = True) -> float:
    """A finite real number in the bounds, else a ValueError in Keras's manner."""
    import math

    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        lo = f"{'(' if low_open else '['}{low:g}"
        hi = f"{high:g}{')' if high_open else ']'}" if high is not None else "inf)"
        raise ValueError(f"expected {what} in {lo}, {hi}; received {value!r}")
    return float(value)


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
