"""The network: a stack of layers and its fused output loss on one backend. Compute only: it
speaks the Array API of its backend and never touches host data beyond sending its initial
weights and returning them as plain host arrays on request."""

from __future__ import annotations

from typing import Any, Sequence

from .. import backends
from .._types import Array
from . import losses, masks
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .flat import Flat
from .layer import Layer
from .layers import from_config


class Network:
    """``Network([Dense(24, "relu"), Dense(2, "softmax")], "categoricalCrossentropy", backend, "float32")``.

    Any layers (``layers.LAYERS``) may come before the output layer, which is a ``Dense`` with
    the loss's output activation (its logits feed the fused loss)."""

    def __init__(self, layers: Sequence[Layer], loss: Any, backend: backends.Backend, dtype: str):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("expected at least one layer; received none")
        self.loss = losses.get(loss)
        last = self.layers[-1]
        out = last.activation.name if isinstance(last, Dense) else last.kind
        if not isinstance(last, Dense) or out != self.loss.output_activation:
            raise ValueError(
                f"expected a '{self.loss.output_activation}' output layer for {self.loss.name} (a Dense layer, "
                f"last); received '{out}' (hint: Dense({'n_outputs' if self.loss.task == 'regression' else 'n_classes'}, "
                f"activation='{self.loss.output_activation}'))"
                + ("; for a regression: loss='mse' or task='regression'" if out == "linear" else "")
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
        #: the layers that draw host randomness per row (Dropout), and those that see the batch's rows
        self.random_layers: list[Dropout] = [l for l in self.layers if isinstance(l, Dropout) and l.rate > 0]
        self.norm_layers: list[BatchNorm] = [l for l in self.layers if isinstance(l, BatchNorm)]
        # The backend's fast paths (optional primitives), or None: the generic Array API code.
        self.kernels = backend.kernels
        for i, layer in enumerate(self.layers):
            layer.use_kernels(self.kernels)
            layer.inner = i > 0
        self._gather: dict[tuple[int, int, int | None], tuple[Array, ...]] = {}  # buffers per batch size
        self._loss_buffers: dict[int, tuple[Array, ...]] = {}

    def replica(self) -> "Network":
        """A network of the same topology and settings, with fresh (unbuilt) layers."""
        layers = [from_config(layer.config()) for layer in self.layers]
        return Network(layers, self.loss.config(), self.backend, self.dtype_name)

    @property
    def built(self) -> bool:
        return self.n_features is not None

    @property
    def n_inputs(self) -> int:
        """The input width of a built network."""
        if self.n_features is None:
            raise RuntimeError("expected a built network; received one without weights (call build first)")
        return self.n_features

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].output_width(0)

    def widths(self, n_features: int) -> list[int]:
        """The input width of each layer, then the output width."""
        out = [n_features]
        for layer in self.layers:
            out.append(layer.output_width(out[-1]))
        return out

    def tensor_shapes(self, n_features: int) -> list[dict[str, tuple[int, ...]]]:
        """Per layer, its tensors' shapes (parameters, then buffers) for ``n_features`` inputs."""
        return [layer.tensor_shapes(n) for layer, n in zip(self.layers, self.widths(n_features))]

    # ------------------------------------------------------------------- state
    def build(self, n_features: int, rng: Any) -> None:
        """Draw every layer's initial parameters on the host (``rng``) and send them once."""
        host = [layer.init_host(n_in, rng) for layer, n_in in zip(self.layers, self.widths(n_features))]
        self.n_features = None
        self.set_weights(host, n_features)

    def get_weights(self) -> list[dict[str, Any]]:
        """Parameters and buffers as host NumPy arrays: ``[{"weight": W, "bias": b}, {}, …]``."""
        return [{k: self.backend.to_numpy(v) for k, v in {**layer.params, **layer.buffers}.items()}
                for layer in self.layers]

    def set_weights(self, weights: Sequence[dict[str, Any]], n_features: int | None = None) -> None:
        """Load host parameters and buffers (any float dtype) onto the device in the network's
        dtype; the input width is the network's, else ``n_features``, else the first weight's."""
        if len(weights) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} layers of weights; received {len(weights)}")
        n_in = self.n_features or n_features or _first_width(self.layers, weights)
        for i, (layer, n, w) in enumerate(zip(self.layers, self.widths(n_in), weights)):
            expected = layer.tensor_shapes(n)
            for key, shape in expected.items():
                got = tuple(w[key].shape) if key in w else None
                if got != shape:
                    raise ValueError(f"expected layers.{i}.{key} of shape {shape}; received "
                                     f"{got if got is not None else 'none'}")
            extra = sorted(set(w) - set(expected))
            if extra:
                raise ValueError(f"expected layers.{i} to hold {', '.join(expected) or 'no tensors'}; received {extra}")
            with self.backend.activate():
                dev = {k: self.backend.asarray(w[k], self.dtype) for k in expected}
            layer.set_params(self.xp, dev, n)
        self.n_features = n_in
        if self.kernels is not None:  # one buffer for all parameters, one for all gradients
            Flat(self.xp, [layer for layer in self.layers if layer.params])

    def __getstate__(self) -> dict[str, Any]:
        """In-memory pickling (copies, joblib workers): the layer descriptions, the loss, the
        backend (pickled as its spec), the dtype and, once built, the weights as host arrays —
        never device arrays or namespaces. Model *files* are safetensors (``models.saving``)."""
        return {"layers": [layer.config() for layer in self.layers], "loss": self.loss.config(), "backend": self.backend,
                "dtype": self.dtype_name, "weights": self.get_weights() if self.built else None,
                "n_features": self.n_features}

    def __setstate__(self, state: dict[str, Any]) -> None:
        layers = [from_config(config) for config in state["layers"]]
        Network.__init__(self, layers, state["loss"], state["backend"], state["dtype"])
        if state["weights"] is not None:
            self.set_weights(state["weights"], state.get("n_features"))

    def copy_params(self) -> list[dict[str, Array]]:
        """A device-side copy of every parameter and buffer (for restoring later; no host transfer)."""
        return [{k: self.xp.asarray(v, copy=True) for k, v in {**l.params, **l.buffers}.items()} for l in self.layers]

    def restore_params(self, saved: list[dict[str, Array]]) -> None:
        """Copy ``copy_params``'s arrays back into the parameters and buffers (which stay where
        they are: optimizers and the fast paths' flat layout hold them)."""
        for layer, params in zip(self.layers, saved):
            for key, value in params.items():
                (layer.params if key in layer.params else layer.buffers)[key][...] = value

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "layers": [layer.config() for layer in self.layers]}

    def summary(self) -> str:
        """A table of the layers, their output widths and parameter counts (as Keras prints)."""
        rows = [("layer", "details", "output", "parameters")]
        total = frozen = 0
        widths = self.widths(self.n_features) if self.n_features is not None else None
        for i, layer in enumerate(self.layers):
            out = layer.output_width(widths[i]) if widths else layer.units
            count = layer.parameter_count(widths[i]) if widths else None
            total, frozen = total + (count[0] if count else 0), frozen + (count[1] if count else 0)
            shown = (f"{count[0]:,}" + (f" (+{count[1]:,} non-trainable)" if count[1] else "")) if count else \
                ("0" if not layer.trainable() else "? (not built)")
            rows.append((f"{i}: {layer.kind}", layer.describe(), f"(None, {out if out is not None else '?'})", shown))
        cols = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, cols)).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"total parameters: {total + frozen:,}" + (f" (trainable {total:,}, non-trainable {frozen:,})"
                                                                if frozen else "")
                     + ("" if self.n_features else " (input width unknown until fit)"))
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
        return self.layers[-1].activation.forward(self.xp, z)  # type: ignore[attr-defined]

    def gather(self, data: Array, idx: Array, targets: Array | None = None) -> tuple[Array, Array]:
        """The rows ``idx`` as (features, targets): of the features ``data`` and ``targets`` (two
        takes), or of one [X | one-hot Y] array ``data`` (views of one take). Fast paths take
        into buffers that the next gather of as many rows reuses."""
        if targets is None:
            if self.kernels is None:
                batch = self.xp.take(data, idx, axis=0)
                return batch[:, : self.n_inputs], batch[:, self.n_inputs :]
            key = (idx.shape[0], data.shape[1], None)
            if key not in self._gather:
                buf = self.xp.empty((idx.shape[0], data.shape[1]), dtype=data.dtype, device=self.backend.device)
                self._gather[key] = (buf, buf[:, : self.n_inputs], buf[:, self.n_inputs :])
            buf, xb, yb = self._gather[key]
            self.kernels.take_rows(data, idx, buf)
            return xb, yb
        if self.kernels is None:
            return self.xp.take(data, idx, axis=0), self.xp.take(targets, idx, axis=0)
        key = (idx.shape[0], data.shape[1], targets.shape[1])
        if key not in self._gather:
            self._gather[key] = tuple(self.xp.empty((idx.shape[0], a.shape[1]), dtype=a.dtype, device=self.backend.device)
                                      for a in (data, targets))
        xb, yb = self._gather[key][-2:]
        self.kernels.take_rows(data, idx, xb)
        self.kernels.take_rows(targets, idx, yb)
        return xb, yb

    def random_width(self) -> int:
        """Host uniform numbers per row a training step needs (the Dropout layers' masks)."""
        return sum(layer.random_width() for layer in self.random_layers)

    def host_masks(self, rng: Any, rows: int) -> list[Any]:
        """The Dropout layers' scaled masks for the next ``rows`` rows, drawn on the host from
        ``rng`` (``masks.draw``: row by row, so the masks of a row do not depend on how the
        epoch's rows are cut into blocks), one host array per layer."""
        bits = masks.draw(rng, rows, self.random_width())
        out, at = [], 0
        for layer in self.random_layers:
            w = layer.random_width()
            out.append(layer.host_mask(bits[:, at:at + w], self.dtype_name))
            at += w
        return out

    def use_masks(self, masks: Sequence[Array]) -> None:
        """Hand each Dropout layer its device mask of the batch."""
        for layer, mask in zip(self.random_layers, masks):
            layer.mask = mask

    def train_step(self, x: Array, y: Array, rows: int | None = None, weights: Array | None = None,
                   weight_divisor: Any = None) -> tuple[Array, Array]:
        """Forward, fused loss and backward for one batch: fills every layer's ``grads`` (of
        the batch's mean loss; over ``rows`` rows when x is one process's slice of the batch;
        with ``weights``, of its weighted mean, or divided by ``weight_divisor`` instead of the
        batch's sum of weights) and returns (the summed — weighted — loss of x's rows, their logits)."""
        for norm in self.norm_layers:
            norm.rows = rows or x.shape[0]
        if weights is not None or self.kernels is None or type(self.loss) is not losses.SoftmaxCrossEntropy:
            z = self.logits(x, training=True)  # (the fused kernel is the unweighted softmax loss only)
            total, grad = (self.loss.weighted(self.xp, z, y, weights, weight_divisor) if weights is not None
                           else self.loss.forward_backward(self.xp, z, y, rows))
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


def _first_width(layers: Sequence[Layer], weights: Sequence[dict[str, Any]]) -> int:
    """The input width of weights given without one: the first layer holding a tensor tells it."""
    for layer, w in zip(layers, weights):
        if "weight" in w:
            shape = tuple(w["weight"].shape)
            return int(shape[0])
        if w:
            return int(next(iter(w.values())).shape[0])
    raise ValueError("expected the input width (n_features) of weights that hold no tensor")
