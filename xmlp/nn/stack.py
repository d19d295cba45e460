"""``Stack``: the K members of an ensemble trained as one network whose parameters carry a
leading member axis — weights ``(K, n_in, n_out)``, vectors ``(K, 1, n)`` — so that one batched
``matmul`` per layer serves every member and a training step costs about as many calls as one
network's. Member k computes exactly what it would alone (its own weights, rows, noise and
masks); only the order of a few sums differs, so the results are those of K separate fits to
rounding. Every parameter and gradient is a view of one flat buffer (weights first, then the
biases), so one optimizer update covers all members at once.

Compute only: the Array API of the members' backend (``matmul`` broadcasts over the member
axis); the members stay the storage — ``gather`` copies their weights in, ``scatter`` back.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .._types import Array
from . import stack_fast
from .activation_layer import Activation
from .dense import Dense
from .dropout import Dropout
from .layernorm import LayerNorm

_STACKED = (Dense, Dropout, Activation, LayerNorm)


def unstackable(members: Sequence[Any]) -> str | None:
    """Why these members cannot train as one stack (None: they can). Stacked: Dense, Dropout,
    Activation and LayerNorm layers with element-wise hidden activations; BatchNorm (whose
    statistics and their all-reduce are per batch) trains member by member."""
    for layer in members[0].layers[:-1]:
        if not isinstance(layer, _STACKED):
            return f"a {layer.kind} layer"
        if getattr(getattr(layer, "activation", None), "name", "") == "softmax":
            return "a hidden softmax"
    return None if isinstance(members[0].layers[-1], Dense) else "an output layer that is not Dense"


class _Part:
    """One region of the flat buffers seen by an optimizer as a layer with one parameter: the
    weights (decayed) or the biases (``decay_bias``); the backend's kernels update it fused."""

    def __init__(self, key: str, params: Array, grads: Array, kernels: Any):
        self.params, self.grads, self.kernels, self.flat = {key: params}, {key: grads}, kernels, None


