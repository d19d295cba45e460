"""The fused softmax cross-entropy and the subject's binary cross-entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_grad_close, numeric_grad

from xmlp.models.scoring import binary_cross_entropy as host_bce
from xmlp.nn import losses


@pytest.mark.parametrize("classes", [2, 4])
def test_softmax_cross_entropy_gradient(backend64, classes, rng):
    be, f64 = backend64, backend64.dtype("float64")
    z = rng.normal(size=(6, classes)) * 3
    y = np.eye(classes)[rng.integers(0, classes, size=6)]
    fn = losses.SoftmaxCrossEntropy()
    loss, grad = fn(be.xp, be.asarray(z, f64), be.asarray(y, f64))

    def value(zz):
        return float(be.to_numpy(fn(be.xp, be.asarray(zz, f64), be.asarray(y, f64))[0]))

    # Reference: -(1/N) sum y log softmax(z), written out in NumPy.
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # Same float64 formula in a different order: agreement to ~1e-15 relative; 1e-12 leaves room.
    np.testing.assert_allclose(float(be.to_numpy(loss)), -np.mean(np.sum(y * np.log(p), axis=1)), rtol=1e-12)
    np.testing.assert_allclose(be.to_numpy(grad), (p - y) / 6, rtol=1e-12, atol=1e-15)
    assert_grad_close(be.to_numpy(grad), numeric_grad(value, z), "dL/dz")
    summed = float(be.to_numpy(fn.value(be.xp, be.asarray(z, f64), be.asarray(y, f64))))
    np.testing.assert_allclose(summed, 6 * float(be.to_numpy(loss)), rtol=1e-12)


def test_logits_of_1000_give_finite_loss_and_gradient(backend):
    f32 = backend.dtype("float32")
    z = backend.asarray(np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [0.0, 0.0]]), f32)
    y = backend.asarray(np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]), f32)
    loss, grad = losses.SoftmaxCrossEntropy()(backend.xp, z, y)
    loss, grad = backend.to_numpy(loss), backend.to_numpy(grad)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    # Row 1 is wrong by 2000 nats, row 2 right, row 3 is log 2: mean (2000 + 0 + log 2) / 3.
    np.testing.assert_allclose(loss, (2000.0 + math.log(2.0)) / 3, rtol=1e-6)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3], [0.0, 0.0], [-1 / 6, 1 / 6]], rtol=1e-6, atol=1e-7)


def test_binary_cross_entropy_is_the_subject_formula(backend):
    f32 = backend.dtype("float32")
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.6, 0.0])
    # By hand: -(1/4)[log .9 + log .8 + log .6 + log(1 - clip(0))]; the clipped term is log 1 = 0.
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6)) / 4
    # On the device, the bce metric is clipped_nll_sum / N of the 2-unit softmax: logits
    # [log(1 - p), log(p)] give back softmax = [1 - p, p] (p = 0 -> logit -inf, softmax 0).
    with np.errstate(divide="ignore"):
        z = np.stack([np.log1p(-p), np.log(p)], axis=1)
    onehot = np.stack([1 - y, y], axis=1)
    got = backend.to_numpy(losses.clipped_nll_sum(backend.xp, backend.asarray(z, f32), backend.asarray(onehot, f32))) / 4
    # float32 arithmetic (~1e-7 relative) plus the float32 clip of the p = 0 row at 1 - 1.2e-7
    # (adds 1.2e-7 / 4 = 3e-8 absolute, 1e-7 relative): within rtol 1e-6.
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(host_bce(y, p), expected, rtol=1e-12)
    # A confident miss costs -log(1e-15), not infinity.
    np.testing.assert_allclose(host_bce([1.0], [0.0]), -math.log(1e-15), rtol=1e-12)


def test_unknown_loss_is_named():
    with pytest.raises(ValueError, match="expected a loss among categoricalCrossentropy, binaryCrossentropy, mse, mae, "
                                         "huber, sigmoidCrossentropy; received 'msle'"):
        losses.get("msle")


def test_log_softmax_is_exact_and_stable(backend64):
    be, f64 = backend64, backend64.dtype("float64")
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    got = be.to_numpy(losses.log_softmax(be.xp, be.asarray(z, f64)))
    # Row 1 by the textbook formula (no overflow at this size); row 2 analytically.
    np.testing.assert_allclose(got[0], z[0] - np.log(np.exp(z[0]).sum()), rtol=1e-15)
    np.testing.assert_allclose(got[1], [0.0, -1000.0, -2000.0], rtol=1e-15)


def test_binary_loss_needs_two_classes():
    losses.get("binaryCrossentropy").check_classes(2)
    losses.get("categoricalCrossentropy").check_classes(3)
    with pytest.raises(ValueError, match=r"expected two classes for binaryCrossentropy; received 3 \(hint: --loss categoricalCrossentropy\)"):
        losses.get("binary_crossentropy").check_classes(3)
