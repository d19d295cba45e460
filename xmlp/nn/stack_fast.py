"""A stack's training step through the backend's fast paths (``Backend.kernels``): the same
operations as ``Stack.train_step``'s Array API code, in the same order, into buffers made once
per batch size — the batched products write straight into the gradients' places in the flat
buffer — so a step allocates almost nothing. For stacks of Dense (and Dropout) layers with a
softmax output and hidden activations the kernels cover; any other stack takes the generic
code. Equal results: ``tests/nn/test_stack.py`` compares the two bit for bit."""

from __future__ import annotations

from typing import Any

from .._types import Array
from .dense import Dense
from .dropout import Dropout
from .losses import SoftmaxCrossEntropy


def usable(stack: Any) -> bool:
    """Whether the backend's kernels cover every operation of this stack's step."""
    k = stack.backend.kernels
    if k is None or getattr(k, "member_sums", None) is None or type(stack.loss) is not SoftmaxCrossEntropy:
        return False
    for layer in stack.layers[:-1]:
        if isinstance(layer, Dense):
            name = layer.activation.name
            if k.bias_activation(name) is None or k.activation_backward(name) is None:
                return False
        elif not isinstance(layer, Dropout):
            return False
    return True


class FastStep:
    """``FastStep(stack)(x, y, rows)``: ``Stack.train_step`` into buffers (x: (K, B, features)
    and y: (K, B, outputs), views of the batch's gather buffer)."""

    def __init__(self, stack: Any):
        self.stack, self.k = stack, stack.backend.kernels
        self._ws: dict[int, list[Any]] = {}
        # per layer, resolved once: (Dense?, W, b, dW, db, activation forward, its backward, which mask)
        last, p, g = len(stack.layers) - 1, stack.params, stack.grads
        self._plan: list[tuple[Any, ...]] = []
        for i, layer in enumerate(stack.layers):
            if isinstance(layer, Dense):
                act = None if i == last else layer.activation.name
                self._plan.append((True, p[(i, "weight")], p[(i, "bias")], g[(i, "weight")], g[(i, "bias")],
                                   act and self.k.bias_activation(act), act and self.k.activation_backward(act), None))
            else:
                m = stack.random_layers.index(i) if i in stack.random_layers else None
                self._plan.append((False, None, None, None, None, None, None, m))

    def _workspace(self, b: int) -> list[Any]:
        """Per layer (z, mask, dL/dz, dL/dx) buffers for batches of b rows; the loss's last."""
        s, xp = self.stack, self.stack.xp
        widths = s.members[0].widths(s.n_inputs)
        made: list[Any] = []
        for i in range(len(s.layers)):
            shapes = ((s.k, b, widths[i + 1]),) * 3 + ((s.k, b, widths[i]),)
            made.append([xp.empty(shape, dtype=s.dtype, device=s.backend.device) for shape in shapes])
        z = made[-1][0]
        # the loss's buffers seen with the member axis, as z is (a reshape is a Python call of
        # ~1 us: made once here, not per step)
        loss = s.loss.buffers(xp, xp.reshape(z, (s.k * b, z.shape[2])))
        made.append([xp.reshape(a, (s.k, b, a.shape[1])) for a in loss[:4]] + [loss[4]])
        self._ws[b] = made
        return made

    def __call__(self, x: Array, y: Array, rows: int) -> tuple[Array, Array]:
        s, k, xp = self.stack, self.k, self.stack.xp
        b = x.shape[1]
        ws = self._ws.get(b) or self._workspace(b)
        inputs, caches = [], []
        for (dense, w, bias, _, _, fwd, _, m), buf in zip(self._plan, ws):
            inputs.append(x)
            if not dense:  # Dropout: the member's mask of the batch, or the identity
                mask = None if m is None else s.masks[m]
                x = x if mask is None else xp.multiply(x, mask)
                caches.append(mask)
                continue
            z = k.matmul(x, w, out=buf[0])
            if fwd is None:  # the output layer: logits for the fused loss
                z += bias
                x, cache = z, None
            else:
                x, cache = fwd(z, bias, buf[1])
            caches.append(cache)
        z = x
        total, grad = k.softmax_cross_entropy(z, y, 1.0 / rows, *ws[-1])
        for i in range(len(self._plan) - 1, -1, -1):
            dense, w, _, gw, gb, _, bwd, _ = self._plan[i]
            if not dense:
                grad = grad if caches[i] is None else xp.multiply(grad, caches[i])
                continue
            if bwd is not None:
                grad = bwd(grad, caches[i], ws[i][2])
            k.matmul(inputs[i].mT, grad, out=gw)
            k.member_sums(grad, out=gb)
            if i > 0:
                grad = k.matmul(grad, w.mT, out=ws[i][3])
        return total, z
