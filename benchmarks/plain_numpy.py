"""A plain NumPy MLP training loop, written for comparison: the floor for xmlp's design.

Same work per epoch as ``xmlp.Sequential.fit(metrics=())``: a seeded permutation, batches taken
by index, ReLU hidden layers, fused softmax cross-entropy, SGD, the epoch's mean training loss
and the validation loss. No abstraction at all: this is what a careful person writes by hand.
"""

from __future__ import annotations

import numpy as np


def train(x, y_onehot, xv, yv_onehot, hidden, epochs, batch_size, lr, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *hidden, y_onehot.shape[1]]
    ws = [rng.uniform(-1, 1, (a, b)).astype(dtype) * np.sqrt(6.0 / a).astype(dtype) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b, dtype=dtype) for b in sizes[1:]]
    x, y = x.astype(dtype, copy=False), y_onehot.astype(dtype, copy=False)
    xv, yv = xv.astype(dtype, copy=False), yv_onehot.astype(dtype, copy=False)
    n, last = x.shape[0], len(ws) - 1
    history = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb, yb = x[idx], y[idx]
            acts = [xb]
            for i in range(last):
                acts.append(np.maximum(acts[-1] @ ws[i] + bs[i], 0.0))
            z = acts[-1] @ ws[last] + bs[last]
            s = z - z.max(axis=1, keepdims=True)
            e = np.exp(s)
            se = e.sum(axis=1, keepdims=True)
            m = xb.shape[0]
            loss_sum = loss_sum + (np.log(se).sum() - (yb * s).sum())
            g = (e / se - yb) / m
            for i in range(last, -1, -1):
                gw = acts[i].T @ g
                gb = g.sum(axis=0)
                if i:
                    g = np.where(acts[i] > 0.0, g @ ws[i].T, 0.0)
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
