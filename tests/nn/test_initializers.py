"""Initializer formulas: bounds from fan-in / fan-out, and the moments of the draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmlp.nn import initializers

SHAPE = (400, 300)  # 120 000 draws


@pytest.mark.parametrize("name, bound, std", [
    ("heUniform", math.sqrt(6 / 400), math.sqrt(6 / 400) / math.sqrt(3)),
    ("glorotUniform", math.sqrt(6 / 700), math.sqrt(6 / 700) / math.sqrt(3)),
    ("heNormal", None, math.sqrt(2 / 400)),
    ("glorotNormal", None, math.sqrt(2 / 700)),
])
def test_bounds_and_moments(name, bound, std):
    w = initializers.get(name)(np.random.default_rng(0), SHAPE)
    assert w.shape == SHAPE and w.dtype == np.float64
    if bound is not None:  # uniform: inside (-l, l) and reaching close to both ends
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    # Sampling error of a mean/std over n = 120 000 draws is ~std/sqrt(n) ~ 0.3 % of std;
    # 2 % tolerances are ~7 standard errors wide and still tell a wrong fan (>= 20 % off) apart.
    assert abs(w.mean()) < 0.02 * std
    assert w.std() == pytest.approx(std, rel=0.02)


def test_same_generator_state_same_draws_and_zeros():
    a = initializers.get("heUniform")(np.random.default_rng(3), (4, 5))
    b = initializers.get("he_uniform")(np.random.default_rng(3), (4, 5))
    assert np.array_equal(a, b)
    assert not initializers.get("zeros")(np.random.default_rng(3), (1, 5)).any()
