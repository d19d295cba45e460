"""``xmlp train`` on a file read in chunks (streamed): when it is asked (``--stream``), or by
itself when reading the file whole would not fit comfortably in memory (said in one line).

The training rows stay a source (``csvsource.CsvSource``; a ``.parquet`` file: ``ParquetSource``)
that every epoch reads again; the validation rows are held in memory: with ``--data``, a seeded
random split (``sources.Split``: each row to the validation side with probability
``--valid-size``, not stratified), with ``--valid`` that file. The first pass (rows checked,
classes counted, preprocessing fitted) runs before anything is written; the fit reuses it. A CSV
is parsed once: its rows are kept in a binary copy (``spill.Spilled``) that later passes read.
A ``--refit`` streams the training and validation rows together.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import numpy as np

from . import streamfit
from .config import TrainSettings
from .csvdata import read_table
from .csvsource import CsvSource
from .errors import DataError, UsageError
from .feeds import DEFAULT_CHUNK_ROWS
from .preflight import MIN_CLASS_ROWS, _available_memory, check_classes
from .sources import ChunkList, ParquetSource, Source, Split
from .spill import Spilled

#: peak memory of reading a CSV file whole and training on it, per byte of the file (measured in
#: issue #10: 1.31 GB for a 264 MB file); streaming when that exceeds this share of the free memory
EXPANSION, SHARE = 5, 0.5


def wanted(s: TrainSettings) -> str | None:
    """Why this run streams its file (the line it prints), or None to read it whole."""
    path = s.data or s.train
    if not path or s.stream is False:
        return None
    rows = f"in chunks of {s.chunk_rows or DEFAULT_CHUNK_ROWS:,} rows" + (
        "" if path.lower().endswith(".parquet") else ", parsed once into a binary copy in the temporary folder")
    if s.stream:
        return f"> streaming {path} {rows} (--stream)"
    try:
        size = os.stat(path).st_size
    except OSError:
        return None  # the reader reports it
    have = _available_memory()
    if have is None or EXPANSION * size <= SHARE * have:
        return None
    return (f"> streaming {path} {rows}: reading it whole would take about {EXPANSION * size / 2**30:,.1f} GiB of the "
            f"{have / 2**30:,.1f} GiB available (--no-stream reads it whole)")


def open_source(path: str, s: TrainSettings) -> Source:
    if path.lower().endswith(".parquet"):
        return ParquetSource(path)
    # parsed once: later passes read a binary copy (the data's float size, in the temporary folder)
    return Spilled(CsvSource(path, chunk_rows=s.chunk_rows or DEFAULT_CHUNK_ROWS, dtype=s.dtype))


def data(s: TrainSettings) -> dict[str, Any] | None:
    """The fields of ``runs.Data`` for a streamed run (None: read the file whole)."""
    line = wanted(s)
    if line is None:
        return None
    if s.resume:
        raise UsageError(f"expected --resume on data read whole; received {s.data or s.train}, which would be "
                         "streamed (continuing a streamed training is not offered yet; hint: --no-stream, if it fits)")
    print(line)
    whole = open_source(str(s.data or s.train), s)
    if s.valid:
        valid = read_table(s.valid, n_features=whole.n_features, labels="required", dtype=s.dtype,
                           feature_names=whole.feature_names)
        train: Source = whole
        x_valid, y_valid, what = valid.x, valid.y, f"{whole.name} + {valid.path} (streamed)"
    else:
        fraction = s.valid_size if isinstance(s.valid_size, float) else s.valid_size / max(whole.n_rows or 1, 1)
        if not 0 < fraction < 1:
            raise DataError(f"{whole.name}: expected more rows than --valid-size {s.valid_size}; received "
                            f"{whole.n_rows}")
        train, valid_side = Split(whole, fraction, s.seed, False), Split(whole, fraction, s.seed, True)
        x_valid, y_valid = streamfit.validation_rows(valid_side)
        what = f"{whole.name}, streamed, random split {1 - fraction:.0%}/{fraction:.0%} (seed {s.seed})"
    from .preprocessing import Standardizer

    preprocess = Standardizer.for_method(None if s.preprocess == "none" else s.preprocess)
    scanned = streamfit.first_pass(train, preprocess, s.seed)
    _check_counts(train.name, scanned.classes, scanned.counts)
    return {"x_train": train, "y_train": None, "x_valid": x_valid, "y_valid": y_valid,
            "feature_names": whole.feature_names, "source": what, "stream": whole if not s.valid else None}


def _check_counts(where: str, classes: list[Any], counts: list[int]) -> None:
    """``preflight.check_classes`` from counts (the labels of a streamed file are never all held)."""
    text = ", ".join(f"{n} {c}" for n, c in zip(classes, counts))
    if len(classes) < 2:
        raise DataError(f"{where}: expected at least two classes in the training data; received only "
                        f"{str(classes[0])!r} ({counts[0]} rows)")
    for n, c in zip(classes, counts):
        if c < MIN_CLASS_ROWS:
            raise DataError(f"{where}: expected at least {MIN_CLASS_ROWS} rows of each class; received {c} of class "
                            f"{n!r} (classes: {text}) — a mistyped label?")


def streamed(d: Any) -> bool:
    return streamfit.is_source(d.x_train)


def n_classes(d: Any) -> int:
    return len(d.x_train.classes) if streamed(d) else len(np.unique(d.y_train))


def rows_in_memory(d: Any, s: TrainSettings) -> int:
    """Rows a run holds at once: all of them, or (streamed) the shuffle buffer and the validation rows."""
    return (min(s.shuffle_buffer, d.x_train.n_rows) if streamed(d) else len(d.y_train)) + len(d.y_valid)


def classes_line(d: Any) -> str:
    if streamed(d):
        return ", ".join(f"{n} {c}" for n, c in zip(d.x_train.classes, d.x_train.class_counts))
    return check_classes("training part", d.y_train, None)


def fit_options(s: TrainSettings) -> dict[str, Any]:
    return {"chunk_rows": s.chunk_rows, "shuffle_buffer": s.shuffle_buffer}


def all_rows(d: Any) -> tuple[Any, Any]:
    """Training + validation rows, for a refit: arrays, or a source that streams both."""
    if not streamed(d):
        return np.concatenate([d.x_train, d.x_valid]), np.concatenate([d.y_train, d.y_valid])
    if d.stream is not None:
        return d.stream, None
    train, xv, yv = d.x_train, d.x_valid, d.y_valid
    return ChunkList(lambda: itertools.chain(((c.x, c.labels) for c in train.chunks()), [(xv, yv)]),
                     feature_names=train.feature_names, name=train.name), None