class Stack:
    """``Stack(members)``: built members of one topology (``unstackable`` is None), trained as one."""

    def __init__(self, members: Sequence[Any]):
        first = members[0]
        self.members, self.k = list(members), len(members)
        self.xp, self.backend, self.loss = first.xp, first.backend, first.loss
        self.dtype, self.dtype_name, self.n_features = first.dtype, first.dtype_name, first.n_features
        self.layers = first.layers  # the kinds and activations (their parameters are the stack's)
        self.norm_layers: list[Any] = []
        self.random_layers = [i for i, layer in enumerate(self.layers) if layer in first.random_layers]
        self.masks: list[Array] = []
        xp, k = self.xp, self.k
        slots = [(i, key) for i, layer in enumerate(self.layers) for key in layer.params]
        slots = [s for s in slots if s[1] != "bias"] + [s for s in slots if s[1] == "bias"]
        shapes = {s: _stacked_shape(k, tuple(self.layers[s[0]].params[s[1]].shape)) for s in slots}
        sizes = {s: math.prod(shapes[s]) for s in slots}
        total = sum(sizes.values())
        self.flat_params = xp.zeros((total,), dtype=self.dtype, device=self.backend.device)
        self.flat_grads = xp.zeros((total,), dtype=self.dtype, device=self.backend.device)
        self.params: dict[tuple[int, str], Array] = {}
        self.grads: dict[tuple[int, str], Array] = {}
        self.spans: dict[tuple[int, str], tuple[int, int]] = {}
        at = 0
        for s in slots:
            self.spans[s] = (at, at + sizes[s])
            self.params[s] = xp.reshape(self.flat_params[at:at + sizes[s]], shapes[s])
            self.grads[s] = xp.reshape(self.flat_grads[at:at + sizes[s]], shapes[s])
            at += sizes[s]
        self._n_weights = sum(sizes[s] for s in slots if s[1] != "bias")
        self.parts: list[_Part] = []
        self.gather()
        self._cache: list[Any] = []
        self._fast = stack_fast.FastStep(self) if stack_fast.usable(self) else None
        self._batch: dict[tuple[int, str], tuple[Array, Array]] = {}  # the gather buffers per batch size (fast paths)

    @property
    def n_inputs(self) -> int:
        return int(self.n_features)

    @property
    def n_outputs(self) -> int:
        return int(self.layers[-1].output_width(0))

    def aliases(self) -> bool:
        """Whether a reshaped slice aliases its buffer on this backend (NumPy, CuPy, torch and
        array-api-strict: yes; the standard does not promise it), checked on a scratch buffer."""
        xp = self.xp
        scratch = xp.zeros((4,), dtype=self.dtype, device=self.backend.device)
        view = xp.reshape(scratch[1:3], (2, 1))
        scratch[1] = 1.0
        return bool(view[0, 0] == 1.0)

    # ------------------------------------------------------------------- members in and out
    def gather(self) -> None:
        """Copy every member's parameters into the stack (on the device)."""
        for (i, key), view in self.params.items():
            view[...] = self.xp.stack([self._member_view(net.layers[i].params[key]) for net in self.members])

    def scatter(self) -> None:
        """Copy the stack's parameters back into the members' own arrays (which stay where they
        are: optimizers and the fast paths' flat layout hold them)."""
        for (i, key), view in self.params.items():
            for m, net in enumerate(self.members):
                target = net.layers[i].params[key]
                target[...] = self.xp.reshape(view[m, ...], tuple(target.shape))

    def _member_view(self, p: Array) -> Array:
        return self.xp.reshape(p, (1, p.shape[0])) if p.ndim == 1 else p

    def optimizer_parts(self, opt: Any) -> list[_Part]:
        """What an optimizer of the stack is built on: the whole flat buffer as one parameter,
        or the weights and the biases apart when only the weights decay (``decay_bias=False``)."""
        nw, kernels = self._n_weights, self.backend.kernels
        split = bool(opt.weight_decay) and not opt.decay_bias and nw < self.flat_params.shape[0]
        self.parts = ([_Part("weight", self.flat_params[:nw], self.flat_grads[:nw], kernels),
                       _Part("bias", self.flat_params[nw:], self.flat_grads[nw:], kernels)] if split else
                      [_Part("weight", self.flat_params, self.flat_grads, kernels)])
        return self.parts

    def optimizer_regions(self, opt: Any) -> list[tuple[tuple[int, str], Any]]:
        """Per slot of a member's optimizer (built on its layers): the stack's (layer, key)."""
        index = {id(layer): i for i, layer in enumerate(self.members[0].layers)}
        return [((index[id(layer)], key), state) for layer, key, state, _ in opt.slots]

    def gather_state(self, stacked: Any, member_opts: Sequence[Any]) -> None:
        """Copy each member's optimizer state (slots, step count) into ``stacked``, an optimizer
        built on ``self.parts``: a warm start continues where the members stopped."""
        stacked.iterations = member_opts[0].iterations
        for j, (slot, _) in enumerate(self.optimizer_regions(member_opts[0])):
            for s in range(len(stacked.slots[0][2])):
                view = self._state_view(stacked, slot, s)
                view[...] = self.xp.stack([self._member_view(opt.slots[j][2][s]) for opt in member_opts])

    def scatter_state(self, stacked: Any, member_opts: Sequence[Any]) -> None:
        """The inverse of ``gather_state``: every member's optimizer continues from the stack's."""
        for opt in member_opts:
            opt.iterations, opt.learning_rate = stacked.iterations, stacked.learning_rate
        for j, (slot, _) in enumerate(self.optimizer_regions(member_opts[0])):
            for s in range(len(stacked.slots[0][2])):
                view = self._state_view(stacked, slot, s)
                for m, opt in enumerate(member_opts):
                    target = opt.slots[j][2][s]
                    target[...] = self.xp.reshape(view[m, ...], tuple(target.shape))

    def _state_view(self, stacked: Any, slot: tuple[int, str], s: int) -> Array:
        lo, hi = self.spans[slot]
        part = 1 if slot[1] == "bias" and len(self.parts) > 1 else 0
        base = self._n_weights if part else 0
        flat = stacked.slots[part][2][s]
        return self.xp.reshape(flat[lo - base:hi - base], tuple(self.params[slot].shape))

    def copy_params(self) -> Array:
        """A device copy of every member's parameters (what a diverged epoch falls back to)."""
        return self.xp.asarray(self.flat_params, copy=True)

    def restore_params(self, saved: Array) -> None:
        self.flat_params[...] = saved

    # ------------------------------------------------------------------- compute
    def logits(self, x: Array, training: bool = False) -> Array:
        """(K, rows, outputs) pre-activations of the output layer; ``x`` is (rows, features)
        (the same rows for every member) or (K, rows, features). Training keeps, per layer, its
        input and what its backward needs."""
        xp, last = self.xp, len(self.layers) - 1
        self._cache = []
        for i, layer in enumerate(self.layers):
            inp, extra = x, None
            if isinstance(layer, Dense):
                z = xp.matmul(x, self.params[(i, "weight")]) + self.params[(i, "bias")]
                if i == last:
                    x = z
                elif training:
                    x, extra = layer.activation.forward_train(xp, z)
                else:
                    x = layer.activation.forward(xp, z)
            elif isinstance(layer, Activation):
                fn = layer.activation
                x, extra = fn.forward_train(xp, x) if training else (fn.forward(xp, x), None)
            elif isinstance(layer, Dropout):
                if training and layer.rate > 0:
                    extra = self.masks[self.random_layers.index(i)]
                    x = x * extra
            else:  # LayerNorm over each row's features
                d = x - xp.mean(x, axis=-1, keepdims=True)
                invstd = 1.0 / xp.sqrt(xp.mean(d * d, axis=-1, keepdims=True) + layer.eps)
                xhat = d * invstd
                extra = (xhat, invstd)
                x = xhat * self.params[(i, "weight")] + self.params[(i, "bias")]
            if training:
                self._cache.append((inp, extra))
        return x

    def take(self, data: Array, ids: Array, b: int, targets: Array | None = None) -> tuple[Array, Array]:
        """Every member's batch of ``b`` rows (``ids``: member 0's rows, then member 1's, …) of the
        features ``data`` and ``targets`` (one take of each), or of one [X | Y] array ``data``
        (views of one take): (features (K, b, d), targets (K, b, outputs))."""
        if targets is None:
            batch = self._take(data, ids, b, "rows")
            return batch[:, :, : self.n_inputs], batch[:, :, self.n_inputs :]
        return self._take(data, ids, b, "x"), self._take(targets, ids, b, "t")

    def _take(self, a: Array, ids: Array, b: int, role: str) -> Array:
        """The rows ``ids`` of ``a`` as (K, b, columns): into a buffer kept per (b, role) on fast paths."""
        xp = self.xp
        if self._fast is None:
            return xp.reshape(xp.take(a, ids, axis=0), (self.k, b, a.shape[1]))
        made = self._batch.get((b, role))
        if made is None or made[0].shape[1] != a.shape[1]:  # the buffer and its (K, b, columns) view
            batch = xp.empty((self.k * b, a.shape[1]), dtype=a.dtype, device=self.backend.device)
            made = self._batch[(b, role)] = (batch, xp.reshape(batch, (self.k, b, a.shape[1])))
        self.backend.kernels.take_rows(a, ids, made[0])
        return made[1]

    def train_step(self, x: Array, y: Array, rows: int | None = None, weights: Array | None = None) -> tuple[Array, Array]:
        """Forward, fused loss and backward of every member on its own batch (x: (K, B, features),
        y: (K, B, outputs)): fills the stack's gradients (of each member's batch mean; over
        ``rows`` rows when x is one process's slice; with ``weights`` (K, B), of each member's
        weighted mean, Σwℓ / Σw over its own rows) and returns (the loss summed over every
        member's rows, the (K, B, outputs) logits)."""
        xp, k = self.xp, self.k
        b = x.shape[1]
        if self._fast is not None and weights is None:
            return self._fast(x, y, rows or b)
        z = self.logits(x, training=True)
        c = z.shape[2]
        zf, yf = xp.reshape(z, (k * b, c)), xp.reshape(y, (k * b, c))
        if weights is None:
            total, grad = self.loss.forward_backward(xp, zf, yf, rows or b)
        else:  # each row divided by its member's sum of weights (a member's sum of 0: by 1, as weight_sum)
            sums = xp.sum(weights, axis=1, keepdims=True)
            sums = xp.broadcast_to(sums + xp.astype(sums == 0, sums.dtype), (k, b))
            total, grad = self.loss.weighted(xp, zf, yf, xp.reshape(weights, (k * b,)), xp.reshape(sums, (k * b,)))
        grad = xp.reshape(grad, (k, b, c))
        for i in range(len(self.layers) - 1, -1, -1):
            grad = self._backward(i, grad, i > 0)
        self._cache = []
        return total, z

    def _backward(self, i: int, grad: Array, input_grad: bool) -> Array | None:
        xp, layer = self.xp, self.layers[i]
        inp, extra = self._cache[i]
        if isinstance(layer, Dense):
            if i != len(self.layers) - 1:
                grad = layer.activation.backward(xp, grad, extra)
            self.grads[(i, "weight")][...] = xp.matmul(xp.matrix_transpose(inp), grad)
            self.grads[(i, "bias")][...] = xp.sum(grad, axis=1, keepdims=True)
            return xp.matmul(grad, xp.matrix_transpose(self.params[(i, "weight")])) if input_grad else None
        if isinstance(layer, LayerNorm):  # its parameters' gradients first: also as the first layer
            xhat, invstd = extra
            self.grads[(i, "weight")][...] = xp.sum(grad * xhat, axis=1, keepdims=True)
            self.grads[(i, "bias")][...] = xp.sum(grad, axis=1, keepdims=True)
        if not input_grad:  # the first layer: nothing below needs its input gradient
            return None
        if isinstance(layer, Activation):
            return layer.activation.backward(xp, grad, extra)
        if isinstance(layer, Dropout):
            return grad if extra is None else grad * extra
        g = grad * self.params[(i, "weight")]
        return (g - xp.mean(g, axis=-1, keepdims=True) - xhat * xp.mean(g * xhat, axis=-1, keepdims=True)) * invstd

    def clip(self, norm: float | None, value: float | None) -> None:
        """Gradient clipping per member, as ``optim.clipping`` clips one network's: each member's
        own global L2 norm (torch's ``clip_grad_norm_``), or every value."""
        xp = self.xp
        if value is not None:
            self.flat_grads[...] = xp.clip(self.flat_grads, -value, value)
            return
        total = None
        for g in self.grads.values():
            s = xp.sum(g * g, axis=tuple(range(1, g.ndim)))
            total = s if total is None else total + s
        coef = xp.clip(norm / (xp.sqrt(total) + 1e-6), max=1.0)
        for g in self.grads.values():
            g *= xp.reshape(coef, (self.k,) + (1,) * (g.ndim - 1))


def _stacked_shape(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A parameter's shape with the member axis: (K, n_in, n_out), or (K, 1, n) for a vector
    (broadcast over a batch's rows)."""
    return (k, *shape) if len(shape) == 2 else (k, 1, *shape)
