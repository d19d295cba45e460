"""NumPy on the CPU (the default backend)."""

from __future__ import annotations

import types
from typing import Any

import array_api_compat.numpy as compat
import numpy as np

from ._base import Backend, BackendError
from ._numpy_kernels import NumpyKernels

_add_reduce: Any = np.add.reduce  # ufunc methods: typed loosely, called with keywords
_max_reduce: Any = np.maximum.reduce


def _sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    # np.sum's Python wrapper costs ~1 us a call, as much as summing a 8x24 batch: floating
    # arrays go straight to the ufunc reduction (the same computation np.sum performs).
    if dtype is None and x.dtype.kind == "f":
        return _add_reduce(x, axis=axis, keepdims=keepdims)
    return compat.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    if x.dtype.kind == "f":
        return _max_reduce(x, axis=axis, keepdims=keepdims)
    return compat.max(x, axis=axis, keepdims=keepdims)


def _astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    if device is None or device == "cpu":
        return x.astype(dtype, copy=copy)
    return compat.astype(x, dtype, copy=copy, device=device)


def _matrix_transpose(x: Any, /) -> Any:
    if x.ndim < 2:
        raise ValueError("x must be at least 2-dimensional for matrix_transpose")
    return x.swapaxes(-1, -2)


def _reshape(x: Any, /, shape: Any, *, copy: bool | None = None) -> Any:
    return x.reshape(shape) if copy is None else compat.reshape(x, shape, copy=copy)


# array-api-compat's NumPy namespace, with the functions the training loop calls per layer per
# batch bound to NumPy's C entry points (compat's matmul is np.matmul behind two Python frames,
# ~2 us a call: a stacked ensemble's step makes a dozen). Resolved once, here, not per call.
xp = types.SimpleNamespace(**{k: getattr(compat, k) for k in dir(compat) if not k.startswith("__")})
xp.sum, xp.max, xp.astype = _sum, _max, _astype
xp.matmul, xp.matrix_transpose, xp.reshape = np.matmul, _matrix_transpose, _reshape
xp.__array_api_version__ = compat.__array_api_version__
xp.__name__ = "xmlp numpy namespace (array_api_compat.numpy + fast reductions)"


def make(device: str | None) -> Backend:
    if device not in (None, "cpu"):
        raise BackendError(f"expected device 'cpu' for numpy; received {device!r}")

    def asarray(host: np.ndarray, dtype: Any, copy: bool) -> np.ndarray:
        # A copy by default: parameters are updated in place and must never alias the caller's.
        return np.array(host, dtype=dtype, copy=True if copy else None)

    return Backend(
        name="numpy",
        spec="numpy",
        xp=xp,
        device="cpu",
        default_dtype=xp.float32,
        index_dtype=xp.int64,
        _asarray=asarray,
        _to_numpy=lambda x: np.array(x, copy=True),
        # Overflow and NaN are caught once per epoch by the training loop's finiteness check,
        # with a clear message; NumPy's per-operation RuntimeWarnings would only add noise.
        _activate=lambda: np.errstate(all="ignore"),
        kernels=NumpyKernels(),
    )
