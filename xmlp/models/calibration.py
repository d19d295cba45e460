"""Temperature scaling: one scalar T > 0 so that softmax(z / T) is calibrated on held-out rows."""

from __future__ import annotations

import math

import numpy as np

from ..nn.losses import log_softmax


def fit_temperature(logits: np.ndarray, true: np.ndarray) -> float:
    """The T > 0 minimizing the cross-entropy of softmax(logits / T) on held-out rows.

    The loss is convex in b = 1/T, so a golden-section search over b in [1/20, 20] finds the
    minimum to ~1e-6; T is returned rounded to 6 significant digits (stored in the model file).
    """
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(true))

    def nll(b: float) -> float:
        return float(-np.mean(log_softmax(np, b * z)[rows, true]))

    lo, hi = 0.05, 20.0
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    while hi - lo > 1e-7:
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return float(f"{1.0 / ((lo + hi) / 2.0):.6g}")
