"""The first pass over a streamed source: every row checked, the classes counted, and the
preprocessing fitted — before any training, so a bad cell anywhere is reported (with its
FILE:LINE:COLUMN, or its row and column) before anything is written.

Standardisation comes from one pass: per-chunk moments (count, mean, M2 in float64) merged by
Chan et al.'s pairwise update (``shards.merge``), stable where sum-of-squares formulas cancel.
A source of a single chunk is fitted exactly as in memory (``Standardizer.fit``), so small data
gives the same model bit for bit.

Yeo-Johnson on a stream: λ is fitted (``power.fit``) on a seeded uniform sample of
``SAMPLE_ROWS`` rows — every row, in order, when the source has no more — kept during the first
pass (the rows with the smallest of one random key per row); the mean and scale of the
transformed data then come from a second pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError
from . import power
from .fingerprint import Fingerprint
from .preprocessing import LabelEncoder, Standardizer, labels_of
from .row_hash import row_hashes
from .shards import Moments, merge, moments, scaling
from .sources import Chunk, Source
from .targets import IndicatorEncoder, as_targets

SAMPLE_ROWS = power.SAMPLE_ROWS  # rows of the Yeo-Johnson λ sample: what power.fit itself samples from in-memory data


@dataclass
class Scan:
    """What the first pass learned: rows, classes and their counts (a multi-label source: the
    label columns 0 … k-1 and each one's rows of 1), the fitted preprocessing; a regression's
    target moments; whether the rows carry sample weights."""

    n_rows: int
    classes: list[Any]
    counts: list[int]
    standardizer: Standardizer | None
    fingerprint: Fingerprint | None = None
    targets: tuple[np.ndarray, np.ndarray] | None = None  #: a regression's (mean, std) per output, population
    flat: bool = False  #: a regression's targets came 1-D (one output)
    weighted: bool = False


def where(source: Source, chunk: Chunk, row: int, col: int) -> str:
    """FILE:LINE:COLUMN of a value of a text source; "NAME: row R, column C" (0-based) otherwise."""
    if chunk.lines is not None:
        return f"{source.name}:{chunk.lines[row]}:{col + 1}"
    return f"{source.name}: row {chunk.first_row + row}, column {col}"


def checked(source: Source, chunk: Chunk, n_features: int) -> np.ndarray:
    """The chunk's features as a finite float array of the source's width."""
    x = chunk.x if chunk.x.dtype.kind == "f" else chunk.x.astype(np.float64)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise DataError(f"{source.name}: expected {n_features} features in every chunk; received shape {x.shape} "
                        f"at row {chunk.first_row}")
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):  # min/max propagate NaN
        r, c = (int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise DataError(f"{where(source, chunk, r, c)}: expected a finite number; received {x[r, c]}")
    return x


def class_labels(source: Source, chunk: Chunk) -> np.ndarray:
    """A classification chunk's labels, 1-D (one-hot rows: their class indices)."""
    try:
        return np.asarray(labels_of(chunk.labels)[0])
    except ValueError as exc:
        raise DataError(f"{source.name}: {exc} (chunk from row {chunk.first_row})") from None


def task_targets(source: Source, chunk: Chunk, task: str) -> np.ndarray:
    """A regression's targets (float64, rows × outputs) or a multi-label chunk's 0/1 matrix, checked."""
    try:
        return as_targets(chunk.labels) if task == "regression" else IndicatorEncoder().one_hot(chunk.labels)
    except ValueError as exc:
        raise DataError(f"{source.name}: {exc} (chunk from row {chunk.first_row})") from None


def row_weights(source: Source, chunk: Chunk) -> np.ndarray | None:
    """The chunk's sample weights, float64, each finite and >= 0 (else a DataError saying where)."""
    if chunk.weights is None:
        return None
    w = np.asarray(chunk.weights, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if len(bad):
        at = (f"{source.name}:{chunk.lines[int(bad[0])]}" if chunk.lines is not None
              else f"{source.name}: row {chunk.first_row + int(bad[0])}")
        raise DataError(f"{at}: expected a finite sample weight >= 0; received {float(w[bad[0]])!r}")
    return w


def scan(source: Source, standardizer: Standardizer | None, *, seed: int | None = 0,
         sample_rows: int = SAMPLE_ROWS, fingerprint_dtype: str | None = None, task: str = "classification") -> Scan:
    """One pass (two for Yeo-Johnson over several chunks): rows, classes (or ``task``'s targets),
    weights, preprocessing, and with ``fingerprint_dtype`` the rows' fingerprint
    (``data.fingerprint``) in that dtype."""
    fp = Fingerprint(fingerprint_dtype) if fingerprint_dtype is not None else None
    sample_rng = np.random.default_rng(seed)
    parts: list[Moments] = []
    target_parts: list[Moments] = []
    counts: dict[Any, int] = {}
    sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (keys, row numbers, rows)
    only: np.ndarray | None = None  # the data of a source read as one chunk
    only_t: np.ndarray | None = None  # its targets
    ones: np.ndarray | None = None  # the targets' column sums
    n, n_chunks, weighted, w_total, flat = 0, 0, set(), 0.0, False
    for chunk in source.chunks():
        x = checked(source, chunk, source.n_features)
        if len(chunk.labels) != x.shape[0]:
            raise DataError(f"{source.name}: expected one label per row; received {len(chunk.labels)} labels for "
                            f"{x.shape[0]} rows at row {chunk.first_row}")
        if task == "classification":
            names, found = np.unique(class_labels(source, chunk), return_counts=True)
            for name, c in zip(names.tolist(), found.tolist()):
                counts[name] = counts.get(name, 0) + c
        else:
            t = task_targets(source, chunk, task)
            if ones is not None and t.shape[1] != len(ones):
                raise DataError(f"{source.name}: expected {len(ones)} target columns in every chunk; received "
                                f"{t.shape[1]} at row {chunk.first_row}")
            ones = t.sum(axis=0) + (0.0 if ones is None else ones)  # (multi-label: each label's rows of 1)
            if task == "regression":
                target_parts.append(moments(t))
            only_t, flat = (t if n_chunks == 0 else None), np.ndim(chunk.labels) == 1
        w = row_weights(source, chunk)
        weighted.add(w is not None)
        w_total += 0.0 if w is None else float(w.sum())
        parts.append(moments(x))
        if fp is not None:
            fp.add(row_hashes(x, fp.dtype, fp.algorithm))
            fp.widen(x)
        if standardizer is not None and standardizer.power:
            sample = _keep_sample(sample, x, chunk.first_row, sample_rng, sample_rows)
        only = x if n_chunks == 0 else None
        n += x.shape[0]
        n_chunks += 1
    if n == 0:
        raise DataError(f"{source.name}: expected data rows; received none")
    if len(weighted) > 1:
        raise DataError(f"{source.name}: expected sample weights in every chunk or in none; received some without")
    if True in weighted and not w_total > 0:
        raise DataError(f"{source.name}: expected sample weights that are not all 0; received only zeros")
    classes, targets = sorted(counts), None
    if task == "multilabel" and ones is not None:  # the label columns, and each one's rows of 1
        classes, counts = list(range(len(ones))), dict(enumerate(ones.astype(int).tolist()))
    elif task == "regression":
        targets = ((only_t.mean(axis=0), only_t.std(axis=0)) if only_t is not None  # one chunk: as in memory
                   else _mean_std(merge(target_parts)))
    if standardizer is not None:
        standardizer = _fit(source, standardizer, only, parts, sample)
    return Scan(n, classes, [counts[c] for c in classes], standardizer, fp, targets, flat, True in weighted)


def _mean_std(m: Moments) -> tuple[np.ndarray, np.ndarray]:
    n, mean, m2 = m
    return mean, np.sqrt(m2 / n)


def _keep_sample(sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None, x: np.ndarray, first_row: int,
                 rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``size`` rows with the smallest random keys among those seen (a uniform sample)."""
    keys = np.asarray(rng.random(x.shape[0]))
    rows = np.arange(first_row, first_row + x.shape[0])
    if sample is not None:
        keys, rows, x = (np.concatenate([a, b]) for a, b in zip(sample, (keys, rows, x)))
    if len(keys) > size:
        keep = np.sort(np.argpartition(keys, size - 1)[:size])
        keys, rows, x = keys[keep], rows[keep], x[keep]
    return keys, rows, x


def _fit(source: Source, st: Standardizer, only: np.ndarray | None, parts: list[Moments],
         sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> Standardizer:
    if only is not None:  # one chunk: exactly the in-memory fit
        return Standardizer(power=st.power).fit(only)
    out = Standardizer(power=st.power)
    if st.power and sample is not None:
        out.lambdas = power.fit(sample[2][np.argsort(sample[1], kind="stable")])  # rows in file order
        parts = [moments(power.transform(checked(source, c, source.n_features), out.lambdas)) for c in source.chunks()]
    out.mean, out.scale = scaling(merge(parts))
    return out


def encoder_for(scan_result: Scan) -> LabelEncoder:
    return LabelEncoder(scan_result.classes)
