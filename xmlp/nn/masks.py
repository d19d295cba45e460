"""Dropout masks drawn on the host (NumPy, like the initializers' draws) from a fit's seeded
dropout stream, so that a seed gives the same masks on every backend.

Each row of a block takes ceil(width / 4) raw 64-bit draws of the stream's bit generator, read
as 16-bit unsigned integers u (little-endian, as every platform NumPy wheels exist for); a value
is kept where u >= round(rate * 2^16). A row's masks therefore do not depend on how the epoch's
rows are cut into blocks, and drawing costs a quarter of a float32 uniform per value. The rate
is quantised to 2^-16 (at most 7.6e-6 from the one asked, below 1 - 2^-17; PyTorch's float draws
quantise to 2^-24); the kept values are scaled by exactly 1 / (1 - rate), as ``torch.nn.Dropout`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LEVELS = 1 << 16


def threshold(rate: float) -> int:
    """The smallest kept 16-bit value for a dropout ``rate`` in [0, 1)."""
    return min(round(rate * LEVELS), LEVELS - 1)


def draw(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
    """(rows, width) uniform 16-bit integers, row by row from ``rng``'s bit generator."""
    per_row = -(-width // 4)
    raw = rng.bit_generator.random_raw(rows * per_row)
    return raw.view(np.uint16).reshape(rows, 4 * per_row)[:, :width]


def scaled(bits: np.ndarray, rate: float, dtype: Any) -> np.ndarray:
    """The mask of ``bits`` (from ``draw``): 0 where dropped, 1 / (1 - rate) where kept, in ``dtype``."""
    mask: np.ndarray = np.multiply(bits >= threshold(rate), np.asarray(1.0 / (1.0 - rate), dtype=dtype))
    return mask
