"""Host-side preprocessing: standardisation, label encoding, the model's input array."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data import power
from xmlp.data.preprocessing import LabelEncoder, Standardizer, as_features, model_input


def test_standardizer_matches_numpy_and_handles_constant_columns(rng):
    x = rng.normal(5.0, 3.0, size=(1000, 4))
    x[:, 2] = 7.0
    s = Standardizer().fit(x, chunk=64)  # chunked sums: same numbers as one pass
    np.testing.assert_allclose(s.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(s.scale[[0, 1, 3]], x.std(axis=0)[[0, 1, 3]], rtol=1e-12)
    assert s.scale[2] == 1.0  # a constant column maps to 0, not NaN
    out = s.transform(x)
    assert np.isfinite(out).all() and abs(out[:, 0].mean()) < 1e-12 and (out[:, 2] == 0).all()


def test_label_encoder_sorted_classes_indices_and_one_hot():
    enc = LabelEncoder().fit(["M", "B", "M"])
    assert enc.classes == ["B", "M"]
    assert enc.indices(["M", "B"]).tolist() == [1, 0]
    assert enc.one_hot(["M"]).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match=r"expected a label among B, M; received 'X' \(row 1\)"):
        enc.indices(["B", "X"])


def test_as_features_checks():
    with pytest.raises(ValueError, match=r"expected a 2-D array of features \(rows, columns\); received shape \(3,\)"):
        as_features([1.0, 2.0, 3.0], None)
    with pytest.raises(ValueError, match="expected 2 features per row"):
        as_features([[1.0, 2.0, 3.0]], 2)
    with pytest.raises(ValueError, match="expected finite features; received nan at row 1, column 0"):
        as_features([[1.0], [np.nan]], None)
    assert as_features(np.ones((2, 2), np.float32), 2).dtype == np.float32  # no float64 copy


def test_model_input_standardizes_in_chunks_and_appends_targets(rng):
    x = rng.normal(size=(50, 3))
    s = Standardizer().fit(x)
    y = np.eye(2)[rng.integers(0, 2, 50)]
    out = model_input(x, 3, s, "float32", y, chunk=7)
    assert out.shape == (50, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :3], s.transform(x).astype(np.float32))
    np.testing.assert_array_equal(out[:, 3:], y)
    with pytest.raises(ValueError, match=r"expected values that fit float32 .* at row 2, column 0"):
        model_input(np.array([[0.0], [1.0], [1e39]]), 1, None, "float32")


def test_yeo_johnson_then_standardize(wdbc):
    from xmlp.data import power

    x = wdbc[0][:300]
    s = Standardizer.for_method("yeo-johnson").fit(x)
    assert s.method == "yeo-johnson" and s.lambdas.shape == (30,)
    t = power.transform(x, s.lambdas)
    np.testing.assert_allclose(s.mean, t.mean(axis=0), rtol=1e-12)  # same sums, another order
    out = s.transform(x)
    # Standardized: zero mean, unit variance on the rows it was fitted on (float64 rounding).
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-12)
    assert Standardizer.for_method("standardize").method == "standardize" and Standardizer.for_method(None) is None
    with pytest.raises(ValueError, match="expected preprocess among standardize, yeo-johnson or None; received 'pca'"):
        Standardizer.for_method("pca")


def test_one_hot_label_matrices_are_labels():
    from xmlp.data.preprocessing import LabelEncoder, labels_of

    y = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0]])
    labels, classes = labels_of(y)
    assert labels.tolist() == [1, 0, 1] and classes == [0, 1, 2]  # class 2 has no row but is a class
    assert labels_of(["a", "b"]) == (["a", "b"], None)
    column, none = labels_of(np.array([["a"], ["b"]]))
    assert column.tolist() == ["a", "b"] and none is None
    with pytest.raises(ValueError, match=r"expected labels, or one-hot rows .*received row 1: \[1, 1, 0\]"):
        labels_of(np.array([[0, 1, 0], [1, 1, 0]]))
    with pytest.raises(ValueError, match="received row 0"):
        labels_of(np.array([["a", "b"]]))
    encoder = LabelEncoder().fit(y)
    assert encoder.classes == [0, 1, 2] and encoder.indices(y).tolist() == [1, 0, 1]
    assert encoder.one_hot(y).tolist() == y.tolist()


@pytest.mark.parametrize("rows", [500, 20000])
def test_standardizer_moments_match_the_two_pass_formula(rows):
    """One Yeo-Johnson transform per chunk, moments merged (Chan et al.): up to one chunk (8,192
    rows) the bits of the two-pass mean and std; beyond, equal to rounding (1e-12 relative: a few
    float64 ulps of sums over 2·10⁴ rows)."""
    x = np.random.default_rng(4).exponential(size=(rows, 5)) * [1.0, 10.0, 0.01, 100.0, 3.0]
    st = Standardizer(power=True).fit(x)
    y = power.transform(x, st.lambdas)
    mean = y.sum(axis=0) / rows
    std = np.sqrt(((y - mean) ** 2).sum(axis=0) / rows)
    if rows <= 8192:
        assert st.mean.tobytes() == mean.tobytes() and st.scale.tobytes() == std.tobytes()
    np.testing.assert_allclose(st.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(st.scale, std, rtol=1e-12)


def test_numeric_labels_are_found_exactly_beyond_float_precision():
    """The sorted search over numeric labels compares labels of the classes' own kind only: an
    integer class beyond 2**53 is not a float label it rounds to (the dict lookup's equality)."""
    enc = LabelEncoder()
    enc.classes = [2**53 + 1]
    with pytest.raises(ValueError, match=r"expected a label among 9007199254740993; received 9007199254740992\.0"):
        enc.indices(np.array([2.0**53]))
    enc.classes = [2**53, 2**53 + 1]
    assert enc.indices(np.array([2**53 + 1, 2**53])).tolist() == [1, 0]
    enc.classes = [2**53, 2**53 + 1, 0.5]  # mixed kinds: the lookup, exact
    assert enc.indices(np.array([2**53 + 1])).tolist() == [1]
    enc.classes = [0.5, 1.5]
    assert enc.indices(np.array([1.5, 0.5, 1.5])).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"received 2\.5 \(row 1\)"):
        enc.indices(np.array([0.5, 2.5]))
