"""Sharded data on the host: shard ranges, reading only a shard of a CSV file, and the merged
standardisation (Chan et al.'s pairwise update) that every shard agrees on."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data.csv.exact import read_exact
from xmlp.data.preprocessing import Standardizer
from xmlp.data.shards import (
    local_classes,
    merge,
    moments,
    scaling,
    shard_range,
    union_classes,
)
from xmlp.errors import DataError


def test_shard_ranges_cover_the_rows_in_order():
    for n, size in ((569, 2), (10, 3), (2, 4)):
        ranges = [shard_range(n, r, size) for r in range(size)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(ranges[i][1] == ranges[i + 1][0] for i in range(size - 1))
        assert max(hi - lo for lo, hi in ranges) - min(hi - lo for lo, hi in ranges) <= 1


def test_merged_moments_equal_the_standardizer_of_all_rows(wdbc):
    x = wdbc[0]
    whole = Standardizer().fit(x)
    for size in (1, 2, 3, 7):
        parts = [moments(x[slice(*shard_range(len(x), r, size))], chunk=50) for r in range(size)]
        mean, scale = scaling(merge(parts))
        np.testing.assert_allclose(mean, whole.mean, rtol=1e-13)
        np.testing.assert_allclose(scale, whole.scale, rtol=1e-12)


def test_the_merge_is_stable_where_sums_of_squares_cancel():
    """Values 1e9 + unit noise: sum(x^2)/n - mean^2 loses every digit in float64 (1e18 x eps
    ~ 100 against a variance of 1); the pairwise merge keeps 8 of them (the values themselves
    carry only ~1e-7 absolute)."""
    rng = np.random.default_rng(0)
    x = (1e9 + rng.standard_normal((10_000, 2))).astype(np.float64)
    n, mean, m2 = merge(moments(x[slice(*shard_range(len(x), r, 4))], chunk=333) for r in range(4))
    assert n == 10_000
    np.testing.assert_allclose(np.sqrt(m2 / n), x.std(axis=0), rtol=1e-7)
    naive = np.sqrt(np.abs((x**2).mean(axis=0) - x.mean(axis=0) ** 2))
    assert not np.allclose(naive, x.std(axis=0), rtol=1e-3)  # what the merge avoids


def test_constant_columns_scale_to_one_like_the_standardizer():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    np.testing.assert_array_equal(scaling(merge([moments(x[:1]), moments(x[1:])]))[1],
                                  Standardizer().fit(x).scale)


def test_empty_parts_are_skipped_and_nothing_at_all_is_an_error():
    x = np.arange(6.0).reshape(3, 2)
    empty = moments(x[:0])
    assert merge([empty, moments(x), empty])[0] == 3
    with pytest.raises(ValueError, match="expected at least one row"):
        merge([empty])


def test_a_file_shard_parses_only_its_rows(subject_csv):
    whole = read_exact(subject_csv)
    parts = [read_exact(subject_csv, part=(k, 3)) for k in range(3)]
    np.testing.assert_array_equal(np.concatenate([p.x for p in parts]), whole.x)
    assert sum(p.n_rows for p in parts) == whole.n_rows
    lines = subject_csv.read_text().splitlines()
    cells = lines[0].split(",")
    cells[4] = "oops"
    lines[0] = ",".join(cells)
    subject_csv.write_text("\n".join(lines) + "\n")
    read_exact(subject_csv, part=(2, 3))  # a bad cell in another shard is not this shard's business
    with pytest.raises(DataError, match=r"data.csv:1:5: expected a number; received 'oops'"):
        read_exact(subject_csv, part=(0, 3))


def test_more_shards_than_rows_is_a_data_error(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("1,M,1.0,2.0\n2,B,3.0,4.0\n")
    with pytest.raises(DataError, match="expected data rows in part 1 of 3; received none"):
        read_exact(path, part=(0, 3))


def test_classes_of_all_shards():
    assert local_classes(np.array(["M", "B", "M"])) == ["B", "M"]
    assert union_classes([["B"], ["M", "B"], []]) == ["B", "M"]
