"""Weight initializers, drawn on the host in float64 from a seeded NumPy generator.

Drawing on the host (and sending once) is what makes the same seed give the same initial
weights on every backend. Fans follow Keras: fan_in = n_in, fan_out = n_out for a Dense kernel.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


def he_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """U(-l, l) with l = sqrt(6 / fan_in)."""
    limit = math.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """N(0, 2 / fan_in)."""
    return rng.normal(0.0, math.sqrt(2.0 / shape[0]), size=shape)


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = math.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """N(0, 2 / (fan_in + fan_out))."""
    return rng.normal(0.0, math.sqrt(2.0 / (shape[0] + shape[1])), size=shape)


def zeros(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape)


INITIALIZERS: dict[str, Initializer] = {
    "heUniform": he_uniform,
    "heNormal": he_normal,
    "glorotUniform": glorot_uniform,
    "glorotNormal": glorot_normal,
    "zeros": zeros,
}
_ALIASES = {
    "he_uniform": "heUniform",
    "he_normal": "heNormal",
    "glorot_uniform": "glorotUniform",
    "glorot_normal": "glorotNormal",
    "xavier_uniform": "glorotUniform",
    "xavier_normal": "glorotNormal",
}


def canonical(name: str) -> str:
    key = _ALIASES.get(name, name)
    lowered = {k.lower(): k for k in INITIALIZERS}
    key = lowered.get(key.lower(), key)
    if key not in INITIALIZERS:
        raise ValueError(
            f"expected an initializer among {', '.join(INITIALIZERS)}; received {name!r}"
        )
    return key


def get(name: str) -> Initializer:
    return INITIALIZERS[canonical(name)]
