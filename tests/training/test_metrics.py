"""Metrics: formulas from confusion counts, device counting, the epoch vector layout."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.models.scoring import host_confusion
from xmlp.training import metrics
from xmlp.training.metrics import device_confusion, from_confusion


def test_metrics_from_confusion_by_hand():
    cm = [[50, 2], [5, 43]]  # rows true B/M, columns predicted; positive = M
    got = from_confusion(cm)
    assert got["accuracy"] == 93 / 100
    assert got["precision"] == 43 / 45 and got["recall"] == 43 / 48
    assert got["f1"] == pytest.approx(2 * (43 / 45) * (43 / 48) / (43 / 45 + 43 / 48), rel=1e-15)
    three = from_confusion([[5, 0, 0], [1, 3, 1], [0, 0, 0]])
    # Macro average; class 2 has no rows nor predictions: precision = recall = 0 (zero_division=0).
    assert three["precision"] == pytest.approx((5 / 6 + 1.0 + 0.0) / 3)
    assert three["recall"] == pytest.approx((1.0 + 3 / 5 + 0.0) / 3)


def test_device_confusion_equals_host_count(backend, rng):
    z = rng.normal(size=(40, 3))
    true = rng.integers(0, 3, size=40)
    f32 = backend.dtype("float32")
    ids = backend.xp.arange(3, dtype=backend.index_dtype, device=backend.device)
    predicted = backend.asarray(z.argmax(axis=1), backend.index_dtype)
    cm = backend.to_numpy(device_confusion(backend.xp, predicted, backend.asarray(np.eye(3)[true], f32), ids))
    np.testing.assert_array_equal(cm, host_confusion(true, z.argmax(axis=1), 3))


def test_balanced_accuracy_is_the_mean_recall():
    cm = [[50, 2], [5, 43]]  # recall of B 50/52, of M 43/48
    assert from_confusion(cm)["balanced_accuracy"] == pytest.approx((50 / 52 + 43 / 48) / 2, rel=1e-15)
    # A model that always answers the majority class: accuracy 0.9, balanced accuracy 0.5.
    lazy = from_confusion([[90, 0], [10, 0]])
    assert lazy["accuracy"] == 0.9 and lazy["balanced_accuracy"] == 0.5
    assert metrics.get("val_balanced_accuracy").larger_is_better


def test_each_metric_carries_its_direction_and_title():
    assert [m for m in metrics.METRICS.names] == ["accuracy", "precision", "recall", "f1", "balanced_accuracy", "bce",
                                                  "mse", "rmse", "mae", "r2",
                                                  "hamming_loss", "subset_accuracy", "f1_micro", "f1_macro"]
    assert metrics.names_of("regression") == ["mse", "rmse", "mae", "r2"] and metrics.get("val_r2").larger_is_better
    assert metrics.names_of("multilabel") == ["hamming_loss", "subset_accuracy", "f1_micro", "f1_macro"]
    assert not metrics.get("hamming_loss").larger_is_better and metrics.get("f1_macro").larger_is_better
    assert not any(metrics.get(m).larger_is_better for m in ("mse", "rmse", "mae"))
    assert all(metrics.get(m).larger_is_better for m in ("accuracy", "precision", "recall", "f1"))
    assert not metrics.get("bce").larger_is_better and not metrics.get("val_loss").larger_is_better
    assert metrics.get("val_f1").title == "F1" and metrics.get("loss").title == "loss (cross-entropy)"
    assert metrics.check_names(["F1", "accuracy", "f1"]) == ["f1", "accuracy"]
    with pytest.raises(ValueError, match=r"expected metrics among accuracy, .*; received \['auc'\]"):
        metrics.check_names(["auc"])


@pytest.mark.parametrize("names, validation", [(["accuracy", "f1", "bce"], True), (["bce"], False), ([], True)])
def test_epoch_vector_pack_unpack_round_trip(backend, names, validation):
    """What pack lays out on the device, unpack reads back under the right names."""
    xp, f32 = backend.xp, backend.dtype("float32")
    layout = metrics.EpochVector(names, 2, validation)
    cm = [[50.0, 2.0], [5.0, 43.0]]
    part = layout.pack(xp, backend.asarray(np.array(0.25), f32), backend.asarray(np.array(cm), f32),
                       backend.asarray(np.array(0.125), f32))
    host = backend.to_numpy(xp.concat([part] * len(layout.parts))).tolist()
    logs = layout.unpack(host)
    expected = {"loss": 0.25, **{m: (0.125 if m == "bce" else from_confusion(cm)[m]) for m in names}}
    prefixes = ["", "val_"] if validation else [""]
    # float32 storage of the confusion-derived ratios: exact for the counts, ratios computed on the host.
    assert logs == {p + k: v for p in prefixes for k, v in expected.items()}
