"""Where an ``xmlp train`` run's rows come from: ``training_data`` reads the files the settings
name (or splits the embedded data) into ``Data``, in memory or streamed.

In memory: ``--train`` [+ ``--valid``], or ``--data`` split (stratified) by ``--valid-size``; rows
read from a file become the model input in place (``rowbuffer``), and a data-parallel process
parses only its shard.

Streamed, when it is asked (``--stream``), or by itself when reading the file whole would not
fit comfortably in memory (said in one line): the training rows stay a source
(``csv.source.CsvSource``; a ``.parquet`` file: ``ParquetSource``) that every epoch reads again;
the validation rows are held in memory: with ``--data``, a seeded random split (``split.Split``:
``--valid-size`` of each class of each chunk, stratified), with
``--valid`` that file. The first pass (rows checked, classes counted, preprocessing fitted) runs
before anything is written; the fit reuses it. A CSV is parsed once: its rows are kept in a
binary copy (``spill.Spilled``) that later passes read. A ``--refit`` streams the training and
validation rows together.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.csv.fast import NotRegular, Reader, read_table, store_dtype
from ..data.csv.source import CsvSource
from ..data.distinct import distinct
from ..data.parquet import ParquetSource
from ..data.preprocessing import Standardizer
from ..data.rowbuffer import split_rows
from ..data.shards import shard_range
from ..data.sources import DEFAULT_CHUNK_ROWS, ChunkList, Source
from ..data.spill import Spilled
from ..data.split import Split, split_indices
from ..datasets import load_wdbc
from ..errors import DataError, UsageError
from ..models import fit_data
from .preflight import _available_memory
from .preflight import check_classes as preflight_check_classes
from .recipe import refits
from .row_checks import check_counts, check_indicators, check_weights, numeric_targets
from .settings import TrainSettings


@dataclass
class Data:
    x_train: Any  # a host array, or (streamed) a source read in chunks, with y_train None
    y_train: Any
    x_valid: np.ndarray
    y_valid: np.ndarray
    feature_names: list[str] | None
    source: str  # where the rows came from, for the record
    stream: Any = None  # streamed from --data: the whole file's source (what a refit trains on)
    columns: str = ""  # which columns of the training file became the id, the label and the features
    w_train: np.ndarray | None = None  # the rows' weights (--sample-weight), else None
    w_valid: np.ndarray | None = None



def training_data(s: TrainSettings, shard: tuple[int, int] | None = None) -> Data:
    """The training and validation rows the settings name (files, or the embedded data split).
    ``shard`` = (rank, processes): only this process's rows of each part (files: only those
    rows are parsed; the class checks across shards are the caller's)."""
    classifying = s.task_name == "classification"
    if shard is None and (streamed := _streamed(s)) is not None:  # too large to read whole
        return streamed

    def read(path: str, **kw: Any) -> Any:
        return read_rows(path, s, **kw)

    check_classes = preflight_check_classes if classifying else _no_classes

    owned = True  # rows read from a file become the model input in place (unless a refit needs them after)
    if s.train:
        train = read(s.train, part=shard)
        if shard is None:
            check_classes(train.path, train.y, train.line_numbers)
        if s.valid:
            classes = sorted(set(distinct(train.y).tolist())) if shard is None and classifying else None
            valid = read(s.valid, n_features=train.x.shape[1], classes=classes, part=shard)
            return Data(train.x, train.y, valid.x, valid.y, train.feature_names, f"{train.path} + {valid.path}",
                        columns=train.columns, w_train=train.weights, w_valid=valid.weights)
        x, y, names, what, columns, w = train.x, train.y, train.feature_names, train.path, train.columns, train.weights
    elif s.data:
        table = read(s.data)
        check_classes(table.path, table.y, table.line_numbers)
        x, y, names, what, columns, w = table.x, table.y, table.feature_names, table.path, table.columns, table.weights
    else:
        (x, y, names), what, owned, columns, w = load_wdbc(), "embedded WDBC data", False, "", None
    try:
        # a regression's split is random: stratifying on float targets would keep every row whose value
        # occurs once (most of them) out of the validation part
        tr, va = split_indices(y, s.valid_size, np.random.default_rng(s.seed), stratify=classifying)
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc}") from None
    if classifying and len(distinct(y[tr])) < 2:
        raise DataError(f"{what}: expected at least two classes in the training part; received one")
    if shard is not None:  # an in-memory source: this process keeps its rows of each part
        tr, va = tr[slice(*shard_range(len(tr), *shard))], va[slice(*shard_range(len(va), *shard))]
    outputs = len(distinct(y[tr])) if classifying else (y.shape[1] if y.ndim == 2 else 1)
    owned = owned and not refits(s, len(y))
    x_train, x_valid = split_rows(x, tr, va, outputs if owned else None)
    return Data(x_train, y[tr], x_valid, y[va], names, f"{what}, split {len(tr)}/{len(va)} (seed {s.seed})",
                columns=columns, w_train=None if w is None else w[tr], w_valid=None if w is None else w[va])


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


