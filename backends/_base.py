"""The backend contract: one small frozen object per (array library, device)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import array_api_compat
import numpy as np


class BackendError(RuntimeError):
    """A backend spec names something this machine cannot provide."""


class UnknownBackendError(BackendError, ValueError):
    """A backend spec that no backend understands."""


@dataclass
class TransferStats:
    """Counts of host<->device transfers made through a backend (tests read these)."""

    to_device: int = 0
    to_host: int = 0

    @property
    def total(self) -> int:
        return self.to_device + self.to_host


@dataclass(frozen=True, eq=False)
class Backend:
    """An Array API namespace bound to one device.

    ``asarray`` is the one way in (host NumPy -> device) and ``to_numpy`` the one way out;
    both are counted in ``stats`` so that tests can bound the transfers of a training epoch.
    """

    name: str
    spec: str
    xp: Any
    device: Any
    default_dtype: Any
    index_dtype: Any
    _asarray: Callable[[np.ndarray, Any, bool], Any] = field(repr=False)
    _to_numpy: Callable[[Any], np.ndarray] = field(repr=False)
    _synchronize: Callable[[], None] = field(default=lambda: None, repr=False)
    _activate: Callable[[], Any] = field(default=contextlib.nullcontext, repr=False)
    _dtypes: frozenset[str] = field(default=frozenset({"float32", "float64"}), repr=False)
    #: chunked host -> device copies, overlapped with compute where the library allows (CuPy)
    _send: Callable[[Iterable[np.ndarray], Any], Iterator[Any]] | None = field(default=None, repr=False)
    #: free bytes of the device's own memory (None: the device computes in host memory)
    _free_memory: Callable[[], int] | None = field(default=None, repr=False)
    stats: TransferStats = field(default_factory=TransferStats, repr=False)
    # The optional primitives (docs/architecture.md, "Fast paths"): an object whose methods the
    # compute core uses where present, else its generic Array API code. None: generic only.
    kernels: Any = field(default=None, repr=False)

    def asarray(self, host: Any, dtype: Any = None, *, copy: bool = True) -> Any:
        """Copy a host array (anything NumPy accepts) to the device. ``copy=False`` lets a CPU
        backend use the host memory itself (for arrays the caller made and will not reuse)."""
        self.stats.to_device += 1
        return self._asarray(np.asarray(host), dtype, copy)

    def send(self, chunks: Iterable[np.ndarray], dtype: Any = None) -> Iterator[Any]:
        """Host chunks -> device arrays, one transfer each (counted), in order. A device that
        can copy while it computes (CuPy: pinned host buffers, a second stream) copies chunk
        k + 1 while chunk k trains; elsewhere each chunk is a plain ``asarray``."""
        if self._send is None:
            for chunk in chunks:
                yield self.asarray(chunk, dtype, copy=False)
            return
        for out in self._send(chunks, dtype):
            self.stats.to_device += 1
            yield out

    @property
    def host_memory(self) -> bool:
        """Whether the device computes in host memory (NumPy, torch on the CPU, …)."""
        return self._free_memory is None

    def free_memory(self) -> int | None:
        """Free bytes of a GPU's memory; None for a device that computes in host memory."""
        return None if self._free_memory is None else int(self._free_memory())

    def to_numpy(self, x: Any) -> np.ndarray:
        """Copy a device array back to a host NumPy array."""
        self.stats.to_host += 1
        return self._to_numpy(x)

    def synchronize(self) -> None:
        """Wait until queued device work is done (a no-op on CPU)."""
        self._synchronize()

    def activate(self) -> contextlib.AbstractContextManager[Any]:
        """Context in which compute runs on this backend's device (CuPy needs it for cuda:N)."""
        return self._activate()  # type: ignore[no-any-return]

    def supports(self, dtype: str | Any) -> bool:
        """Whether the device can hold arrays of ``dtype`` ("float32", "float64", or a dtype)."""
        name = dtype if isinstance(dtype, str) else dtype_name(self.xp, dtype)
        return name in self._dtypes

    def dtype(self, name: str) -> Any:
        """The namespace's dtype object for "float32"/"float64", checked against the device."""
        if name not in ("float32", "float64"):
            raise ValueError(f"expected dtype 'float32' or 'float64'; received {name!r}")
        if not self.supports(name):
            raise BackendError(
                f"expected a dtype the device supports; received {name!r}, which {self.spec} "
                "does not support (hint: use --dtype float32)"
            )
        return getattr(self.xp, name)

    def holds(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's own namespace on its device, usable there
        as it is (device in, device out). NumPy arrays are host data: never "held"."""
        if isinstance(x, np.ndarray) or not array_api_compat.is_array_api_obj(x):
            return False
        try:
            return array_api_compat.array_namespace(x) is self.xp and array_api_compat.device(x) == self.device
        except TypeError:
            return False

    def without_fast_paths(self) -> "Backend":
        """The same backend running the generic Array API code only (its own transfer counts)."""
        return dataclasses.replace(self, kernels=None, stats=TransferStats())

    def __reduce__(self) -> tuple[Any, tuple[str, bool]]:
        """Pickled (in memory: copies, joblib workers) as its spec and whether it uses its fast
        paths; unpickling resolves a fresh backend on this machine, with fresh transfer counts."""
        return _from_spec, (self.spec, self.kernels is not None)

    def __str__(self) -> str:
        return self.spec


def _from_spec(spec: str, fast: bool = True) -> Backend:
    from . import get_backend

    return get_backend(spec, fast=fast)


def fast_paths_default() -> bool:
    """Whether fast paths are on when not asked: unless ``XMLP_FAST_PATHS`` is 0, off, false or no."""
    return os.environ.get("XMLP_FAST_PATHS", "1").strip().lower() not in ("0", "off", "false", "no")


def dtype_name(xp: Any, dtype: Any) -> str:
    for name in ("float32", "float64", "int32", "int64", "bool"):
        if getattr(xp, name, None) == dtype:
            return name
    return str(dtype)
