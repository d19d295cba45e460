"""The module paths of xmlp 0.1.0, kept working for the 0.2 series with a ``DeprecationWarning``
(and ``xmlp.schedules``, the public path of ``xmlp.optim.schedules``).

0.2.0 moved the flat modules into subpackages (``xmlp.layers`` is ``xmlp.nn.layers``, …). The
public API is ``xmlp.__all__``, ``xmlp.sklearn``, ``xmlp.export``, ``xmlp.datasets``,
``xmlp.backends`` and ``xmlp.cli``; code that imported an old module path still works until 0.3:
``import xmlp.layers``, ``from xmlp.layers import Dense`` and ``xmlp.layers`` give the new module
(the same object, so its names are the same objects) and warn once, naming the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import Any, Sequence

#: old module (under xmlp.) -> its home since 0.2.0, and the names that left it
MOVED = {
    "registry": "_registry", "activations": "nn.activations", "losses": "nn.losses",
    "initializers": "nn.initializers", "layers": "nn.layers", "network": "nn.network",
    "updates": "optim.step", "optimizers": "optim.optimizers", "trainer": "training.trainer",
    "callbacks": "training.callbacks", "metrics": "training.metrics", "parallel": "training.parallel",
    "textlines": "data.textlines", "csvlayout": "data.csv.layout", "csvdata": "data.csv.exact",
    "bulkcsv": "data.csv.bulk", "fastcsv": "data.csv.fast", "csvsource": "data.csv.source",
    "sources": "data.sources", "npysource": "data.npy", "spill": "data.spill", "streaming": "data.scan",
    "feeds": "data.feeds", "shards": "data.shards", "split": "data.split", "rowbuffer": "data.rowbuffer",
    "preprocessing": "data.preprocessing", "power": "data.power", "fileio": "io.files",
    "serialization": "io.model_file", "history": "io.history", "estimator": "models.sequential",
    "fitting": "models.fit", "streamfit": "models.fit_data", "inputs": "models.inputs",
    "calibration": "models.calibration", "evaluation": "models.scoring", "seeding": "models.seeding",
    "resume": "models.state", "saving": "models.saving", "cli_options": "cli.options",
    "config": "cli.settings", "preflight": "cli.preflight", "commands": "cli.commands", "runs": "cli.runs",
    "streamruns": "cli.run_data", "resuming": "cli.resume", "plots": "cli.plots",
    "distributed": "cli.distributed", "commands_tools": "cli.commands",
}


#: public module paths that are homes of their own elsewhere (no warning): xmlp.schedules
ALIASES = {"schedules": "optim.schedules"}


def old_module(name: str) -> ModuleType:
    """The module that ``xmlp.<name>`` was in 0.1.0, with a DeprecationWarning (AttributeError if
    ``name`` was never a module of xmlp)."""
    if name not in MOVED:
        raise AttributeError(f"module 'xmlp' has no attribute {name!r}")
    new = f"xmlp.{MOVED[name]}"
    warnings.warn(f"xmlp.{name} is {new} since xmlp 0.2.0 (an internal module; the public names are "
                  f"xmlp.__all__'s); the old path goes in 0.3.0", DeprecationWarning, stacklevel=3)
    return importlib.import_module(new)


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return old_module(spec.name.split(".", 1)[1])

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


class _Alias(_Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(f"xmlp.{ALIASES[spec.name.split('.', 1)[1]]}")


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``xmlp.<old>`` (``import xmlp.layers``, ``from xmlp.layers import …``)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) == 2 and parts[0] == "xmlp" and parts[1] in MOVED:
            return importlib.machinery.ModuleSpec(fullname, _Loader())
        if len(parts) == 2 and parts[0] == "xmlp" and parts[1] in ALIASES:
            return importlib.machinery.ModuleSpec(fullname, _Alias())
        return None


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())  # last: xmlp's own modules are always found first
