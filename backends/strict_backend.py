"""array-api-strict: the reference namespace, used to prove xmlp uses the standard only.

Devices: ``cpu`` (its CPU_DEVICE), ``device1`` (a second device: any implicit host conversion or
device mixing fails there) and ``no_float64`` (a device without float64). Its ``no_x64`` device
is not offered: array-api-strict 2.6's argmax returns int64 there, which that device rejects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backend, BackendError

DEVICES = ("cpu", "device1", "no_float64")
_NAMES = {"cpu": "CPU_DEVICE", "device1": "device1", "no_float64": "no_float64"}


def device_name(device: Any) -> str:
    """The spec name (cpu, device1, no_float64) of an array-api-strict Device."""
    import array_api_strict as xp

    for name, dev in _NAMES.items():
        if device == xp.Device(dev):
            return name
    raise BackendError(f"expected an array-api-strict device among {', '.join(DEVICES)}; received {device!r}")


def make(device: str | None) -> Backend:
    import array_api_strict as xp

    device = device or "cpu"
    if device not in _NAMES:
        raise BackendError(
            f"expected a strict device among {', '.join(DEVICES)}; received {device!r}"
        )
    dev = xp.Device(_NAMES[device])
    cpu = xp.Device("CPU_DEVICE")
    info = xp.__array_namespace_info__()
    dtypes = frozenset(n for n in ("float32", "float64") if n in info.dtypes(device=dev))

    def asarray(host: np.ndarray, dtype: Any, copy: bool) -> Any:
        return xp.asarray(np.array(host, copy=True if copy else None), dtype=dtype, device=dev)

    def to_numpy(x: Any) -> np.ndarray:
        return np.array(x.to_device(cpu), copy=True)

    return Backend(
        name="strict",
        spec=f"strict:{device}",
        xp=xp,
        device=dev,
        default_dtype=xp.float32,
        index_dtype=info.default_dtypes(device=dev)["indexing"],
        _asarray=asarray,
        _to_numpy=to_numpy,
        _dtypes=dtypes,
    )
