"""Regression targets on the host: checked (a finite number per row and output), and scaled.

``TargetScaler`` standardises each target column with the training rows' mean and standard
deviation (population, ddof 0; a constant column keeps scale 1) so that the network learns
values of order one whatever the target's unit, as scikit-learn's ``TransformedTargetRegressor``
with a ``StandardScaler`` would; predictions are mapped back (``decode``). With ``scaling=False``
it is the identity. It has the face of ``LabelEncoder`` where the estimator asks for targets:
``fit``, ``one_hot`` (here: the scaled target matrix), ``fitted``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_targets(y: Any, n_outputs: int | None = None) -> np.ndarray:
    """``y`` as a 2-D float64 array (rows, outputs): a 1-D y is one output. Non-numbers, NaN and
    infinity are a ValueError naming the first bad row."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        host: Any = np.asarray(y, dtype=object).reshape(len(y), -1) if len(y) else np.zeros((0, 1))
        for i, row in enumerate(host):
            for v in row:
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"expected numeric regression targets; received {v!r} (row {i}) "
                                     "(hint: a classification has labels: task='classification')") from None
        raise
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"expected targets of shape (rows,) or (rows, outputs); received shape {arr.shape}")
    if not np.isfinite(arr).all():
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"expected finite regression targets; received {arr[row].tolist()} (row {row})")
    if n_outputs is not None and arr.shape[1] != n_outputs:
        raise ValueError(f"expected {n_outputs} target column{'s' if n_outputs > 1 else ''} (as the model was "
                         f"trained); received {arr.shape[1]}")
    return arr


class TargetScaler:
    """Per-output standardisation of regression targets (the identity with ``scaling=False``)."""

    def __init__(self, mean: Any = None, scale: Any = None, *, scaling: bool = True):
        self.scaling = scaling
        self.mean: Any = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale: Any = None if scale is None else np.asarray(scale, dtype=np.float64)
        #: True when the targets were given 1-D (predictions are then 1-D too, as scikit-learn's)
        self.flat = False

    classes = None  # a regression has no classes

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def n_outputs(self) -> int:
        if self.mean is None:
            raise RuntimeError("expected a fitted TargetScaler; received one never fitted")
        return int(self.mean.shape[0])

    def fit(self, y: Any) -> "TargetScaler":
        t = as_targets(y)
        return self.from_moments(t.mean(axis=0), t.std(axis=0), np.ndim(y) == 1)

    def from_moments(self, mean: np.ndarray, std: np.ndarray, flat: bool) -> "TargetScaler":
        """Fitted from the targets' per-output mean and (population) std: a streamed source's
        first pass (``data.scan``) has those, not the targets."""
        self.flat = flat
        if self.scaling:
            self.mean, self.scale = np.asarray(mean, dtype=np.float64), np.where(std > 0, std, 1.0)
        else:
            self.mean, self.scale = np.zeros(len(mean)), np.ones(len(mean))
        return self

    def one_hot(self, y: Any) -> np.ndarray:
        """The targets as the network learns them: (y - mean) / scale, (rows, outputs)."""
        t = as_targets(y, self.n_outputs)
        out: np.ndarray = (t - self.mean) / self.scale
        return out

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Network outputs back in the targets' units; 1-D for a single output given 1-D."""
        out: np.ndarray = np.asarray(z, dtype=np.float64) * self.scale + self.mean
        return out[:, 0] if self.flat and out.shape[1] == 1 else out


class IndicatorEncoder:
    """Multi-label targets: a 0/1 indicator matrix (rows, labels), as scikit-learn takes them;
    ``classes``: the labels' names (0 … k-1 unless given). The face of ``LabelEncoder``."""

    def __init__(self, classes: Any = None):
        self.classes: list[Any] | None = None if classes is None else list(classes)

    @property
    def fitted(self) -> bool:
        return self.classes is not None

    def _matrix(self, y: Any) -> np.ndarray:
        arr = np.asarray(y)
        if arr.ndim != 2 or arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
            raise ValueError(f"expected multi-label targets: a 0/1 indicator matrix (rows, labels); received "
                             f"{'shape ' + str(arr.shape) if arr.ndim != 2 else 'values other than 0 and 1'}")
        if self.classes is not None and arr.shape[1] != len(self.classes):
            raise ValueError(f"expected {len(self.classes)} label columns (as the model was trained); received "
                             f"{arr.shape[1]}")
        return arr.astype(np.float64)

    def fit(self, y: Any) -> "IndicatorEncoder":
        self.classes = None
        self.classes = list(range(self._matrix(y).shape[1]))
        return self

    def one_hot(self, y: Any) -> np.ndarray:
        return self._matrix(y)

    def indices(self, y: Any) -> np.ndarray:
        raise ValueError("expected single-label targets for class indices; received a multi-label model")
