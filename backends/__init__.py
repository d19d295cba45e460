"""Array backends for xmlp: the only place concrete array libraries are imported for compute.

``get_backend(spec)`` resolves a spec string once into a frozen :class:`Backend`. Specs:

- ``cpu`` / ``numpy``: NumPy (the default);
- ``cuda``, ``cuda:N`` / ``cupy``, ``cupy:N``: CuPy on GPU N;
- ``torch``, ``torch:cpu``, ``torch:cuda``, ``torch:cuda:N``: PyTorch;
- ``strict``, ``strict:cpu``, ``strict:device1``, ``strict:no_float64``:
  array-api-strict.

With no spec, ``XMLP_DEVICE`` is used, then ``cpu``. A backend may bring fast paths (optional
primitives, ``Backend.kernels``: NumPy's); ``fast=False``, or ``XMLP_FAST_PATHS=0``, gives the
generic Array API code alone. ``for_array(x)`` names the backend that
holds an array already (a torch tensor trains on torch, on its device); ``missing()`` says, for
each backend this machine cannot run, why and the one command that would enable it.

Installed, this folder is the subpackage ``xmlp._backends`` (never a top-level ``backends``);
xmlp reaches it through ``xmlp/backends.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from ._base import Backend, BackendError, TransferStats, UnknownBackendError, fast_paths_default
from ._status import install_hint, missing

__all__ = [
    "Backend",
    "BackendError",
    "TransferStats",
    "UnknownBackendError",
    "available",
    "for_array",
    "get_backend",
    "install_hint",
    "missing",
    "resolve_spec",
]

_MODULES = {
    "numpy": "numpy_backend",
    "cupy": "cupy_backend",
    "torch": "torch_backend",
    "strict": "strict_backend",
}
_LIBRARY_PACKAGE = {"numpy": "numpy", "cupy": "cupy", "torch": "torch", "strict": "array_api_strict"}
VALID_SPECS = (
    "cpu",
    "cuda",
    "cuda:N",
    "numpy",
    "cupy[:N]",
    "torch[:cpu|:cuda[:N]]",
    "strict[:cpu|:device1|:no_float64]",
)


def resolve_spec(spec: str | None = None, *, library: str | None = None) -> tuple[str, str | None]:
    """Split a spec into (library, device); ``library`` (e.g. from ``--backend``) overrides."""
    source = ""
    if spec is None and library is None:
        spec = os.environ.get("XMLP_DEVICE") or "cpu"
        source = " from XMLP_DEVICE" if os.environ.get("XMLP_DEVICE") else ""
    text = (spec or "").strip().lower()
    if library is not None:
        library = library.strip().lower()
        if library not in _MODULES:
            raise UnknownBackendError(
                f"expected a backend among {', '.join(_MODULES)}; received {library!r}"
            )
        return library, (text or None)
    if text == "cpu":
        return "numpy", None
    if text == "gpu" or text == "cuda" or text.startswith("cuda:"):
        return "cupy", "cuda" if text == "gpu" else text
    name, _, device = text.partition(":")
    if name not in _MODULES:
        raise UnknownBackendError(
            f"expected a device or backend among {', '.join(VALID_SPECS)}; received {spec!r}{source}"
        )
    if name == "cupy" and device and device.isdigit():
        device = f"cuda:{device}"
    return name, device or None


def get_backend(spec: str | Backend | None = None, *, library: str | None = None,
                fast: bool | None = None) -> Backend:
    """Resolve a spec string (or pass a Backend through) into a fresh Backend object; ``fast``:
    whether to use its fast paths (default: yes, unless ``XMLP_FAST_PATHS=0``)."""
    if isinstance(spec, Backend):
        return spec if fast is None or fast or spec.kernels is None else spec.without_fast_paths()
    name, device = resolve_spec(spec, library=library)
    module = importlib.import_module(f".{_MODULES[name]}", __name__)
    backend: Backend = module.make(device)
    use = fast_paths_default() if fast is None else fast
    return backend if use or backend.kernels is None else backend.without_fast_paths()


def available() -> list[str]:
    """Backend specs whose library is importable here (CuPy listed only if it sees a GPU)."""
    found = []
    for name in ("numpy", "strict", "torch", "cupy"):
        if importlib.util.find_spec(_LIBRARY_PACKAGE[name]) is None:
            continue
        if name == "cupy":
            try:
                get_backend("cuda")
            except BackendError:
                continue
            found.append("cuda")
        elif name == "strict":
            found += ["strict:cpu", "strict:device1", "strict:no_float64"]
        else:
            found.append(name)
    return found


def for_array(x: Any) -> Backend:
    """The backend whose library and device hold ``x``: ``cpu`` for NumPy (and for anything that
    is not an array of a known library: lists, data frames), ``torch:DEVICE`` for a tensor,
    ``cuda:N`` for CuPy, ``strict:DEVICE`` for array-api-strict."""
    import array_api_compat as compat

    if isinstance(x, (list, tuple)) or not compat.is_array_api_obj(x) or compat.is_numpy_array(x):
        return get_backend("cpu")
    if compat.is_torch_array(x):
        return get_backend(f"torch:{x.device}")
    if compat.is_cupy_array(x):
        return get_backend(f"cuda:{x.device.id}")
    if type(x).__module__.split(".")[0] == "array_api_strict":
        from .strict_backend import device_name

        return get_backend(f"strict:{device_name(x.device)}")
    raise BackendError(f"expected arrays of NumPy, CuPy, PyTorch or array-api-strict; received {type(x).__name__} "
                       "(hint: convert it to one of those)")
