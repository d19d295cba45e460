"""The ``xmlp`` application (layer 5): the command line, its settings, and what a training run
does with files, folders and processes. Public: ``main`` (the ``xmlp`` entry point) and
``build_parser``; everything else here is internal.

``main`` (the parser, the entry point) · ``options`` (``xmlp train``'s options) · ``settings``
(``TrainSettings``: defaults ← TOML ← command line) · ``preflight`` (checks before anything is
written) · ``run_data`` (where a run's rows come from) · ``runs`` (one run, several runs) ·
``resume`` (``--resume``) · ``distributed`` (MPI jobs) · ``commands`` (split, predict, plot, data,
devices, export) · ``plots`` (learning curves).
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
