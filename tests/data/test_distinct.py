"""``distinct`` gives exactly ``np.unique``'s arrays (values, order, dtypes) on every kind of labels,
including those its counted path takes (one-character strings, small-range integers)."""

import numpy as np
import pytest

from xmlp.data.distinct import distinct

rng = np.random.default_rng(0)
CASES = {
    "M/B": np.where(rng.random(2000) < 0.4, "M", "B"),
    "one character, non-ASCII and empty": np.array(["", "é", "a", "€", "a", "\U0001F600"]),
    "int8 spanning more than int8": np.array([-100, 100, 0, 100], dtype=np.int8),
    "negative int64": rng.integers(-5, 5, 1000),
    "wide range (np.unique)": rng.integers(0, 2**40, 100),
    "uint64 (np.unique)": np.array([2**63 + 5, 1, 2**63 + 5], dtype=np.uint64),
    "uint8": rng.integers(0, 3, 10).astype(np.uint8),
    "longer strings (np.unique)": np.array(["ab", "a", "ab"]),
    "floats (np.unique)": np.array([3.0, 1.0, 3.0]),
    "empty": np.array([], dtype=np.int64),
    "strided one character": np.array(list("MBMBMM"))[::2],
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("counts", [False, True])
def test_distinct_equals_np_unique(name, inverse, counts):
    labels = CASES[name]
    got, want = distinct(labels, inverse, counts), np.unique(labels, return_inverse=inverse, return_counts=counts)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_one_character_labels_are_counted_not_sorted(monkeypatch):
    """The counted path is the one taken for M/B (np.unique would sort the strings)."""
    monkeypatch.setattr(np, "unique", lambda *a, **k: pytest.fail("np.unique called"))
    names, counts = distinct(np.array(list("MBBM")), return_counts=True)
    assert names.tolist() == ["B", "M"] and counts.tolist() == [2, 2]
