"""Dropout masks on the host: row by row from the stream, the rate within 2^-17, exact scale."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.nn import masks


def test_a_rows_draws_do_not_depend_on_the_blocks():
    whole = masks.draw(np.random.default_rng(5), 10, 7)
    rng = np.random.default_rng(5)
    parts = np.concatenate([masks.draw(rng, 4, 7), masks.draw(rng, 6, 7)])
    assert whole.shape == (10, 7) and whole.dtype == np.uint16 and np.array_equal(whole, parts)


@pytest.mark.parametrize("rate", [0.0, 1e-6, 0.1, 0.2, 0.3, 0.5, 0.9, 1 - 2**-15])
def test_the_rate_is_quantised_to_two_to_the_minus_sixteen(rate):
    t = masks.threshold(rate)
    assert 0 <= t < masks.LEVELS and abs(t / masks.LEVELS - rate) <= 2**-17 + 1e-15  # nearest of 65536 levels
    bits = np.arange(masks.LEVELS, dtype=np.uint16)[:, None]  # every value once: the exact keep fraction
    kept = masks.scaled(bits, rate, "float64")
    assert set(np.unique(kept)) <= {0.0, 1.0 / (1.0 - rate)}
    assert np.count_nonzero(kept) == masks.LEVELS - t


def test_drawn_masks_drop_the_rate_and_keep_the_expectation():
    bits = masks.draw(np.random.default_rng(0), 20_000, 50)  # 10^6 values
    mask = masks.scaled(bits, 0.2, "float32")
    assert mask.dtype == np.float32 and mask.flags.c_contiguous
    # a binomial fraction of 10^6 draws: std sqrt(0.16e-6) = 4e-4; 5 std
    assert abs(np.mean(mask == 0) - 0.2) < 2e-3 and abs(mask.mean(dtype=np.float64) - 1.0) < 2.5e-3
    assert mask.max() == np.float32(1.25)
    assert masks.threshold(0.999999) == masks.LEVELS - 1  # above 1 - 2^-17: one value in 65536 is kept
