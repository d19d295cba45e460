"""What a model accepts beyond host arrays: arrays already on its backend's device (a torch
tensor for a torch model: "Array API in, Array API out"), and one-hot label matrices (Keras's
habit).

Device arrays get the same checks and the same standardisation as host data
(``preprocessing.as_features`` and ``model_input``), computed by the backend's namespace on its
device: the data never goes through NumPy. What the host reads is small: one flag per check, the
standardisation's two vectors, and the values an error message quotes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import backends
from ._types import Array, Labels
from .preprocessing import Standardizer


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


def _work_dtype(backend: backends.Backend) -> Any:
    """float64 where the device has it (the host path's precision), else float32."""
    return backend.dtype("float64" if backend.supports("float64") else "float32")


def device_features(backend: backends.Backend, x: Array, n_features: int | None) -> Array:
    """``as_features`` on the device: a 2-D numeric array (integers and booleans become
    floating), of the expected width, finite (one flag read)."""
    xp = backend.xp
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of features (rows, columns); received shape {tuple(x.shape)}")
    if not xp.isdtype(x.dtype, "real floating"):
        if not xp.isdtype(x.dtype, ("integral", "bool")):
            raise ValueError(f"expected numeric features; received an array of {x.dtype}")
        x = xp.astype(x, _work_dtype(backend))
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"expected {n_features} features per row (as the model was trained); received {x.shape[1]}")
    if x.shape[0] and x.shape[1] and not bool(backend.to_numpy(xp.all(xp.isfinite(x)))):
        row, col = (int(i) for i in np.argwhere(~backend.to_numpy(xp.isfinite(x)))[0])
        raise ValueError(f"expected finite features; received {backend.to_numpy(x[row, col])} at row {row}, column {col}")
    return x


def fit_standardizer(backend: backends.Backend, x: Array, chunk: int = 8192) -> Standardizer:
    """``Standardizer.fit`` on the device (two passes over row chunks, in float64 where the device
    has it); the host reads the mean and scale vectors, once."""
    xp, work = backend.xp, _work_dtype(backend)
    n = x.shape[0]
    total = sum((xp.sum(xp.astype(x[s : min(s + chunk, n), :], work), axis=0) for s in range(0, n, chunk)))
    mean = total / n
    squares = sum((xp.sum((xp.astype(x[s : min(s + chunk, n), :], work) - mean) ** 2, axis=0) for s in range(0, n, chunk)))
    std = xp.sqrt(squares / n)
    tiny = std <= 1e-12 * xp.maximum(xp.abs(mean), xp.ones_like(mean))
    scale = xp.where(tiny, xp.ones_like(std), std)
    both = backend.to_numpy(xp.stack([mean, scale]))
    return Standardizer(both[0], both[1])


def device_input(backend: backends.Backend, x: Array, standardizer: Standardizer | None, dtype: str,
                 targets: np.ndarray | None = None, chunk: int = 8192) -> Array:
    """``model_input`` on the device: [standardized x | targets] in ``dtype``, built in row chunks
    (no whole float64 copy); values that do not fit ``dtype`` are an error (one read)."""
    xp, work, out_dtype = backend.xp, _work_dtype(backend), backend.dtype(dtype)
    mean = scale = None
    if standardizer is not None and standardizer.mean is not None and standardizer.scale is not None:
        mean, scale = backend.asarray(standardizer.mean, work), backend.asarray(standardizer.scale, work)
    parts, peaks = [], []
    for start in range(0, x.shape[0], chunk):
        block = xp.astype(x[start : min(start + chunk, x.shape[0]), :], work)
        if mean is not None:
            block = (block - mean) / scale
        parts.append(xp.astype(block, out_dtype))
        if block.shape[1]:
            peaks.append(xp.max(xp.abs(block)))
    limit = float(np.finfo(dtype).max)
    if peaks:
        over = backend.to_numpy(xp.stack(peaks)) > limit
        if over.any():
            first = int(np.argmax(over)) * chunk
            raise ValueError(f"expected values that fit {dtype} (|x| <= {limit:.3g}); received larger values "
                             f"from row {first} on (hint: use --dtype float64, or rescale the data)")
    data = xp.concat(parts, axis=0) if parts else xp.zeros((0, x.shape[1]), dtype=out_dtype, device=backend.device)
    if targets is None:
        return data
    return xp.concat([data, backend.asarray(targets, out_dtype)], axis=1)


def take_labels(backend: backends.Backend, classes: Sequence[Any], indices: Array) -> list[Any]:
    """Class labels of device class indices (one read of the indices)."""
    return [classes[i] for i in backend.to_numpy(indices).tolist()]
