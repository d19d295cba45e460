"""Checks made before a training run writes or allocates anything: the class counts of the
training rows, the run folder, and the memory the network will need."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.distinct import distinct
from ..errors import CantCreateError, DataError, UsageError
from ..io.files import check_dir_writable
from .settings import TrainSettings


def check_two_classes(where: str, labels: np.ndarray) -> None:
    classes = distinct(labels)
    if len(classes) < 2:
        raise DataError(f"{where}: expected at least two classes in the training data; received only "
                        f"{str(classes[0])!r} ({len(labels)} rows)")


RUN_FILES = {"model.safetensors", "history.json", "comparison.png"}  # what makes a folder a run folder
MIN_CLASS_ROWS = 5  # a class with fewer rows (typically a mistyped label) is refused


def check_classes(where: str, labels: np.ndarray, line_numbers: Sequence[int] | None) -> str:
    """The class counts as text, after refusing a class with too few rows to learn (a label
    typed "m" among "M" and "B" would otherwise silently make a three-class model)."""
    check_two_classes(where, labels)
    names, counts = distinct(labels, return_counts=True)
    _not_numbers(where, names)
    text = ", ".join(f"{n} {c}" for n, c in zip(names.tolist(), counts.tolist()))
    for n, c in zip(names.tolist(), counts.tolist()):
        if c < MIN_CLASS_ROWS:
            row = int(np.flatnonzero(labels == n)[0])
            at = f"line {line_numbers[row]}" if line_numbers else f"row {row}"
            raise DataError(f"{where}: expected at least {MIN_CLASS_ROWS} rows of each class; received {c} of class "
                            f"{n!r} (first at {at}; classes: {text}) — a mistyped label?")
    return text


NUMERIC_CLASSES = 50  # distinct numbers as labels beyond which the file is taken for a regression's


def _not_numbers(where: str, names: np.ndarray) -> None:
    """Labels that are numbers with a fraction, or more than ``NUMERIC_CLASSES`` distinct numbers,
    are a regression's targets, not classes: say so instead of "too few rows of class 151.0"."""
    try:
        values = np.asarray(names, dtype=np.float64)
    except ValueError:
        return
    if len(values) > NUMERIC_CLASSES or np.any(values != np.round(values)):
        example = next((str(n) for n, v in zip(names.tolist(), values) if v != round(v)), str(names[0]))
        raise DataError(f"{where}: expected class labels; received {len(values)} distinct numbers (such as "
                        f"{example!r}), a regression's targets (hint: --task regression)")


def check_run_folder(out_dir: Path, s: TrainSettings) -> None:
    """An existing run folder is replaced only with --force, and never one holding an input."""
    check_dir_writable(out_dir)
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise CantCreateError(f"{out_dir}: expected a run folder; received a file")
        if not s.force:
            raise CantCreateError(f"{out_dir}: expected a new run folder; received an existing one "
                                  "(hint: --force replaces it)")
        entries = os.listdir(out_dir)
        if entries and not RUN_FILES & set(entries):
            raise CantCreateError(f"{out_dir}: expected an xmlp run folder to replace (holding "
                                  f"{' or '.join(sorted(RUN_FILES))}); received a folder of other files "
                                  f"({entries[0][:60]}…), which --force does not delete")
        model = os.path.join(s.resume, "model.safetensors") if s.resume and os.path.isdir(s.resume) else s.resume
        inside = [f for f in (s.data, s.train, s.valid, s.config, model) if f and
                  os.path.realpath(f).startswith(os.path.realpath(out_dir) + os.sep)]
        if inside:
            raise UsageError(f"{out_dir}: expected a run folder that holds none of the inputs; received one "
                             f"holding {inside[0]} (--force would delete it)")


def check_memory(s: TrainSettings, n_features: int, n_classes: int, n_rows: int) -> None:
    """Refuse, before anything is allocated, a network that cannot fit in this machine's memory."""
    widths = [n_features, *s.layer, n_classes]
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    itemsize = np.dtype(s.dtype).itemsize
    # weights, gradients, two optimizer slots, two device copies (early stopping, divergence
    # fallback), per member; the [X | Y] data; the activations of one batch (forward + backward).
    # (a batch larger than the rows is all the rows: one step an epoch)
    need = (6 * params * s.ensemble + n_rows * (n_features + n_classes)
            + 3 * min(s.batch_size, n_rows) * sum(widths)) * itemsize
    have = _available_memory()
    if have is not None and need > have:
        raise UsageError(f"--layer: expected a network that fits in memory; received one that needs about "
                         f"{need / 2**30:,.1f} GiB ({params:,} parameters) where {have / 2**30:,.1f} GiB are available")


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
