"""Plain NumPy MLP training loops, written for comparison: the floor for xmlp's design.

Same work per epoch as ``xmlp.Sequential.fit(metrics=())``: a seeded permutation, batches taken
by index, ReLU hidden layers, fused softmax cross-entropy, SGD, the epoch's mean training loss
and the validation loss. No abstraction at all: what a careful person writes by hand, in three
variants (the benchmarks time all three and take the fastest as the reference):

- ``where``: the ReLU gradient as ``np.where(h > 0, g @ W.T, 0)``;
- ``mask``: the ReLU gradient as a multiply by the mask ``h > 0`` (cast once per layer);
- ``inplace``: ``mask``, plus in-place bias add, ReLU, softmax and SGD updates, and matrix
  products into preallocated buffers (``np.matmul(..., out=...)``): no array allocated per
  step beyond the batch gather (NumPy itself still allocates scratch per call: an iteration
  buffer for each broadcast operation and for the bool-to-float cast of the mask).
"""

from __future__ import annotations

import numpy as np

VARIANTS = ("where", "mask", "inplace")


def train(x, y_onehot, xv, yv_onehot, hidden, epochs, batch_size, lr, seed, dtype=np.float64, variant="inplace"):
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *hidden, y_onehot.shape[1]]
    ws = [rng.uniform(-1, 1, (a, b)).astype(dtype) * np.sqrt(6.0 / a).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
    x, y = x.astype(dtype, copy=False), y_onehot.astype(dtype, copy=False)
    xv, yv = xv.astype(dtype, copy=False), yv_onehot.astype(dtype, copy=False)
    step = _inplace_step(ws, bs, lr, dtype) if variant == "inplace" else None
    n, last = x.shape[0], len(ws) - 1
    history = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            if step is not None:
                loss_sum += step(xb, yb)
                continue
            acts = [xb]
            for i in range(last):
                acts.append(np.maximum(acts[-1] @ ws[i] + bs[i], 0.0))
            z = acts[-1] @ ws[last] + bs[last]
            s = z - z.max(axis=1, keepdims=True)
            e = np.exp(s)
            se = e.sum(axis=1, keepdims=True)
            loss_sum += np.log(se).sum() - (yb * s).sum()
            g = (e / se - yb) / xb.shape[0]
            for i in range(last, -1, -1):
                gw = acts[i].T @ g
                gb = g.sum(axis=0)
                if i:
                    g = np.where(acts[i] > 0.0, g @ ws[i].T, 0.0) if variant == "where" else (g @ ws[i].T) * (acts[i] > 0.0)
                ws[i] -= lr * gw
                bs[i] -= lr * gb
        h = xv
        for i in range(last):
            h = np.maximum(h @ ws[i] + bs[i], 0.0)
        zv = h @ ws[last] + bs[last]
        sv = zv - zv.max(axis=1, keepdims=True)
        val = (np.log(np.exp(sv).sum(axis=1)).sum() - (yv * sv).sum()) / xv.shape[0]
        history.append((float(loss_sum) / n, float(val)))
    return ws, bs, history


def _inplace_step(ws, bs, lr, dtype):
    """One SGD step with buffers allocated once per batch size (the last batch may be smaller)."""
    last = len(ws) - 1
    grads_w = [np.empty_like(w) for w in ws]
    grads_b = [np.empty_like(b) for b in bs]
    buffers: dict[int, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}

    def step(xb, yb):
        m = xb.shape[0]
        if m not in buffers:
            acts = [np.empty((m, w.shape[1]), dtype) for w in ws]
            masks = [np.empty((m, w.shape[1]), dtype) for w in ws[:last]]
            back = [np.empty((m, w.shape[0]), dtype) for w in ws]
            buffers[m] = (acts, masks, back)
        acts, masks, back = buffers[m]
        inp = xb
        for i in range(last + 1):
            np.matmul(inp, ws[i], out=acts[i])
            acts[i] += bs[i]
            if i < last:
                np.greater(acts[i], 0.0, out=masks[i])
                acts[i] *= masks[i]
            inp = acts[i]
        z = acts[last]
        z -= z.max(axis=1, keepdims=True)
        loss = -(yb * z).sum()
        np.exp(z, out=z)
        se = z.sum(axis=1, keepdims=True)
        loss += np.log(se).sum()
        z /= se
        z -= yb
        z *= 1.0 / m
        g = z
        for i in range(last, -1, -1):
            a = acts[i - 1] if i else xb
            np.matmul(a.T, g, out=grads_w[i])
            np.add.reduce(g, axis=0, out=grads_b[i])
            if i:
                np.matmul(g, ws[i].T, out=back[i])
                back[i] *= masks[i - 1]
                g = back[i]
            grads_w[i] *= lr
            ws[i] -= grads_w[i]
            grads_b[i] *= lr
            bs[i] -= grads_b[i]
        return float(loss)

    return step
