"""Features on their way into a model: host data (``preprocessing``), or arrays already on the
model's device — a torch tensor for a torch model ("Array API in, Array API out").

A device array gets the same checks and the same preprocessing as host data
(``preprocessing.as_features``, ``Standardizer``, ``model_input``), computed by the backend's
namespace on its device: the data does not go through NumPy. The host reads what is small: one
flag per check, the preprocessing's vectors, and the values an error message quotes. One
exception: the Yeo-Johnson λ search (``power.fit``) runs on the host, so fitting that
preprocessing reads the training features back once; its transform runs on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backends
from .._types import Array
from ..data import threads
from ..data.preprocessing import (
    RowValueError,
    Standardizer,
    as_features,
    check_representable,
    fill_chunk,
    model_input,
)
from ..data.rowbuffer import RowBuffer
from ..training.rows import Rows


def features(backend: backends.Backend, x: Any, n_features: int | None) -> tuple[Any, bool]:
    """(x checked, whether it stays on the device): the backend's own array stays where it is;
    anything else becomes a host array (``as_features``)."""
    if backend.holds(x):
        return device_features(backend, x, n_features), True
    if isinstance(x, RowBuffer) and x.full is not None:  # xmlp's own rows: checked, kept for to_device
        if x.used:
            raise RuntimeError("expected rows that no fit has used; received a RowBuffer already overwritten")
        as_features(x, n_features)
        return x, False
    return as_features(x, n_features), False


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


def _yeo_johnson(xp: Any, x: Array, lambdas: Array) -> Array:
    """``power.transform`` with the namespace: the same expm1/log1p forms, per column."""
    pos = x >= 0.0
    lp, ln = xp.log1p(xp.where(pos, x, 0.0 * x)), xp.log1p(xp.where(pos, 0.0 * x, -x))
    zero, two = xp.abs(lambdas) < 1e-12, xp.abs(lambdas - 2.0) < 1e-12
    up = xp.where(zero, lp, xp.expm1(lambdas * lp) / xp.where(zero, xp.ones_like(lambdas), lambdas))
    c = 2.0 - lambdas
    down = xp.where(two, -ln, -xp.expm1(c * ln) / xp.where(two, xp.ones_like(c), c))
    return xp.where(pos, up, down)


def _transformed(backend: backends.Backend, x: Array, start: int, stop: int, lambdas: Array | None) -> Array:
    """Rows [start, stop) in the working dtype, Yeo-Johnson transformed when ``lambdas``."""
    block = backend.xp.astype(x[start:stop, :], _work_dtype(backend))
    return block if lambdas is None else _yeo_johnson(backend.xp, block, lambdas)


def fit_preprocessing(backend: backends.Backend, x: Any, standardizer: Standardizer, chunk: int = 8192) -> Standardizer:
    """``standardizer.fit(x)``; for a device array on the device (two passes over row chunks, in
    float64 where the device has it) and the host reads the mean and scale vectors once."""
    if not backend.holds(x):
        return standardizer.fit(x)
    xp, n = backend.xp, x.shape[0]
    lambdas = None
    if standardizer.power:
        from ..data import power

        standardizer.lambdas = power.fit(backend.to_numpy(x))  # the λ search runs on the host
        lambdas = backend.asarray(standardizer.lambdas, _work_dtype(backend))
    rows = [(s, min(s + chunk, n)) for s in range(0, n, chunk)]
    mean = sum(xp.sum(_transformed(backend, x, a, b, lambdas), axis=0) for a, b in rows) / n
    squares = sum(xp.sum((_transformed(backend, x, a, b, lambdas) - mean) ** 2, axis=0) for a, b in rows)
    std = xp.sqrt(squares / n)
    # A column with std below 1e-12 x its magnitude carries no information, only rounding.
    tiny = std <= 1e-12 * xp.maximum(xp.abs(mean), xp.ones_like(mean))
    both = backend.to_numpy(xp.stack([mean, xp.where(tiny, xp.ones_like(std), std)]))
    standardizer.mean, standardizer.scale = both[0].astype(np.float64), both[1].astype(np.float64)
    return standardizer


def to_device(backend: backends.Backend, x: Any, n_features: int | None, standardizer: Standardizer | None,
              dtype: str, targets: np.ndarray | None = None) -> Array:
    """[preprocessed x | targets] as one array of the model's dtype on the device: built on the
    host (``model_input``) and sent, or — for the backend's own array — on the device; for a
    ``RowBuffer`` of that dtype with one spare column per class, over the rows' own memory."""
    if backend.holds(x):
        return device_input(backend, x, standardizer, dtype, targets)
    if targets is not None and _in_place(x, dtype, targets):
        host = _input_in_place(x, x.full, standardizer, dtype, targets)
    else:
        host = model_input(x, n_features, standardizer, dtype, targets)
    return backend.asarray(host, backend.dtype(dtype), copy=False)


def device_rows(backend: backends.Backend, x: Any, n_features: int | None, standardizer: Standardizer | None,
                dtype: str, targets: np.ndarray, checked: bool = False) -> Rows:
    """Preprocessed features and ``targets`` on the device, in the model's dtype, as ``Rows``.
    Host features already of that dtype and not preprocessed are used as they are (sent; on a
    host-memory device not even copied); others are converted (``model_input``) or, for the
    backend's own array, converted on the device. ``checked``: ``x`` has passed ``as_features``."""
    if _in_place(x, dtype, targets):
        both = backend.asarray(_input_in_place(x, x.full, standardizer, dtype, targets), backend.dtype(dtype),
                               copy=False)
        return Rows(both[:, : x.shape[1]], both[:, x.shape[1]:], both)
    t = backend.asarray(np.asarray(targets, dtype=dtype), backend.dtype(dtype), copy=False)
    if backend.holds(x):
        return Rows(device_input(backend, x, standardizer, dtype), t)
    host = x if checked and isinstance(x, np.ndarray) else as_features(x, n_features)
    if standardizer is not None or host.dtype != np.dtype(dtype):
        host = model_input(host, n_features, standardizer, dtype)
    # C order (a batch's rows each one block of memory: a fast gather); a read-only array (a
    # memory map opened "r") is copied once, as before: batches then gather from memory, not the
    # file, and no backend is handed memory it may not write
    host = np.ascontiguousarray(host) if host.flags.writeable else np.array(host, order="C")
    return Rows(backend.asarray(host, backend.dtype(dtype), copy=False), t)


