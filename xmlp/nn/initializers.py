"""Weight initializers, drawn on the host in float64 from a seeded NumPy generator.

Drawing on the host (and sending once) is what makes the same seed give the same initial
weights on every backend. Fans follow Keras: fan_in = n_in, fan_out = n_out for a Dense kernel.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._registry import Registry

Initializer = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def he_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """U(-l, l) with l = sqrt(6 / fan_in)."""
    limit = math.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, 2 / fan_in)."""
    return rng.normal(0.0, math.sqrt(2.0 / shape[0]), size=shape)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, 2 / (fan_in + fan_out))."""
    return rng.normal(0.0, math.sqrt(2.0 / (shape[0] + shape[1])), size=shape)


def zeros(rng: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape)


def ones(rng: np.random.Generator | None, shape: tuple[int, ...]) -> np.ndarray:
    """Ones: a normalisation's initial scale (not a kernel initializer, so not registered)."""
    return np.ones(shape)


INITIALIZERS: Registry[Initializer] = Registry("an initializer")
INITIALIZERS.register("heUniform", he_uniform)
INITIALIZERS.register("heNormal", he_normal)
INITIALIZERS.register("glorotUniform", glorot_uniform, aliases=("xavierUniform",))
INITIALIZERS.register("glorotNormal", glorot_normal, aliases=("xavierNormal",))
INITIALIZERS.register("zeros", zeros)


def canonical(name: object) -> str:
    return INITIALIZERS.canonical(name)


def get(name: object) -> Initializer:
    return INITIALIZERS.get(name)
