"""Classification and regression metrics, and the layout of the one vector the host reads per epoch.

The device side accumulates a confusion matrix (rows: true class, columns: predicted class) and
the clipped cross-entropy sum; the host reads them once per epoch (``EpochVector``) and derives
every metric from them in plain Python. A metric carries its name, whether larger is better,
its plot title and how it is computed; the command line, early stopping and the plots read
them from ``METRICS``.

Averaging: with two classes, precision/recall/F1 are those of the positive class (the last, as
scikit-learn's ``pos_label``); with more, they are the unweighted mean over *every trained
class* (a class with no rows and no predictions counts as 0, scikit-learn's zero_division=0),
whereas scikit-learn's ``average="macro"`` averages over the labels present in y_true and y_pred.

Regression: the device accumulates, per output, the sums of e^2, |e|, y and y^2 (e = prediction -
target, in the network's scaled units); the host turns them into ``mse``, ``rmse``, ``mae`` and
``r2`` in the targets' own units, each averaged over the outputs with equal weights, as
scikit-learn's ``multioutput="uniform_average"`` (so ``rmse`` is the mean of the outputs' RMSEs).
R² of a constant target is undefined: None ("n/a"), never NaN (scikit-learn's force_finite
would say 0 or 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._registry import Registry
from .._types import Array, Namespace

Confusion = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    larger_is_better: bool
    #: value from a confusion matrix and the positive class index; None for the bce metric,
    #: which is accumulated on the device from the probabilities, and for regression's
    from_confusion: Callable[[Confusion, int], float] | None
    task: str = "classification"


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
    Metric("mse", "mean squared error", False, None, "regression"),
    Metric("rmse", "root mean squared error", False, None, "regression"),
    Metric("mae", "mean absolute error", False, None, "regression"),
    Metric("r2", "R²", True, None, "regression"),
    Metric("hamming_loss", "Hamming loss", False, None, "multilabel"),
    Metric("subset_accuracy", "subset accuracy", True, None, "multilabel"),
    Metric("f1_micro", "F1 (micro)", True, None, "multilabel"),
    Metric("f1_macro", "F1 (macro)", True, None, "multilabel"),
):
    METRICS.register(_m.name, _m)
#: what a fit reports when no metrics are asked for
DEFAULT_METRICS = {"classification": ("accuracy",), "regression": ("r2",), "multilabel": ("hamming_loss",)}
#: The loss is reported beside the metrics (and is minimized); it is not chosen with --metrics.
LOSS = Metric("loss", "loss (cross-entropy)", False, None)


def get(name: str) -> Metric:
    """A metric by name; ``loss`` and ``val_``-prefixed names are accepted (early stopping, plots)."""
    base = name.removeprefix("val_")
    return LOSS if base == "loss" else METRICS.get(base)


def names_of(task: str) -> list[str]:
    return [n for n, m in METRICS.items() if m.task == task]


def check_names(names: Sequence[str], task: str = "classification") -> list[str]:
    """The canonical names of ``names`` (duplicates dropped), or a ValueError naming the unknown
    (or those of another task)."""
    known = names_of(task)
    unknown = [m for m in names if m not in METRICS or METRICS.get(m).task != task]
    if unknown:
        raise ValueError(f"expected metrics among {', '.join(known)} (a {task}); received {unknown}")
    return list(dict.fromkeys(METRICS.canonical(m) for m in names))


def regression_sums(xp: Namespace, out: Array, y: Array, weight: Array | None = None) -> Array:
    """Per output, the sums of e^2, |e|, y, y^2 (e = out - y), as one 1-D array of 4 x outputs;
    ``weight`` (rows,) 0 or 1: only the rows this process computed."""
    e = out - y
    parts = (e * e, xp.abs(e), y, y * y)
    if weight is not None:
        parts = tuple(p * weight[:, None] for p in parts)
    return xp.concat([xp.sum(p, axis=0) for p in parts])


def multilabel_sums(xp: Namespace, predicted: Array, y: Array, weight: Array | None = None) -> Array:
    """Per label the true positives, false positives and false negatives of 0/1 ``predicted``
    against indicator ``y``, then the rows predicted exactly: one 1-D array of 3 x labels + 1;
    ``weight`` (rows,) 0 or 1: only the rows this process computed."""
    w = weight[:, None] if weight is not None else 1.0
    tp, fp, fn = predicted * y * w, predicted * (1.0 - y) * w, (1.0 - predicted) * y * w
    exact = xp.astype(xp.all(predicted == y, axis=1), y.dtype)
    if weight is not None:
        exact = exact * weight
    return xp.concat([xp.sum(tp, axis=0), xp.sum(fp, axis=0), xp.sum(fn, axis=0), xp.reshape(xp.sum(exact), (1,))])


def from_multilabel_sums(sums: Sequence[float], k: int) -> dict[str, float]:
    """hamming_loss, subset_accuracy, f1_micro, f1_macro (scikit-learn's; an F1 of a label never
    predicted nor present is 0, its zero_division) from ``multilabel_sums`` divided by the rows."""
    tp, fp, fn = (sums[i * k:(i + 1) * k] for i in range(3))
    f1 = [2 * t / (2 * t + p + n) if 2 * t + p + n else 0.0 for t, p, n in zip(tp, fp, fn)]
    micro = 2 * sum(tp) / (2 * sum(tp) + sum(fp) + sum(fn)) if 2 * sum(tp) + sum(fp) + sum(fn) else 0.0
    return {"hamming_loss": (sum(fp) + sum(fn)) / k, "subset_accuracy": sums[3 * k], "f1_micro": micro,
            "f1_macro": sum(f1) / k}


def from_regression_sums(sums: Sequence[float], n: float, scale: Sequence[float]) -> dict[str, Any]:
    """mse, rmse, mae, r2 in the targets' units from ``regression_sums`` over ``n`` rows (each
    sum divided by the rows already: means), outputs weighted equally."""
    k = len(scale)
    se, ae, sy, syy = (sums[i * k:(i + 1) * k] for i in range(4))
    mse = [se[j] * scale[j] ** 2 for j in range(k)]
    r2: list[float | None] = []
    for j in range(k):
        variance = syy[j] - sy[j] ** 2  # of the (scaled) targets, from their means
        r2.append(1.0 - se[j] / variance if variance > 1e-12 * max(syy[j], 1e-300) else None)
    return {"mse": sum(mse) / k, "rmse": sum(math.sqrt(max(m, 0.0)) for m in mse) / k,
            "mae": sum(ae[j] * scale[j] for j in range(k)) / k,
            "r2": None if any(r is None for r in r2) else sum(r2) / k}  # type: ignore[arg-type]


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

    def __init__(self, metrics: Sequence[str], n_classes: int, validation: bool,
                 target_scale: Sequence[float] | None = None, multilabel: bool = False):
        self.metrics = list(metrics)
        self.n_classes = n_classes
        self.parts = ["", "val_"] if validation else [""]
        self.bce = "bce" in self.metrics
        self.confusion = any(METRICS.get(m).from_confusion is not None for m in self.metrics)
        #: a regression's outputs' scales (its metrics are in the targets' units), else None
        self.target_scale = None if target_scale is None else [float(s) for s in target_scale]
        self.regression = self.target_scale is not None and bool(self.metrics)
        self.multilabel = multilabel and bool(self.metrics)
        self.confusion = self.confusion and not multilabel
        #: whether the trainer keeps each row's output for the epoch's metrics
        self.records = self.confusion or self.regression or self.multilabel

    def pack(self, xp: Namespace, loss: Array, cm: Array | None, bce: Array | None) -> Array:
        """One part's device values as one 1-D array (cm/bce only where the metrics need them)."""
        pieces = [xp.reshape(loss, (1,))]
        if self.bce:
            pieces.append(xp.reshape(bce, (1,)))
        if self.records:  # the confusion counts, or a regression's sums
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
            elif self.regression:
                assert self.target_scale is not None
                size = 4 * len(self.target_scale)
                values |= from_regression_sums(host[at : at + size], 1.0, self.target_scale)
                at += size
            elif self.multilabel:
                values |= from_multilabel_sums(host[at : at + 3 * c + 1], c)
                at += 3 * c + 1
            for m in self.metrics:
                logs[prefix + m] = values[m]
        return logs


