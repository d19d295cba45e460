"""Array backends for xmlp: the only place concrete array libraries are imported for compute.

``get_backend(spec)`` resolves a spec string once into a frozen :class:`Backend`. Specs:

- ``cpu`` / ``numpy``: NumPy (the default);
- ``cuda``, ``cuda:N`` / ``cupy``, ``cupy:N``: CuPy on GPU N;
- ``torch``, ``torch:cpu``, ``torch:cuda``, ``torch:cuda:N``: PyTorch;
- ``strict``, ``strict:cpu``, ``strict:device1``, ``strict:no_float64``:
  array-api-strict.

With no spec, ``XMLP_DEVICE`` is used, then ``cpu``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from ._base import Backend, BackendError, TransferStats, UnknownBackendError

__all__ = [
    "Backend",
    "BackendError",
    "TransferStats",
    "UnknownBackendError",
    "available",
    "get_backend",
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


def get_backend(spec: str | Backend | None = None, *, library: str | None = None) -> Backend:
    """Resolve a spec string (or pass a Backend through) into a fresh Backend object."""
    if isinstance(spec, Backend):
        return spec
    name, device = resolve_spec(spec, library=library)
    module = importlib.import_module(f".{_MODULES[name]}", __name__)
    return module.make(device)  # type: ignore[no-any-return]


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
