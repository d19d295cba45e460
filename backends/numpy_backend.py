"""NumPy on the CPU (the default backend)."""

from __future__ import annotations

import array_api_compat.numpy as xp
import numpy as np

from ._base import Backend, BackendError

DEVICES = ("cpu",)


def make(device: str | None) -> Backend:
    if device not in (None, "cpu"):
        raise BackendError(f"expected device 'cpu' for numpy; received {device!r}")

    def asarray(host: np.ndarray, dtype):
        # Always a copy: the model must never alias (and later mutate) the caller's array.
        return np.array(host, dtype=dtype, copy=True)

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
    )
