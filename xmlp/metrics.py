"""Classification metrics.

The device side accumulates a confusion matrix (rows: true class, columns: predicted class); the
host reads it once per epoch and derives every metric from those counts in plain Python.
"""

from __future__ import annotations

from typing import Any, Sequence

METRICS = ("accuracy", "precision", "recall", "f1", "bce")


def confusion(xp: Any, z: Any, y: Any, class_ids: Any) -> Any:
    """C x C counts (as y's float dtype) of true class (one-hot y) vs argmax of scores z."""
    return confusion_of_predictions(xp, xp.argmax(z, axis=1), y, class_ids)


def confusion_of_predictions(xp: Any, predicted: Any, y: Any, class_ids: Any) -> Any:
    """C x C counts of true class (one-hot rows y) vs predicted class indices."""
    hit = predicted[:, None] == class_ids[None, :]
    return y.T @ xp.astype(hit, y.dtype)


def from_confusion(cm: Sequence[Sequence[float]], positive: int | None = None) -> dict[str, float]:
    """accuracy, precision, recall and F1 from a confusion matrix.

    With two classes, precision/recall/F1 are those of class ``positive`` (default: the last,
    as scikit-learn's pos_label); with more, they are macro-averaged over classes. A ratio whose
    denominator is zero is 0.0 (scikit-learn's zero_division=0).
    """
    c = len(cm)
    total = sum(sum(row) for row in cm)
    correct = sum(cm[k][k] for k in range(c))
    per_class = []
    for k in range(c):
        tp = cm[k][k]
        predicted = sum(cm[i][k] for i in range(c))
        actual = sum(cm[k])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((precision, recall, f1))
    if c == 2:
        chosen = [per_class[1 if positive is None else positive]]
    else:
        chosen = per_class
    mean = [sum(v[i] for v in chosen) / len(chosen) for i in range(3)]
    return {
        "accuracy": correct / total if total else 0.0,
        "precision": mean[0],
        "recall": mean[1],
        "f1": mean[2],
    }