def _in_place(x: Any, dtype: str, targets: np.ndarray | None) -> bool:
    """Whether [X | targets] can be written over the rows' own memory: a ``RowBuffer`` no fit has
    used, of ``dtype``, with one spare column per target column."""
    return (isinstance(x, RowBuffer) and x.full is not None and not x.used and x.dtype == np.dtype(dtype)
            and targets is not None and x.spare() == targets.shape[1])


def _input_in_place(x: RowBuffer, full: np.ndarray, standardizer: Standardizer | None, dtype: str,
                    targets: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """``model_input`` written over the rows' own memory (the same arithmetic, so the same bits):
    no second copy of the data exists on the host."""
    d = x.shape[1]
    x.used = True
    raw = np.asarray(x)
    # (a chunk's rows are read, and transformed into new memory where there is a transform, before they are overwritten)
    threads.map_ordered(lambda start: fill_chunk(full, raw, start, chunk, standardizer, dtype),
                        range(0, raw.shape[0], chunk))
    full[:, d:] = targets
    return full


def device_input(backend: backends.Backend, x: Array, standardizer: Standardizer | None, dtype: str,
                 targets: np.ndarray | None = None, chunk: int = 8192) -> Array:
    """``model_input`` on the device: [preprocessed x | targets] in ``dtype``, built in row
    chunks (no whole float64 copy); values that do not fit ``dtype`` are an error (one read)."""
    xp, work, out_dtype = backend.xp, _work_dtype(backend), backend.dtype(dtype)
    mean = scale = lambdas = None
    if standardizer is not None and standardizer.mean is not None and standardizer.scale is not None:
        mean, scale = backend.asarray(standardizer.mean, work), backend.asarray(standardizer.scale, work)
        if standardizer.lambdas is not None:
            lambdas = backend.asarray(standardizer.lambdas, work)
    parts, peaks, n = [], [], x.shape[0]
    for start in range(0, n, chunk):
        block = _transformed(backend, x, start, min(start + chunk, n), lambdas)
        if mean is not None:
            block = (block - mean) / scale
        parts.append(xp.astype(block, out_dtype))
        if block.shape[1]:
            peaks.append(xp.max(xp.abs(block)))
    if peaks and not (backend.to_numpy(xp.stack(peaks)) <= float(np.finfo(dtype).max)).all():  # inf, NaN too
        for start in range(0, n, chunk):  # the error path: find the row and column on the host, as it says them
            block = _transformed(backend, x, start, min(start + chunk, n), lambdas)
            check_representable(backend.to_numpy(block if mean is None else (block - mean) / scale), dtype, start)
    data = xp.concat(parts, axis=0) if parts else xp.zeros((0, x.shape[1]), dtype=out_dtype, device=backend.device)
    if targets is None:
        return data
    return xp.concat([data, backend.asarray(targets, out_dtype)], axis=1)


def check_finite_rows(backend: backends.Backend, result: Any) -> Any:
    """``result`` (host, or the backend's own array), after checking it is finite everywhere —
    one flag read on the device; the first bad row is a ``RowValueError``."""
    if isinstance(result, np.ndarray):
        ok = bool(np.isfinite(result).all())
    else:
        ok = bool(backend.to_numpy(backend.xp.all(backend.xp.isfinite(result))))
    if not ok:
        host = result if isinstance(result, np.ndarray) else backend.to_numpy(result)
        row = int(np.argwhere(~np.isfinite(host))[0][0])
        raise RowValueError(f"expected finite probabilities; received NaN or infinity for row {row} "
                            "(its values overflow this model's computation)", row, 0)
    return result


def infer(model: Any, x: Any, batch_size: int, probabilities: bool, host: bool = False) -> Any:
    """``model``'s inference in row chunks of ``batch_size``: logits (of a single network; an
    ensemble's scores are the log of its averaged probabilities), or the output activation's
    values (probabilities softmax(logits / temperature); a regression's scaled outputs), averaged
    over an ensemble's members on the device. On the device for a device ``x`` unless ``host``."""
    from ..nn.network import mean_probabilities

    if not model.built:
        raise RuntimeError("expected a trained model; received one that was never fitted")
    data, on_device = features(model.backend, x, model.n_features)
    single, out, keep = len(model.members) == 1, [], on_device and not host  # keep: answer on the device
    with model.backend.activate():
        for start in range(0, max(data.shape[0], 1), batch_size):
            chunk = model._to_device(data[start : min(start + batch_size, data.shape[0]), :])
            if single and not probabilities:
                z = model.network.logits(chunk)
            else:
                z = mean_probabilities(model.members, chunk, model.temperature)
                z = z if probabilities else model.xp.log(z)
            out.append(z if keep else model.backend.to_numpy(z))
        result = model.xp.concat(out, axis=0) if keep else np.concatenate(out, axis=0)
    return check_finite_rows(model.backend, result) if probabilities else result  # never silently wrong
