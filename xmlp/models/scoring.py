"""Host-side scoring of predicted probabilities (what ``xmlp predict`` and ``evaluate`` report)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..nn.losses import EPS
from ..training.metrics import from_confusion


def host_confusion(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C x C counts of true vs predicted class indices, on the host (rows true, columns predicted;
    the device's is ``training.metrics.device_confusion``)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (true, pred), 1)
    return cm


def binary_cross_entropy(y: np.ndarray, p: np.ndarray, eps: float = EPS) -> float:
    """The subject's E = -(1/N) sum [y log p + (1 - y) log(1 - p)], p clipped to [eps, 1-eps]."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1.0 - eps)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def evaluate_probabilities(
    proba: np.ndarray, true: np.ndarray, classes: Sequence[Any], positive: int | None = None
) -> dict[str, Any]:
    """loss (mean cross-entropy), bce (two classes: of the ``positive`` class, default the last),
    accuracy, precision, recall, f1 and the confusion matrix (rows true, columns predicted)."""
    proba = np.asarray(proba, dtype=np.float64)
    c = len(classes)
    picked = np.clip(proba[np.arange(len(true)), true], EPS, 1.0)
    cm = host_confusion(true, proba.argmax(axis=1), c)
    out: dict[str, Any] = {"loss": float(-np.mean(np.log(picked)))}
    if c == 2:
        pos = 1 if positive is None else positive
        out["bce"] = binary_cross_entropy(true == pos, proba[:, pos])
    out.update(from_confusion(cm.tolist(), positive))
    out["confusion"] = cm.tolist()
    return out


def evaluate_regression(out: np.ndarray, target: np.ndarray, scale: np.ndarray, loss: Any) -> dict[str, Any]:
    """loss (the training loss, in the scaled units it minimises), and mse, rmse, mae, r2 in the
    targets' units, each the uniform average over outputs (scikit-learn's values; R² of a
    constant target None); ``out`` and ``target``: (rows, outputs) in the scaled units."""
    from ..training.metrics import from_regression_sums, regression_sums

    n = max(len(target), 1)
    sums = (regression_sums(np, out, target) / n).tolist()
    return {"loss": float(loss.value(np, out, target)) / n, **from_regression_sums(sums, 1.0, scale.tolist())}


def evaluate_model(model: Any, out: Any, y: Any) -> dict[str, Any]:
    """``Sequential.evaluate`` of its outputs ``out`` (probabilities, or a regression's scaled
    outputs) for the true ``y``."""
    if model.task == "regression":
        return evaluate_regression(np.asarray(out, dtype=np.float64), model.encoder.one_hot(y), model.encoder.scale,
                                   model.loss)
    if model.task == "multilabel":
        from ..training.metrics import from_multilabel_sums, multilabel_sums

        proba, target = np.asarray(out, dtype=np.float64), model.encoder.one_hot(y)
        n, k = max(len(target), 1), target.shape[1]
        sums = (multilabel_sums(np, (proba > 0.5).astype(np.float64), target) / n).tolist()
        p = np.clip(proba, EPS, 1.0 - EPS)  # the loss of the probabilities (clipped as the subject's BCE)
        loss = float(-np.mean(target * np.log(p) + (1.0 - target) * np.log(1.0 - p)))
        return {"loss": loss, **from_multilabel_sums(sums, k)}
    pos = model.classes.index(model.positive_class) if model.positive_class in model.classes else None
    return evaluate_probabilities(out, model.encoder.indices(y), model.classes, pos)


def shard_scores(model: Any, x: np.ndarray, y: np.ndarray, comm: Any) -> dict[str, Any]:
    """``model.evaluate`` of the rows of all shards: each process predicts its own (x, y), and
    the outputs (probabilities, or a regression's scaled outputs) are gathered (in rank order)
    with the true labels or targets and scored together."""
    gathered = comm.allgather((model._infer(x, 65536, True, host=True), y))
    return evaluate_model(model, np.concatenate([o for o, _ in gathered]), np.concatenate([t for _, t in gathered]))
