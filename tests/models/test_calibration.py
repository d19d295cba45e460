"""Temperature scaling recovers a known temperature and never makes held-out loss worse."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.models.calibration import fit_temperature
from xmlp.nn.losses import log_softmax


def _nll(z, true, t):
    return float(-np.mean(log_softmax(np, z / t)[np.arange(len(true)), true]))


@pytest.mark.parametrize("true_t", [0.5, 1.0, 3.0])
def test_recovers_the_temperature_that_generated_the_labels(true_t):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 3)) * 3
    p = np.exp(log_softmax(np, z / true_t))
    true = (rng.random(20000)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    t = fit_temperature(z, true)
    # The maximum-likelihood T of 20 000 labels is within a few % of the true T (its standard
    # error here is ~1 %): 5 % separates a working search from a wrong one.
    assert t == pytest.approx(true_t, rel=0.05)
    # It is the minimum: nudging T either way does not lower the held-out loss.
    assert _nll(z, true, t) <= min(_nll(z, true, t * 1.01), _nll(z, true, t / 1.01))


def test_returns_six_significant_digits_within_the_search_range():
    z = np.array([[2.0, -1.0], [0.5, 0.0], [-1.0, 1.0]])
    t = fit_temperature(z, np.array([0, 1, 1]))
    assert 1 / 20 <= t <= 20 and t == float(f"{t:.6g}")