class Records:
    """Each row's output kept through an epoch (or a piece of it) for the epoch's metrics: the
    predicted class (-1, never a class, where another process computed the row), or a
    regression's outputs with a 0/1 weight; ``sums`` turns them into the confusion counts or the
    regression sums against the rows' targets."""

    def __init__(self, layout: EpochVector, xp: Namespace, n: int, n_outputs: int, dtype: Any, index_dtype: Any,
                 device: Any):
        self.layout, self.xp = layout, xp
        if layout.confusion:
            self.predicted = xp.full((n,), -1, dtype=index_dtype, device=device)
        elif layout.regression or layout.multilabel:
            self.outputs = xp.zeros((n, n_outputs), dtype=dtype, device=device)
            self.seen = xp.zeros((n,), dtype=dtype, device=device)

    def add(self, lo: int, hi: int, z: Array) -> None:
        if self.layout.confusion:
            self.predicted[lo:hi] = self.xp.argmax(z, axis=1)
        elif self.layout.regression:
            self.outputs[lo:hi, :] = z
            self.seen[lo:hi] = 1.0
        elif self.layout.multilabel:  # the labels predicted: sigmoid(z) > 0.5, i.e. z > 0
            self.outputs[lo:hi, :] = self.xp.astype(z > 0, z.dtype)
            self.seen[lo:hi] = 1.0

    def sums(self, targets: Array, class_ids: Array) -> Array | None:
        if self.layout.confusion:
            return device_confusion(self.xp, self.predicted, targets, class_ids)
        if self.layout.regression:
            return regression_sums(self.xp, self.outputs, targets, self.seen)
        if self.layout.multilabel:
            return multilabel_sums(self.xp, self.outputs, targets, self.seen)
        return None
