"""The first pass over a source: statistics merged from chunks (stable on data with a large
mean), the exact in-memory fit for one chunk, Yeo-Johnson λ on a seeded sample, classes, and
bad values named by their place."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data import power
from xmlp.data.npy import NpySource
from xmlp.data.preprocessing import Standardizer
from xmlp.data.scan import scan
from xmlp.data.sources import ChunkList
from xmlp.errors import DataError


def _chunks(x, y, rows):
    return ChunkList([(x[i : i + rows], y[i : i + rows]) for i in range(0, len(y), rows)])


def test_streamed_statistics_equal_the_two_pass_result_on_a_large_mean():
    """1e8 + unit noise: the textbook one-pass E[x^2] - E[x]^2 loses every digit (1e16 x eps ~ 2
    against a variance of 1), while the merged chunk moments agree with the two-pass float64
    result to ~1e-9 (the values themselves are only known to ~1.5e-8 absolute at 1e8)."""
    rng = np.random.default_rng(0)
    x = 1e8 + rng.standard_normal((20_000, 3))
    y = np.arange(20_000) % 2
    mean = x.mean(axis=0)
    std = np.sqrt(((x - mean) ** 2).mean(axis=0))  # two passes
    naive = np.sqrt(np.abs((x * x).mean(axis=0) - mean ** 2))
    assert np.max(np.abs(naive / std - 1)) > 1e-3  # the data defeats the naive formula
    got = scan(_chunks(x, y, 777), Standardizer()).standardizer
    # Each of the 26 merges rounds the running mean of ~1e8 to an ulp (1.5e-8): a few 1e-7
    # absolute, a few 1e-15 relative; 1e-14 bounds it (an unstable merge is off by 1e-9 or more).
    np.testing.assert_allclose(got.mean, mean, rtol=1e-14)
    np.testing.assert_allclose(got.scale, std, rtol=1e-9)


def test_one_chunk_is_fitted_exactly_as_in_memory(wdbc):
    x, y, _ = wdbc
    for method in ("standardize", "yeo-johnson"):
        streamed = scan(_chunks(x, y, len(y)), Standardizer.for_method(method)).standardizer
        whole = Standardizer.for_method(method).fit(x)
        assert np.array_equal(streamed.mean, whole.mean) and np.array_equal(streamed.scale, whole.scale)
        if method == "yeo-johnson":
            assert np.array_equal(streamed.lambdas, whole.lambdas)


def test_yeo_johnson_lambdas_from_a_seeded_sample(wdbc):
    x, y, _ = wdbc
    src = _chunks(x, y, 100)
    # A sample as large as the data holds every row in order: λ as in memory; the moments of
    # the transformed rows are then merged from the chunks (float64 rounding: rtol 1e-12).
    full = scan(src, Standardizer(power=True), sample_rows=10_000).standardizer
    whole = Standardizer(power=True).fit(x)
    np.testing.assert_array_equal(full.lambdas, whole.lambdas)
    np.testing.assert_allclose(full.mean, whole.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(full.scale, whole.scale, rtol=1e-12)
    # A smaller sample: the same seed gives the same λ; another seed, another sample.
    a = scan(src, Standardizer(power=True), seed=1, sample_rows=300).standardizer.lambdas
    b = scan(src, Standardizer(power=True), seed=1, sample_rows=300).standardizer.lambdas
    c = scan(src, Standardizer(power=True), seed=2, sample_rows=300).standardizer.lambdas
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # the sample: the 300 rows with the smallest keys, one uniform key per row drawn chunk by chunk
    np.testing.assert_array_equal(power.fit(x[_sample_rows(1, 569, 100, 300)]), a)


def _sample_rows(seed, n, chunk, size):
    rng = np.random.default_rng(seed)
    keys = np.concatenate([rng.random(min(chunk, n - s)) for s in range(0, n, chunk)])
    return np.sort(np.argsort(keys, kind="stable")[:size])


def test_scan_counts_classes_and_rows(wdbc):
    x, y, _ = wdbc
    result = scan(_chunks(x, y, 64), None)
    assert result.n_rows == 569 and result.classes == ["B", "M"] and result.counts == [357, 212]
    assert result.standardizer is None


def test_a_non_finite_value_is_named_by_row_and_column(tmp_path):
    x = np.zeros((50, 3))
    x[37, 2] = np.nan
    np.save(tmp_path / "x.npy", np.column_stack([np.arange(50) % 2, x]))
    with pytest.raises(DataError, match=r"x.npy: row 37, column 2: expected a finite number; received nan"):
        scan(NpySource(tmp_path / "x.npy", label_column=0, chunk_rows=8), Standardizer())
