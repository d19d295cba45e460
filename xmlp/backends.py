"""How xmlp reaches its array backends, installed or from a checkout.

The repository keeps the backends in a top-level ``backends/`` folder (the project's layout), but
a top-level package of that generic name would clash with any other ``backends`` on the user's
path (their own package beside their script, or another distribution's). So the wheel ships the
folder as the subpackage ``xmlp._backends`` (``package-dir`` in ``pyproject.toml``), and this
module is the one place that imports it:

- installed (wheel, or ``pip install .``): ``xmlp._backends`` is there, inside the package;
- a checkout on ``sys.path`` (tests, ``python -m xmlp`` from the repository root): the
  ``backends/`` folder beside ``xmlp/`` is loaded under that same name, by file location, so no
  other ``backends`` on the path is ever consulted and pickles name the same modules either way.

Everything in xmlp says ``from . import backends`` (or ``from xmlp import backends``), never
``import backends``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

_NAME = f"{__package__}._backends"


def _load() -> ModuleType:
    try:
        return importlib.import_module(_NAME)
    except ModuleNotFoundError as exc:
        if exc.name != _NAME:
            raise
    if _NAME in sys.modules:  # pragma: no cover - a half-finished earlier load
        return sys.modules[_NAME]
    folder = Path(__file__).resolve().parent.parent / "backends"
    spec = importlib.util.spec_from_file_location(_NAME, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None or not folder.is_dir():
        raise ImportError(f"expected xmlp's backends as {_NAME} or in {folder}; received neither "
                          "(hint: reinstall xmlp)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    setattr(sys.modules[__package__], "_backends", module)
    return module


if TYPE_CHECKING:  # mypy checks the repository's folder, which is what ships
    from backends import (
        VALID_SPECS,
        Backend,
        BackendError,
        TransferStats,
        UnknownBackendError,
        available,
        comm,
        for_array,
        get_backend,
        install_hint,
        missing,
        resolve_spec,
    )
else:
    _package = _load()
    VALID_SPECS = _package.VALID_SPECS
    Backend = _package.Backend
    BackendError = _package.BackendError
    TransferStats = _package.TransferStats
    UnknownBackendError = _package.UnknownBackendError
    available = _package.available
    for_array = _package.for_array
    get_backend = _package.get_backend
    install_hint = _package.install_hint
    missing = _package.missing
    resolve_spec = _package.resolve_spec
    comm = importlib.import_module(f"{_NAME}.comm")  # the communicator (imports mpi4py only when asked)

__all__ = ["VALID_SPECS", "Backend", "BackendError", "TransferStats", "UnknownBackendError", "available",
           "for_array", "get_backend", "install_hint", "missing", "resolve_spec", "comm"]
