"""What a fit trains on when the data is not one device array: a source streamed in chunks, or
host rows sent to the device in chunks because they would not fit there (or ``chunk_rows`` asks).

``fit.fit`` calls ``learn_source`` (labels, preprocessing and feature names from the source's
first pass) and ``training_data`` (a device array, or a feed from ``xmlp.feeds``).
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from ..data import feeds
from ..data.preprocessing import Standardizer, model_input
from ..data.scan import Scan, scan
from ..data.sources import DEFAULT_CHUNK_ROWS, Source
from . import inputs

#: the training rows (features and targets) go to the device whole when they take at most this share of the GPU's free
#: memory (the rest holds the network, the optimizer's slots and a batch's activations)
DEVICE_SHARE = 0.5


def is_source(x: Any) -> bool:
    return isinstance(x, Source)


def learn_source(model: Any, source: Source, y: Any, fit_labels: Any, metrics: Sequence[str],
                 classes: Sequence[Any] | None = None) -> Scan:
    """The first pass over ``source`` (every value checked, classes counted, the model's
    preprocessing fitted), then the labels set up by ``fit_labels`` as for in-memory data."""
    if y is not None:
        raise ValueError(f"expected y=None with a data source (its labels come from {source.name}); received labels")
    result = first_pass(source, model.standardizer, model.seed, model.dtype_name, model.task)
    if model.task == "regression" and result.targets is not None:
        model.encoder.from_moments(*result.targets, result.flat)
    fit_labels(model, None, result.n_rows, metrics, classes if classes is not None else result.classes)
    # A copy: the scan is cached on the source for the next model, and a later fit on arrays
    # refits the model's preprocessing in place.
    model.standardizer = copy.deepcopy(result.standardizer)
    return result


def first_pass(source: Source, standardizer: Standardizer | None, seed: int | None,
               fingerprint_dtype: str | None = None, task: str = "classification") -> Scan:
    """``data.scan.scan`` of ``source``, once per (preprocessing, seed, task): a run that counted
    the classes before building its model does not read the file again to fit. The source
    learns its ``n_rows``, ``classes`` and ``class_counts``."""
    key = (None if standardizer is None else standardizer.method, seed, fingerprint_dtype, task)
    cache = source.__dict__.setdefault("_scans", {})
    if key not in cache:
        cache[key] = scan(source, standardizer, seed=seed, fingerprint_dtype=fingerprint_dtype, task=task)
    result: Scan = cache[key]
    source.n_rows, source.classes, source.class_counts = result.n_rows, result.classes, result.counts
    return result


def training_data(model: Any, x: Any, y: Any, *, chunk_rows: int | None = None,
                  shuffle_buffer: int = feeds.DEFAULT_BUFFER_ROWS, weights: np.ndarray | None = None,
                  class_weight: Any = None) -> Any:
    """The training rows as the trainer takes them: device ``Rows`` (features, targets) when they
    fit on the device (the usual case; ``x`` has passed ``inputs.features``), else a feed: host rows sent in chunks (``HostFeed``), or a source's
    chunks (``SourceFeed``, which weighs them: its chunks' weights times ``class_weight``)."""
    backend, dtype = model.backend, model.dtype_name
    if is_source(x):
        weighted, classes = source_weighting(model, first_pass(x, model.standardizer, model.seed, dtype, model.task),
                                             class_weight)
        return feeds.SourceFeed(backend, x, x.n_rows, model.standardizer, model.encoder, dtype,
                                chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS, buffer_rows=shuffle_buffer,
                                weighted=weighted, class_weights=classes)
    targets = model.encoder.one_hot(y)
    if weights is not None:  # the weight of each row, as a last column (the trainer splits it off)
        targets = np.column_stack([targets, weights])
    width = x.shape[1] + targets.shape[1]
    if chunk_rows is None and (backend.holds(x) or fits_on_device(backend, x.shape[0] * width * np.dtype(dtype).itemsize)):
        return inputs.device_rows(backend, x, model.n_features, model.standardizer, dtype, targets, checked=True)
    host = model_input(x, model.n_features, model.standardizer, dtype, targets)
    return feeds.HostFeed(backend, host, dtype, chunk_rows or DEFAULT_CHUNK_ROWS)


def fits_on_device(backend: Any, nbytes: int) -> bool:
    """Whether ``nbytes`` of training data fit comfortably in the device's free memory (a device
    that computes in host memory: always, the host array is the data)."""
    free = backend.free_memory()
    return free is None or nbytes <= DEVICE_SHARE * free


def validation_rows(data: Any) -> Any:
    """Validation data as (x, y): given so, or a source read whole (validation rows are held
    in memory and sent to the device once)."""
    if not is_source(data):
        return data
    parts = list(data.chunks())
    return np.concatenate([p.x for p in parts]), np.concatenate([p.labels for p in parts])


def row_weights(model: Any, y: Any, x: Any, sample_weight: Any, class_weight: Any, partition: Any) -> np.ndarray | None:
    """Each training row's weight: ``sample_weight`` times its class's ``class_weight``
    ("balanced": n / (classes * rows of the class), scikit-learn's; or {label: weight}, others 1);
    None for neither. Finite, >= 0, not all 0 — else a ValueError naming what was found."""
    if is_source(x):
        if sample_weight is not None:
            raise ValueError(f"expected sample_weight=None with a data source (the weights of its rows come from "
                             f"{x.name}: ChunkList's (x, y, w) chunks, NpySource(sample_weight=), CsvSource(weight_name="
                             "), ParquetSource(weight_column=)); received an array")
        return None  # (the feed weighs each chunk: source_weighting)
    if sample_weight is None and class_weight is None:
        return None
    n = len(y)
    w = np.ones(n)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if w.shape != (n,):
            raise ValueError(f"expected sample_weight of shape ({n},), one per row; received {np.shape(sample_weight)}")
    if class_weight is not None:
        codes = model.encoder.indices(y) if model.task == "classification" else None
        counts = np.bincount(codes, minlength=len(model.classes)) if codes is not None else None
        if partition is not None and partition.sharded and counts is not None:  # "balanced": every shard's rows
            counts = np.sum(partition.comm.allgather(counts), axis=0)
        w = w * per_class(model, class_weight, counts)[codes]
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    problem = f"expected finite weights >= 0; received {float(w[bad[0]])!r} (row {int(bad[0])})" if len(bad) else None
    total = float(w.sum()) if problem is None else 0.0
    if partition is not None and partition.sharded and partition.size > 1:  # every shard's, alike on all processes
        found = partition.comm.allgather((problem, total))  # (a shard's weights may all be 0: the others' count)
        problem, total = next((p for p, _ in found if p), None), sum(t for _, t in found)
    if problem is not None:
        raise ValueError(problem)
    if not total > 0:
        raise ValueError("expected weights that are not all 0; received only zeros")
    return w


def per_class(model: Any, class_weight: Any, counts: Any) -> np.ndarray:
    """Each class's weight: "balanced" (n / (classes * rows of the class), scikit-learn's, from
    the classes' row ``counts``) or {label: weight} (others 1)."""
    if model.task != "classification":
        raise ValueError(f"expected class_weight with a classification; received a {model.task} model "
                         "(hint: sample_weight)")
    if class_weight == "balanced":
        counts = np.asarray(counts)
        out: np.ndarray = counts.sum() / (len(model.classes) * np.maximum(counts, 1))
        return out
    if isinstance(class_weight, dict):
        unknown = [c for c in class_weight if c not in model.classes]
        if unknown:
            raise ValueError(f"expected class_weight labels among {model.classes}; received {unknown[0]!r}")
        return np.array([float(class_weight.get(c, 1.0)) for c in model.classes])
    raise ValueError(f"expected class_weight 'balanced', a dict {{label: weight}} or None; received "
                     f"{class_weight!r}"[:200])


def source_weighting(model: Any, scanned: Scan, class_weight: Any) -> tuple[bool, np.ndarray | None]:
    """(whether a source's rows are weighted, each class's weight or None): the weights its
    chunks carry (checked by the first pass) times ``class_weight`` ("balanced" from the
    first pass's class counts)."""
    counts = dict(zip(scanned.classes, scanned.counts))  # in the model's classes' order (given ones may have no rows)
    classes = None if class_weight is None else per_class(model, class_weight,
                                                          [counts.get(c, 0) for c in model.classes or []])
    return scanned.weighted or classes is not None, classes