"""Classification metrics, and the layout of the one vector the host reads per epoch.

The device side accumulates a confusion matrix (rows: true class, columns: predicted class) and
the clipped cross-entropy sum; the host reads them once per epoch (``EpochVector``) and derives
every metric from them in plain Python. A metric carries its name, whether larger is better,
its plot title and how it is computed; the command line, early stopping and the plots read
them from ``METRICS``.

Averaging: with two classes, precision/recall/F1 are those of the positive class (the last, as
scikit-learn's ``pos_label``); with more, they are the unweighted mean over *every trained
class* (a class with no rows and no predictions counts as 0, scikit-learn's zero_division=0),
whereas scikit-learn's ``average="macro"`` averages over the labels present in y_true and y_pred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .._registry import Registry
from .._types import Array, Namespace

Confusion = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    larger_is_better: bool
    #: value from a confusion matrix and the positive class index; None for the bce metric,
    #: which is accumulated on the device from the probabilities
    from_confusion: Callable[[Confusion, int], float] | None


def _per_class(cm: Confusion) -> list[tuple[float, float, float]]:
    """(precision, recall, F1) of each class; a ratio over zero is 0.0."""
    c = len(cm)
    out = []
    for k in range(c):
        tp = cm[k][k]
        predicted = sum(cm[i][k] for i in range(c))
        actual = sum(cm[k])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((precision, recall, f1))
    return out


def _averaged(which: int) -> Callable[[Confusion, int], float]:
    def value(cm: Confusion, positive: int) -> float:
        per_class = _per_class(cm)
        chosen = [per_class[positive]] if len(cm) == 2 else per_class
        return sum(v[which] for v in chosen) / len(chosen)

    return value


def _accuracy(cm: Confusion, positive: int) -> float:
    total = sum(sum(row) for row in cm)
    return sum(cm[k][k] for k in range(len(cm))) / total if total else 0.0


def _balanced_accuracy(cm: Confusion, positive: int) -> float:
    """The mean recall over classes (scikit-learn's balanced_accuracy_score): accuracy that a
    majority class cannot inflate."""
    return sum(v[1] for v in _per_class(cm)) / len(cm)


METRICS: Registry[Metric] = Registry("a metric")
for _m in (
    Metric("accuracy", "accuracy", True, _accuracy),
    Metric("precision", "precision", True, _averaged(0)),
    Metric("recall", "recall", True, _averaged(1)),
    Metric("f1", "F1", True, _averaged(2)),
    Metric("balanced_accuracy", "balanced accuracy", True, _balanced_accuracy),
    Metric("bce", "binary cross-entropy", False, None),
):
    METRICS.register(_m.name, _m)
#: The loss is reported beside the metrics (and is minimized); it is not chosen with --metrics.
LOSS = Metric("loss", "loss (cross-entropy)", False, None)


def get(name: str) -> Metric:
    """A metric by name; ``loss`` and ``val_``-prefixed names are accepted (early stopping, plots)."""
    base = name.removeprefix("val_")
    return LOSS if base == "loss" else METRICS.get(base)


def check_names(names: Sequence[str]) -> list[str]:
    """The canonical names of ``names`` (duplicates dropped), or a ValueError naming the unknown."""
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ValueError(f"expected metrics among {', '.join(METRICS.names)}; received {unknown}")
    return list(dict.fromkeys(METRICS.canonical(m) for m in names))


def from_confusion(cm: Confusion, positive: int | None = None,
                   names: Sequence[str] | None = None) -> dict[str, float]:
    """The confusion-derived metrics (default: all of them) of a confusion matrix."""
    pos = len(cm) - 1 if positive is None else positive
    chosen = names if names is not None else [n for n, m in METRICS.items() if m.from_confusion]
    return {n: METRICS.get(n).from_confusion(cm, pos) for n in chosen}  # type: ignore[misc]


def device_confusion(xp: Namespace, predicted: Array, y: Array, class_ids: Array) -> Array:
    """C x C counts, on the device and in y's float dtype, of true class (one-hot rows y) vs
    predicted class indices (the host's is ``models.scoring.host_confusion``)."""
    hit = predicted[:, None] == class_ids[None, :]
    return y.T @ xp.astype(hit, y.dtype)


class EpochVector:
    """The layout of the vector the trainer reads from the device once per epoch: for the
    training part, then the validation part (if any): [mean loss, (bce), (C*C confusion)]."""

    def __init__(self, metrics: Sequence[str], n_classes: int, validation: bool):
        self.metrics = list(metrics)
        self.n_classes = n_classes
        self.parts = ["", "val_"] if validation else [""]
        self.bce = "bce" in self.metrics
        self.confusion = any(METRICS.get(m).from_confusion is not None for m in self.metrics)

    def pack(self, xp: Namespace, loss: Array, cm: Array | None, bce: Array | None) -> Array:
        """One part's device values as one 1-D array (cm/bce only where the metrics need them)."""
        pieces = [xp.reshape(loss, (1,))]
        if self.bce:
            pieces.append(xp.reshape(bce, (1,)))
        if self.confusion:
            pieces.append(xp.reshape(cm, (-1,)))
        return xp.concat(pieces)

    def unpack(self, host: list[float]) -> dict[str, float]:
        """The epoch's logs (``loss``, metrics, ``val_loss``, ``val_`` metrics) from the host copy."""
        logs: dict[str, float] = {}
        c, at = self.n_classes, 0
        for prefix in self.parts:
            logs[prefix + "loss"] = host[at]
            at += 1
            values: dict[str, float] = {}
            if self.bce:
                values["bce"] = host[at]
                at += 1
            if self.confusion:
                flat = host[at : at + c * c]
                at += c * c
                values |= from_confusion([flat[r * c : (r + 1) * c] for r in range(c)])
            for m in self.metrics:
                logs[prefix + m] = values[m]
        return logs
