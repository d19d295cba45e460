"""Features on their way in: device arrays of the model's backend get the host path's checks and
preprocessing, on the device."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data.preprocessing import Standardizer, as_features, model_input
from xmlp.models.inputs import (
    device_features,
    device_input,
    features,
    fit_preprocessing,
    to_device,
)


@pytest.mark.parametrize("method", ["standardize", "yeo-johnson"])
def test_device_path_matches_the_host_path(backend, rng, method):
    work = "float64" if backend.supports("float64") else "float32"
    x = rng.normal(loc=5.0, scale=3.0, size=(40, 4)).astype(work)
    x[:, 1] = -np.abs(x[:, 1])  # a negative column (the other branch of Yeo-Johnson)
    x[:, 2] = 7.0  # a constant column gets scale 1
    dev = backend.asarray(x, backend.dtype(work))
    host = Standardizer.for_method(method).fit(x)
    on_device = fit_preprocessing(backend, dev, Standardizer.for_method(method), chunk=16)
    rtol = 1e-10 if work == "float64" else 1e-4
    if method == "yeo-johnson":
        np.testing.assert_allclose(on_device.lambdas, host.lambdas, rtol=1e-6)
    np.testing.assert_allclose(on_device.mean, host.mean, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(on_device.scale, host.scale, rtol=rtol)
    targets = np.eye(2)[np.arange(40) % 2]
    expected = model_input(x, 4, host, "float32", targets)
    got = backend.to_numpy(device_input(backend, dev, host, "float32", targets, chunk=16))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(backend.to_numpy(device_features(backend, dev, 4)), as_features(x, 4))
    on_device_, kept = features(backend, dev, 4)
    assert kept == (backend.name != "numpy")  # NumPy arrays are host data
    sent = to_device(backend, x, 4, host, "float32", targets)
    np.testing.assert_allclose(backend.to_numpy(sent), expected, rtol=0, atol=0)


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
    with pytest.raises(ValueError, match="expected values that fit float32 after preprocessing .* at row 0, column 0"):
        device_input(backend, huge, Standardizer(np.zeros(2), np.full(2, 0.5)), "float32")


def test_features_in_the_models_dtype_are_trained_on_as_they_are(rng, monkeypatch):
    """A float32 NumPy model without preprocessing trains on the caller's float32 arrays (no
    copy to append the targets), leaves them unchanged, and learns what it learns from the same
    values given in float64 (converted: a copy) bit for bit."""
    import xmlp
    from xmlp.training.trainer import Trainer

    x, xv = rng.normal(size=(200, 5)).astype(np.float32), rng.normal(size=(50, 5)).astype(np.float32)
    y, yv = (x[:, 0] > 0).astype(int), (xv[:, 0] > 0).astype(int)
    kept, seen, real = (x.copy(), xv.copy()), [], Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self, model, data, val, **kw: seen.append((data, val))
                        or real(self, model, data, val, **kw))

    def fit(a, av):
        model = xmlp.Sequential([xmlp.Dense(8, "relu"), xmlp.Dense(2, "softmax")], backend="numpy",
                                dtype="float32", preprocess=None)
        model.fit(a, y, validation_data=(av, yv), epochs=3, batch_size=16, seed=0, input_noise=0.1)
        return model

    same = fit(x, xv)
    data, val = seen[-1]
    assert np.shares_memory(data.x, x) and np.shares_memory(val.x, xv)
    assert data.t.dtype == np.float32 and data.t.shape == (200, 2)
    np.testing.assert_array_equal(x, kept[0])
    np.testing.assert_array_equal(xv, kept[1])
    copied = fit(x.astype(np.float64), xv.astype(np.float64))
    assert not np.shares_memory(seen[-1][0].x, x)
    for wa, wb in zip(same.get_weights(), copied.get_weights()):
        for key in wa:
            np.testing.assert_array_equal(wa[key], wb[key])
    assert same.history.history == copied.history.history
    frozen = x.copy()
    frozen.flags.writeable = False  # (a memory map opened "r"): copied once, into memory a backend may write
    fit(frozen, xv)
    assert not np.shares_memory(seen[-1][0].x, frozen) and seen[-1][0].x.flags.writeable
