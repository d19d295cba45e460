"""The network: a stack of layers and its fused output loss on one backend. Compute only: it
speaks the Array API of its backend and never touches host data beyond sending its initial
weights and returning them as plain host arrays on request."""

from __future__ import annotations

import math
from typing import Any, Sequence

from .. import backends
from .._types import Array
from . import losses
from .layers import Dense


class Network:
    """``Network([Dense(24, "relu"), Dense(2, "softmax")], "categoricalCrossentropy", backend, "float32")``."""

    def __init__(self, layers: Sequence[Dense], loss: str, backend: backends.Backend, dtype: str):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("expected at least one layer; received none")
        self.loss = losses.get(loss)
        out = self.layers[-1].activation.name
        if out != self.loss.output_activation:
            raise ValueError(
                f"expected a '{self.loss.output_activation}' output layer for {self.loss.name}; "
                f"received '{out}' (hint: Dense(n_classes, activation='softmax'))"
            )
        self.backend = backend
        self.xp = backend.xp
        self.dtype_name = dtype
        self.dtype = backend.dtype(dtype)
        self.n_features: int | None = None
        # (layer, needs its input gradient) from the last layer down: the first layer's input
        # gradient is never used, so it is never computed.
        self._backward_order = [(self.layers[i], i > 0) for i in range(len(self.layers) - 1, -1, -1)]
        self._forward_order = [(layer, i == len(self.layers) - 1) for i, layer in enumerate(self.layers)]
        # The backend's fast paths (optional primitives), or None: the generic Array API code.
        self.kernels = backend.kernels
        for i, layer in enumerate(self.layers):
            layer.use_kernels(self.kernels)
            layer.inner = i > 0
        self._gather: dict[tuple[int, int], tuple[Array, ...]] = {}  # buffers per batch size
        self._loss_buffers: dict[int, tuple[Array, ...]] = {}

    def replica(self) -> "Network":
        """A network of the same topology and settings, with fresh (unbuilt) layers."""
        layers = [Dense.from_config(layer.config()) for layer in self.layers]
        return Network(layers, self.loss.name, self.backend, self.dtype_name)

    @property
    def built(self) -> bool:
        return self.n_features is not None and bool(self.layers[0].params)

    @property
    def n_inputs(self) -> int:
        """The input width of a built network."""
        if self.n_features is None:
            raise RuntimeError("expected a built network; received one without weights (call build first)")
        return self.n_features

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].units

    # ------------------------------------------------------------------- state
    def build(self, n_features: int, rng: Any) -> None:
        """Draw every layer's initial parameters on the host (``rng``) and send them once."""
        host, n_in = [], n_features
        for layer in self.layers:
            host.append(layer.init_host(n_in, rng))
            n_in = layer.units
        self.n_features = None
        self.set_weights(host)

    def get_weights(self) -> list[dict[str, Any]]:
        """Parameters as host NumPy arrays: ``[{"weight": W, "bias": b}, …]``."""
        return [{k: self.backend.to_numpy(v) for k, v in layer.params.items()} for layer in self.layers]

    def set_weights(self, weights: Sequence[dict[str, Any]]) -> None:
        """Load host parameters (any float dtype) onto the device in the network's dtype."""
        if len(weights) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers of weights; received {len(weights)}")
        n_in = self.n_features if self.n_features is not None else int(weights[0]["weight"].shape[0])
        for i, (layer, w) in enumerate(zip(self.layers, weights)):
            shape = tuple(w["weight"].shape)
            if shape != (n_in, layer.units):
                raise ValueError(f"expected layers.{i}.weight of shape {(n_in, layer.units)}; received {shape}")
            with self.backend.activate():
                dev = {k: self.backend.asarray(w[k], self.dtype) for k in ("weight", "bias")}
            layer.set_params(self.xp, dev)
            n_in = layer.units
        self.n_features = int(weights[0]["weight"].shape[0])
        if self.kernels is not None:  # one buffer for all parameters, one for all gradients
            Flat(self.xp, self.layers)

    def __getstate__(self) -> dict[str, Any]:
        """In-memory pickling (copies, joblib workers): the layer descriptions, the loss, the
        backend (pickled as its spec), the dtype and, once built, the weights as host arrays —
        never device arrays or namespaces. Model *files* are safetensors (``models.saving``)."""
        return {"layers": [layer.config() for layer in self.layers], "loss": self.loss.name, "backend": self.backend,
                "dtype": self.dtype_name, "weights": self.get_weights() if self.built else None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        layers = [Dense.from_config(config) for config in state["layers"]]
        Network.__init__(self, layers, state["loss"], state["backend"], state["dtype"])
        if state["weights"] is not None:
            self.set_weights(state["weights"])

    def copy_params(self) -> list[dict[str, Array]]:
        """A device-side copy of every parameter (for restoring later; no host transfer)."""
        return [{k: self.xp.asarray(v, copy=True) for k, v in l.params.items()} for l in self.layers]

    def restore_params(self, saved: list[dict[str, Array]]) -> None:
        """Copy ``copy_params``'s arrays back into the parameters (which stay where they are:
        optimizers and the fast paths' flat layout hold them)."""
        for layer, params in zip(self.layers, saved):
            for key, value in params.items():
                layer.params[key][...] = value

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "layers": [layer.config() for layer in self.layers]}

    def summary(self) -> str:
        """A table of the layers, their output widths and parameter counts (as Keras prints)."""
        rows = [("layer", "activation", "output", "parameters")]
        n_in, total = self.n_features, 0
        for i, layer in enumerate(self.layers):
            count = (n_in * layer.units + layer.units) if n_in is not None else None
            total += count or 0
            rows.append((f"{i}: Dense", layer.activation.name, f"(None, {layer.units})",
                         f"{count:,}" if count is not None else "? (not built)"))
            n_in = layer.units
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total parameters: {total:,}" + ("" if self.n_features else " (input width unknown until fit)"))
        lines.append(f"backend: {self.backend}, dtype: {self.dtype_name}, loss: {self.loss.name}")
        return "\n".join(lines)

    # ------------------------------------------------------------------- compute
    def logits(self, x: Array, training: bool = False) -> Array:
        """Output-layer pre-activations (the fused loss applies the output activation)."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, training=training, raw=i == last)
        return x

    def probabilities(self, x: Array, temperature: float = 1.0) -> Array:
        """The output activation of logits / temperature."""
        z = self.logits(x)
        if temperature != 1.0:
            z = z * (1.0 / temperature)
        return self.layers[-1].activation.forward(self.xp, z)

    def gather(self, data: Array, idx: Array) -> tuple[Array, Array]:
        """The rows ``idx`` of a [X | one-hot Y] array, as (features, targets) views of one take
        (with fast paths: of a buffer that the next gather of as many rows reuses)."""
        if self.kernels is None:
            batch = self.xp.take(data, idx, axis=0)
            d = self.n_inputs
            return batch[:, :d], batch[:, d:]
        key = (idx.shape[0], data.shape[1])
        if key not in self._gather:
            buf = self.xp.empty((idx.shape[0], data.shape[1]), dtype=data.dtype, device=self.backend.device)
            self._gather[key] = (buf, buf[:, : self.n_inputs], buf[:, self.n_inputs :])
        buf, xb, yb = self._gather[key]
        self.kernels.take_rows(data, idx, buf)
        return xb, yb

    def train_step(self, x: Array, y: Array, rows: int | None = None) -> tuple[Array, Array]:
        """Forward, fused loss and backward for one batch: fills every layer's ``grads`` (of
        the batch's mean loss; over ``rows`` rows when x is one process's slice of the batch)
        and returns (the summed loss of x's rows, their logits)."""
        if self.kernels is None or type(self.loss) is not losses.SoftmaxCrossEntropy:  # the kernel is its loss
            z = self.logits(x, training=True)
            total, grad = self.loss.forward_backward(self.xp, z, y, rows)
        else:  # the layers' buffered forward and backward (Dense.forward/backward's fast path)
            z = x
            for layer, raw in self._forward_order:
                z = layer._forward_into(z, raw)
            buffers = self._loss_buffers.get(z.shape[0]) or self._loss_buffers.setdefault(
                z.shape[0], self.loss.buffers(self.xp, z))
            total, grad = self.kernels.softmax_cross_entropy(z, y, 1.0 / (rows or z.shape[0]), *buffers)
            for layer, input_grad in self._backward_order:
                grad = layer._backward_into(grad, input_grad)
            return total, z
        for layer, input_grad in self._backward_order:
            grad = layer.backward(grad, input_grad=input_grad)
        return total, z


def mean_probabilities(members: Sequence[Network], x: Array, temperature: float = 1.0) -> Array:
    """The mean of the members' probabilities (an ensemble's prediction), on the device."""
    p = members[0].probabilities(x, temperature)
    for net in members[1:]:
        p = p + net.probabilities(x, temperature)
    return p * (1.0 / len(members)) if len(members) > 1 else p


class Flat:
    """A network's parameters and gradients as views of two 1-D buffers (with fast paths), so
    that an optimizer without state (plain SGD) updates all of them with one kernel call per
    operation instead of one per parameter: the same element-wise operations, equal results."""

    def __init__(self, xp: Any, layers: Sequence[Any]):
        first = layers[0].params["weight"]
        shapes = [tuple(layer.params[key].shape) for layer in layers for key in ("weight", "bias")]
        total = sum(math.prod(shape) for shape in shapes)
        self.params = xp.empty((total,), dtype=first.dtype, device=first.device)
        self.grads = xp.empty((total,), dtype=first.dtype, device=first.device)
        self.views: list[tuple[Any, str, Array, Array]] = []
        self._slots: Any = None
        at = 0
        for layer in layers:
            views = {}
            for key in ("weight", "bias"):
                p = layer.params[key]
                n = math.prod(p.shape)
                views[key] = (xp.reshape(self.params[at : at + n], p.shape), xp.reshape(self.grads[at : at + n], p.shape))
                views[key][0][...] = p
                at += n
            layer.set_params(xp, {key: pv for key, (pv, _) in views.items()})
            layer.flat, layer._gbuf = self, (views["weight"][1], views["bias"][1])
            self.views += [(layer, key, pv, gv) for key, (pv, gv) in views.items()]

    def holds(self, slots: Sequence[tuple[Any, str, Any, float]]) -> bool:
        """Whether ``slots`` are exactly this layout's parameters with one decay for all (checked
        once per list of slots), and the parameters and gradients are still its views (a
        data-parallel sync replaces the gradients; checked every step)."""
        if slots is not self._slots:
            if not (len(slots) == len(self.views) and len({s[3] for s in slots}) == 1 and all(
                    s[0] is layer and s[1] == key for s, (layer, key, _, _) in zip(slots, self.views))):
                return False
            self._slots = slots
        for layer, key, p, g in self.views:
            if layer.params[key] is not p or layer.grads[key] is not g:
                return False
        return True
