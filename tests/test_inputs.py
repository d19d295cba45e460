"""Inputs beyond host arrays: device arrays of the model's backend, one-hot label matrices."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.inputs import device_features, device_input, fit_standardizer, labels_of
from xmlp.preprocessing import Standardizer, as_features, model_input


def test_labels_of_one_hot_and_plain_labels():
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


def test_device_path_matches_the_host_path(backend, rng):
    work = "float64" if backend.supports("float64") else "float32"
    x = rng.normal(loc=5.0, scale=3.0, size=(40, 4)).astype(work)
    x[:, 2] = 7.0  # a constant column gets scale 1
    dev = backend.asarray(x, backend.dtype(work))
    host = Standardizer().fit(x)
    on_device = fit_standardizer(backend, dev, chunk=16)
    rtol = 1e-12 if work == "float64" else 1e-5
    np.testing.assert_allclose(on_device.mean, host.mean, rtol=rtol)
    np.testing.assert_allclose(on_device.scale, host.scale, rtol=rtol)
    targets = np.eye(2)[np.arange(40) % 2]
    expected = model_input(x, 4, host, "float32", targets)
    got = backend.to_numpy(device_input(backend, dev, host, "float32", targets, chunk=16))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.array_equal(backend.to_numpy(device_features(backend, dev, 4)), as_features(x, 4))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # the cast of the too-large values
def test_device_features_are_checked_like_host_features(backend):
    xp = backend.xp
    f32 = backend.dtype("float32")
    with pytest.raises(ValueError, match=r"expected a 2-D array of features \(rows, columns\); received shape \(3,\)"):
        device_features(backend, backend.asarray(np.ones(3), f32), None)
    with pytest.raises(ValueError, match="expected 5 features per row"):
        device_features(backend, backend.asarray(np.ones((2, 3)), f32), 5)
    bad = np.ones((3, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="expected finite features; received nan at row 2, column 1"):
        device_features(backend, backend.asarray(bad, f32), None)
    ints = device_features(backend, xp.ones((2, 2), dtype=backend.index_dtype, device=backend.device), None)
    assert xp.isdtype(ints.dtype, "real floating")
    huge = backend.asarray(np.full((2, 2), 3e38), f32)
    with pytest.raises(ValueError, match="expected values that fit float32"):
        device_input(backend, huge, Standardizer(np.zeros(2), np.full(2, 0.5)), "float32")
