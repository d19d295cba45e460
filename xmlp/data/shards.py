"""Sharded data on the host: which rows a process holds, and the statistics that must be the
same on every process although each sees only its shard.

A shard is a contiguous range of rows: process r of W holds rows [N r / W, N (r + 1) / W).
The standardisation of the whole data is merged from per-shard moments — count, mean and sum
of squared deviations (M2), in float64 — by the pairwise update of Chan, Golub and LeVeque
(1979), the same merge that combines row chunks within a shard: exact up to rounding, and
stable where the textbook sum-of-squares formula cancels catastrophically.

What is left for the streaming sources: here a process still reads the whole file's text and
parses only its rows (``csv.exact.read_exact(part=…)``); reading a byte range, and row counts that
are not known in advance, are the streaming issue's.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

import numpy as np

from ..errors import DataError
from .textlines import open_input, read_lines

#: (row count, column means, column sums of squared deviations from the mean)
Moments = tuple[int, np.ndarray, np.ndarray]


def shard_range(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows [lo, hi) of ``n`` that process ``rank`` of ``size`` holds (sizes differ by <= 1)."""
    return n * rank // size, n * (rank + 1) // size


def moments(x: np.ndarray, chunk: int = 8192) -> Moments:
    """(n, mean, M2) of the columns of ``x`` in float64, merged over row chunks (a float32
    data set is never copied whole to float64)."""
    x = np.asarray(x)
    parts = []
    for start in range(0, x.shape[0], chunk):
        block = np.asarray(x[start : start + chunk], dtype=np.float64)
        mean = block.mean(axis=0)
        parts.append((block.shape[0], mean, ((block - mean) ** 2).sum(axis=0)))
    return merge(parts) if parts else (0, np.zeros(x.shape[1]), np.zeros(x.shape[1]))


def merge(parts: Iterable[Moments]) -> Moments:
    """The moments of the union of the parts (folded in the order given, so every process that
    merges the same list gets the same bits): for parts a and b with n = n_a + n_b and
    d = mean_b - mean_a, mean = mean_a + d n_b / n and M2 = M2_a + M2_b + d^2 n_a n_b / n."""
    n, mean, m2 = 0, None, None
    for nb, mb, m2b in parts:
        mb, m2b = np.asarray(mb, dtype=np.float64), np.asarray(m2b, dtype=np.float64)
        if nb == 0:
            continue
        if mean is None or m2 is None or n == 0:
            n, mean, m2 = nb, mb.copy(), m2b.copy()
            continue
        total = n + nb
        delta = mb - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta * delta * (n * nb / total)
        n = total
    if mean is None or m2 is None:
        raise ValueError("expected at least one row to standardize; received none")
    return n, mean, m2


def scaling(m: Moments) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of a ``preprocessing.Standardizer`` from merged moments: the population
    std, and 1 for a column whose std is below 1e-12 x its magnitude (the Standardizer's rule)."""
    n, mean, m2 = m
    std = np.sqrt(m2 / n)
    tiny = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    return mean, np.where(tiny, 1.0, std)


def union_classes(per_shard: Iterable[Iterable[Any]]) -> list[Any]:
    """The sorted classes seen by any shard (what ``LabelEncoder.fit`` of all rows gives)."""
    found: set[Any] = set()
    for classes in per_shard:
        found |= set(classes)
    return sorted(found)


def local_classes(labels: np.ndarray) -> list[Any]:
    return [c.item() if hasattr(c, "item") else c for c in np.unique(np.asarray(labels))]


def part_rows(path: str | os.PathLike[str], name: str, header: bool, part: tuple[int, int] | None) -> tuple[int, int]:
    """The data rows [lo, hi) of ``part`` (all rows without one), from a first counting pass."""
    if part is None:
        return 0, 1 << 62
    with open_input(path) as fh:
        total = sum(1 for line in read_lines(fh, name) if line.text.strip()) - int(header)
    k, of = part
    lo, hi = total * k // of, total * (k + 1) // of
    if hi <= lo:
        raise DataError(f"{name}: expected data rows in part {k + 1} of {of}; received none (fewer rows than processes)")
    return lo, hi