def read_rows(path: str, s: TrainSettings, **kw: Any) -> Any:
    """A file's rows as ``read_table`` gives them, with the task's targets and the weights checked
    (training never needs the ids; big files are read in the model's dtype). A regression's one
    target is read as a number (as a text label it cost 1.4 s more per 10⁶ rows); a file where that
    fails is read again with the target as text, whose check names the cell (labels: a classification)."""
    args = dict(labels="required", dtype=s.dtype, keep_ids=False, store=store_dtype(path, s.dtype), id_name=s.id,
                weight_name=s.sample_weight, **kw)
    if s.regression and not isinstance(s.target, list):
        try:
            column = s.target if s.target is not None else Reader(path, **{k: v for k, v in args.items() if k not in (
                "keep_ids", "store", "part")}).layout.label_col
            table = read_table(path, label_name=[column], **args) if column is not None else None
        except (DataError, NotRegular):
            table = None
        if table is not None and table.targets is not None:
            table.labels = table.targets[:, 0]
            table.columns = table.columns.replace("targets ", "target ", 1)
            if table.weights is not None:
                check_weights(table, whole=kw.get("part") is None)
            return table
    table = read_table(path, label_name=s.target, **args)
    if table.targets is not None:  # several targets, or a multilabel task's 0/1 columns: read as numbers
        table.labels = check_indicators(table) if s.task == "multilabel" else table.targets
    elif s.regression:
        table.labels = numeric_targets(table)
    if table.weights is not None:
        check_weights(table, whole=kw.get("part") is None)
    return table


def open_source(path: str, s: TrainSettings) -> Source:
    if path.lower().endswith(".parquet"):
        names = s.target if isinstance(s.target, list) else [s.target]
        index = next((t for t in names if isinstance(t, int)), None)
        if index is not None or s.id is not None:
            raise UsageError(f"--target/--id: expected a column name for a Parquet file (its id columns are those "
                             f"named id); received {'--id' if s.id is not None else f'the index {index}'}")
        if s.sample_weight is not None and not isinstance(s.sample_weight, str):
            raise UsageError(f"--sample-weight: expected a column name for a Parquet file; received the index "
                             f"{s.sample_weight}")
        return ParquetSource(path, label_column=[str(t) for t in names] if isinstance(s.target, list)
                             else s.target if isinstance(s.target, str) else None, weight_column=s.sample_weight)
    # parsed once: later passes read a binary copy (the data's float size, in the temporary folder)
    return Spilled(CsvSource(path, chunk_rows=s.chunk_rows or DEFAULT_CHUNK_ROWS, dtype=s.dtype, label_name=s.target,
                             id_name=s.id, weight_name=s.sample_weight, targets=s.regression))


def _streamed(s: TrainSettings) -> Data | None:
    """The data of a streamed run (None: read the file whole)."""
    line = wanted(s)
    if line is None:
        return None
    if s.resume:
        raise UsageError(f"expected --resume on data read whole; received {s.data or s.train}, which would be "
                         "streamed (continuing a streamed training is not offered yet; hint: --no-stream, if it fits)")
    print(line)
    whole = open_source(str(s.data or s.train), s)
    classifying, w_valid = s.task_name == "classification", None
    if s.valid:
        valid = read_rows(s.valid, s, n_features=whole.n_features, feature_names=whole.feature_names)
        train: Source = whole
        x_valid, y_valid, w_valid = valid.x, valid.y, valid.weights
        what = f"{whole.name} + {valid.path} (streamed)"
    else:
        fraction = s.valid_size if isinstance(s.valid_size, float) else s.valid_size / max(whole.n_rows or 1, 1)
        if not 0 < fraction < 1:
            raise DataError(f"{whole.name}: expected more rows than --valid-size {s.valid_size}; received "
                            f"{whole.n_rows}")
        train, valid_side = (Split(whole, fraction, s.seed, side, stratify=classifying) for side in (False, True))
        x_valid, y_valid = fit_data.validation_rows(valid_side)
        what = f"{whole.name}, streamed, random split {1 - fraction:.0%}/{fraction:.0%} (seed {s.seed})"
    preprocess = Standardizer.for_method(None if s.preprocess == "none" else s.preprocess)
    scanned = fit_data.first_pass(train, preprocess, s.seed, s.dtype, s.task_name)  # the fit's own pass: read once
    if classifying:
        check_counts(train.name, scanned.classes, scanned.counts)
    return Data(train, None, x_valid, y_valid, whole.feature_names, what, whole if not s.valid else None,
                w_valid=w_valid)


