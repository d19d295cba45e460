"""Host-side preprocessing: standardisation, label encoding, and the model's input array.

Both are fitted on training rows only and travel with the model; prediction applies them and
never refits.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._types import Labels
from . import power, shards, threads
from .distinct import distinct

METHODS = ("standardize", "yeo-johnson")


class Standardizer:
    """x' = (T(x) - mean) / scale, with mean and population std of T(x) on the training rows;
    T is the identity, or (``lambdas`` given, method "yeo-johnson") the Yeo-Johnson transform with
    one λ per column, fitted on the same rows (``xmlp.power``).

    A constant column gets scale 1 (so it maps to 0 rather than NaN).
    """

    def __init__(self, mean: Any = None, scale: Any = None, lambdas: Any = None, *, power: bool = False):
        self.mean: np.ndarray | None = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale: np.ndarray | None = None if scale is None else np.asarray(scale, dtype=np.float64)
        self.lambdas: np.ndarray | None = None if lambdas is None else np.asarray(lambdas, dtype=np.float64)
        self.power = power or lambdas is not None

    @classmethod
    def for_method(cls, method: str | None) -> "Standardizer | None":
        """A fresh preprocessor for "standardize" or "yeo-johnson"; None for None."""
        if method is not None and method not in METHODS:
            raise ValueError(f"expected preprocess among {', '.join(METHODS)} or None; received {method!r}")
        return None if method is None else cls(power=method == "yeo-johnson")

    @property
    def method(self) -> str:
        return "yeo-johnson" if self.power else "standardize"

    def _power(self, x: np.ndarray) -> np.ndarray:
        return power.transform(x, self.lambdas) if self.lambdas is not None else x

    def fit(self, x: np.ndarray, chunk: int = 8192) -> "Standardizer":
        """(λ, then) mean and population std in float64: each row chunk transformed once, its
        moments merged (Chan et al., ``shards.merge``; a float32 data set is never copied whole
        to float64). One chunk (up to 8192 rows) gives the bits of the two-pass formula."""
        x = np.asarray(x)
        if self.power:
            self.lambdas = power.fit(x)
        d = x.shape[1]

        def moments(start: int) -> tuple[int, np.ndarray, np.ndarray]:
            y = self._power(x[start : start + chunk])
            mean = (np.zeros(d) + y.sum(axis=0, dtype=np.float64)) / y.shape[0]
            return y.shape[0], mean, np.zeros(d) + ((y - mean) ** 2).sum(axis=0)

        parts = threads.map_ordered(moments, range(0, x.shape[0], chunk))  # merged in row order
        # A column with std below 1e-12 x its magnitude carries no information, only rounding.
        self.mean, self.scale = shards.scaling(shards.merge(parts))
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.scale is None:
            return np.asarray(x, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if self.lambdas is None:
            out: np.ndarray = (x - self.mean) / self.scale
            return out
        out = power.transform(x, self.lambdas)  # a fresh array: standardised in place, the same bits
        out -= self.mean
        out /= self.scale
        return out


class LabelEncoder:
    """Maps labels (strings or numbers) to indices 0..C-1 of the sorted classes. Wherever it takes
    labels, a one-hot matrix (n, C) is accepted too (Keras's habit): its classes are 0 … C-1."""

    def __init__(self, classes: Sequence[Any] | None = None):
        self.classes: list[Any] | None = None if classes is None else list(classes)

    def fit(self, y: Labels) -> "LabelEncoder":
        y, classes = labels_of(y)
        self.classes = classes or [c.item() if hasattr(c, "item") else c for c in distinct(np.asarray(y))]
        return self

    @property
    def fitted(self) -> bool:
        return self.classes is not None

    def _fitted(self) -> list[Any]:
        if self.classes is None:
            raise RuntimeError("expected a fitted LabelEncoder; received one without classes")
        return self.classes

    def indices(self, y: Labels) -> np.ndarray:
        classes = self._fitted()
        lookup = {c: i for i, c in enumerate(classes)}
        y = labels_of(y)[0]
        arr = np.asarray(y)
        # (numbers of one kind only: int64 and float64 compare in float64, inexact beyond 2**53)
        numbers = (arr.dtype.kind in "iu" and all(type(c) is int for c in classes)
                   or arr.dtype.kind == "f" and all(type(c) is float for c in classes))
        if len(arr) and (numbers or arr.dtype.kind == "U" and all(isinstance(c, str) for c in classes)):
            # Strings and numbers: a sorted search instead of one dict lookup per row (and no list of
            # them); a label not found takes the loop below, which names it.
            keys = np.array(classes)
            order = np.argsort(keys, kind="stable")
            pos = np.minimum(np.searchsorted(keys[order], arr), len(keys) - 1)
            if (keys[order][pos] == arr).all():
                found: np.ndarray = order[pos].astype(np.int64)
                return found
        out = np.empty(len(y), dtype=np.int64)
        for i, label in enumerate(np.asarray(y).tolist()):
            if label not in lookup:
                raise ValueError(
                    f"expected a label among {', '.join(map(str, classes))}; "
                    f"received {label!r} (row {i})"
                )
            out[i] = lookup[label]
        return out

    def one_hot(self, y: Labels) -> np.ndarray:
        out: np.ndarray = np.eye(len(self._fitted()))[self.indices(y)]
        return out


def labels_of(y: Labels) -> tuple[Labels, list[int] | None]:
    """``(labels, classes)``: labels as given (``classes`` None: learned from them), or the class
    indices of a one-hot matrix (n, C) with its classes ``0 … C-1`` — all C of them, even a class
    with no rows. A single column (n, 1) is a column of labels."""
    ndim = y.ndim if hasattr(y, "ndim") else np.ndim(y)
    if ndim != 2:
        return y, None
    host = np.asarray(y)
    if host.shape[1] == 1:
        return host[:, 0], None
    ok = host.dtype.kind in "biuf" and np.isin(host, (0, 1)).all(axis=1) & (host.sum(axis=1) == 1)
    if not np.all(ok):
        row = int(np.argmin(ok)) if host.dtype.kind in "biuf" else 0
        raise ValueError(f"expected labels, or one-hot rows (a single 1, the rest 0); received row {row}: "
                         f"{host[row].tolist()}")
    return host.argmax(axis=1), list(range(host.shape[1]))


def as_features(x: Any, n_features: int | None) -> np.ndarray:
    """A finite floating (rows, features) host array, checked against the expected width.

    Floating input keeps its dtype (no float64 copy of a large float32 data set); anything
    else is converted to float64.
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"expected numeric features; received an array of {arr.dtype}") from None
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D array of features (rows, columns); received shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"expected {n_features} features per row (as the model was trained); "
            f"received {arr.shape[1]}"
        )
    # min and max propagate NaN: two reductions check finiteness without a mask of the data.
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"expected finite features; received {arr[row, col]} at row {row}, column {col}")
    return arr


def model_input(x: Any, n_features: int | None, standardizer: "Standardizer | None", dtype: str,
                targets: np.ndarray | None = None, chunk: int = 8192) -> np.ndarray:
    """[standardized x | targets] as one ``dtype`` array, filled in row chunks (the float64
    arithmetic holds ``chunk`` rows per thread: ``data.threads``). Values that do not fit ``dtype`` are an
    error, not infinities."""
    x = as_features(x, n_features)
    n, d = x.shape
    width = d + (0 if targets is None else targets.shape[1])
    out = np.empty((n, width), dtype=dtype)
    threads.map_ordered(lambda start: fill_chunk(out, x, start, chunk, standardizer, dtype), range(0, n, chunk))
    if targets is not None:
        out[:, d:] = targets
    return out


def fill_chunk(out: np.ndarray, x: np.ndarray, start: int, chunk: int, standardizer: "Standardizer | None",
               dtype: str) -> None:
    """out[start : start + chunk, :d] = x's rows there, standardized and checked (one piece of
    ``model_input``: pieces write disjoint rows, so they may run in threads)."""
    rows = x[start : start + chunk]
    block = standardizer.transform(rows) if standardizer is not None else rows
    check_representable(block, dtype, offset=start)
    out[start : start + chunk, : x.shape[1]] = block


class RowValueError(ValueError):
    """A value of row ``row``, column ``col`` (0-based) that the model cannot use; the command
    line turns it into FILE:LINE:COLUMN."""

    def __init__(self, message: str, row: int, col: int):
        super().__init__(message)
        self.row, self.col = row, col


def check_representable(x: np.ndarray, dtype: str, offset: int = 0) -> np.ndarray:
    """x, after checking that every value is finite and fits ``dtype`` (float32 overflows past
    ~3.4e38; a power transform can overflow far outside the training range)."""
    limit = float(np.finfo(dtype).max)
    # min and max propagate NaN: two reductions check everything without a mask of the data.
    if x.size and not max(-float(x.min()), float(x.max())) <= limit:
        row, col = np.argwhere(~(np.abs(x) <= limit))[0]
        raise RowValueError(
            f"expected values that fit {dtype} after preprocessing (|x| <= {limit:.3g}); received "
            f"{x[row, col]:.6g} at row {row + offset}, column {col} (hint: use --dtype float64, or rescale the data)",
            int(row + offset), int(col))
    return x
