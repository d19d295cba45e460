"""The checks of an ``xmlp train`` run's rows beyond the reader's cell rules, each one line at
the FILE:LINE where it fails: a regression's targets are numbers, a multi-label task's columns
hold 0 or 1, row weights are >= 0 and not all 0, ``--class-weight`` names classes of the data,
and (a streamed file, from its first pass's counts) every class has enough rows."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from .preflight import MIN_CLASS_ROWS
from .settings import TrainSettings


def check_class_weight(s: TrainSettings, classes: Sequence[Any]) -> None:
    """Every label ``--class-weight`` names is one of the training rows' ``classes`` (of all shards)."""
    if isinstance(s.class_weight, dict):
        unknown = [c for c in s.class_weight if c not in classes]
        if unknown:
            raise DataError(f"--class-weight: expected labels among {', '.join(map(str, classes))[:200]}; received "
                            f"{unknown[0]!r}")


def check_indicators(table: Any) -> np.ndarray:
    """A multilabel task's targets: 0 or 1 in every row and column, else a DataError at the first other value."""
    y = table.targets
    bad = np.argwhere((y != 0) & (y != 1))
    if len(bad):
        i, j = bad[0]
        raise DataError(f"{table.path}:{table.line_numbers[i]}: expected 0 or 1 in the label columns (--task multilabel); "
                        f"received {float(y[i, j])!r} in label {j + 1}")
    return np.asarray(y)


def check_weights(table: Any, whole: bool = True) -> None:
    """Row weights (``--sample-weight``) are >= 0 and not all 0 (``whole`` False: a shard, whose
    weights may all be 0 while others' are not): else a DataError at the first bad row."""
    w = table.weights
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise DataError(f"{table.path}:{table.line_numbers[i]}: expected a row weight >= 0 (--sample-weight); "
                        f"received {float(w[i])!r}")
    if whole and not w.sum() > 0:
        raise DataError(f"{table.path}: expected row weights (--sample-weight) that are not all 0; received only zeros")


def numeric_targets(table: Any) -> np.ndarray:
    """A regression's target column as float64, or a DataError at the FILE:LINE of the first
    value that is not a finite number (with the hint that labels are a classification)."""
    try:
        out = np.asarray(table.labels, dtype=np.float64)
        if np.isfinite(out).all():
            return out
    except ValueError:
        pass
    for i, value in enumerate(np.asarray(table.labels).tolist()):
        try:
            if np.isfinite(float(value)):
                continue
        except ValueError:
            pass
        raise DataError(f"{table.path}:{table.line_numbers[i]}: expected a finite number as the regression target; "
                        f"received {value!r} (hint: labels are a classification: --task classification)")
    raise DataError(f"{table.path}: expected finite regression targets")


def check_counts(where: str, classes: list[Any], counts: list[int]) -> None:
    """``preflight.check_classes`` from counts (the labels of a streamed file are never all held)."""
    text = ", ".join(f"{n} {c}" for n, c in zip(classes, counts))
    if len(classes) < 2:
        raise DataError(f"{where}: expected at least two classes in the training data; received only "
                        f"{str(classes[0])!r} ({counts[0]} rows)")
    for n, c in zip(classes, counts):
        if c < MIN_CLASS_ROWS:
            raise DataError(f"{where}: expected at least {MIN_CLASS_ROWS} rows of each class; received {c} of class "
                            f"{n!r} (classes: {text}) — a mistyped label?")