def streamed(d: Any) -> bool:
    return fit_data.is_source(d.x_train)


def _no_classes(*args: Any) -> str:
    return ""  # a regression has targets, not classes


def n_classes(d: Any) -> int:
    """The classes of the training part (the output layer's units); a regression's: 1 (one target)."""
    if streamed(d):  # a regression's first pass counts no classes: its validation rows have the targets' shape
        return len(d.x_train.classes) or (int(d.y_valid.shape[1]) if d.y_valid.ndim == 2 else 1)
    if np.asarray(d.y_train).dtype.kind == "f":  # targets: one output per column
        return int(d.y_train.shape[1]) if d.y_train.ndim == 2 else 1
    return len(distinct(d.y_train))


def rows_in_memory(d: Any, s: TrainSettings) -> int:
    """Rows a run holds at once: all of them, or (streamed) the shuffle buffer and the validation rows."""
    return (min(s.shuffle_buffer, d.x_train.n_rows) if streamed(d) else len(d.y_train)) + len(d.y_valid)


def targets_line(d: Any, s: TrainSettings) -> str:
    """What a regression's or a multi-label run's training targets are (a streamed part: from its first pass)."""
    if streamed(d):
        preprocess = Standardizer.for_method(None if s.preprocess == "none" else s.preprocess)
        scanned, n = fit_data.first_pass(d.x_train, preprocess, s.seed, s.dtype, s.task_name), d.x_train.n_rows
        columns = np.ndim(d.y_valid) == 2
        if s.task == "multilabel":
            shares = np.asarray(scanned.counts) / n
        else:  # every value's mean and std from the columns' (law of total variance; the columns have n rows each)
            means, stds = scanned.targets  # type: ignore[misc]
            mean, std = float(np.mean(means)), float(np.sqrt(np.mean(stds ** 2) + np.var(means)))
    else:
        y, n = np.asarray(d.y_train), len(d.y_train)
        columns, shares, mean, std = y.ndim == 2, np.mean(y, axis=0), float(np.mean(y)), float(np.std(y))
    width = np.shape(d.y_valid)[1] if columns else 1
    if s.task == "multilabel":
        return f"labels        : {width}, positive in {', '.join(f'{m:.0%}' for m in shares[:10])} of the {n} training rows"
    return f"target        : mean {mean:.6g}, std {std:.6g} ({n} training rows" + (f", {width} targets)" if columns else ")")


def class_names(d: Any) -> list[Any]:
    """The classes of the training part (streamed: counted by its first pass)."""
    return list(d.x_train.classes) if streamed(d) else sorted(set(distinct(d.y_train).tolist()))


def classes_line(d: Any) -> str:
    if streamed(d):
        return ", ".join(f"{n} {c}" for n, c in zip(d.x_train.classes, d.x_train.class_counts))
    return preflight_check_classes("training part", d.y_train, None)


def fit_options(s: TrainSettings) -> dict[str, Any]:
    return {"chunk_rows": s.chunk_rows, "shuffle_buffer": s.shuffle_buffer, "class_weight": s.class_weight}


def weights(d: Data, refit: bool = False) -> dict[str, Any]:
    """The ``sample_weight`` of the training rows (of a refit: training + validation), if any."""
    if d.w_train is None:
        return {}
    return {"sample_weight": np.concatenate([d.w_train, d.w_valid]) if refit else d.w_train}


def all_rows(d: Any) -> tuple[Any, Any]:
    """Training + validation rows, for a refit: arrays, or a source that streams both."""
    if not streamed(d):
        return np.concatenate([d.x_train, d.x_valid]), np.concatenate([d.y_train, d.y_valid])
    if d.stream is not None:
        return d.stream, None
    train, xv, yv, wv = d.x_train, d.x_valid, d.y_valid, d.w_valid
    return ChunkList(lambda: itertools.chain(((c.x, c.labels, c.weights) for c in train.chunks()), [(xv, yv, wv)]),
                     feature_names=train.feature_names, name=train.name), None


def total_rows(d: Data) -> int:
    """Training + validation rows of a run (a streamed training part: its rows counted by the first pass)."""
    n_train = len(d.y_train) if d.y_train is not None else int(getattr(d.x_train, "n_rows", None) or 0)
    return n_train + (len(d.y_valid) if d.y_valid is not None else 0)
