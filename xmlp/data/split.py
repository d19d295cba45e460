"""Splitting rows into a training and a validation part (host side): ``split_indices`` of rows in
memory (stratified by default), ``Split``: one side of a seeded random split of a source read in
chunks (stratified within each chunk, unless the rows are a regression's or a multi-label model's)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from .distinct import distinct
from .preprocessing import labels_of
from .sources import Chunk, Source


def split_indices(
    labels: Any, valid_size: float | int, rng: np.random.Generator, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) row indices, each in ascending order.

    ``valid_size`` is a fraction in (0, 1) or a row count. Stratified: each class contributes
    its share of the validation rows (largest remainders decide the rounding), so both parts
    keep the class proportions; every class keeps at least one training row.
    """
    labels = np.asarray(labels)  # labels: any sequence of hashable values
    n = len(labels)
    n_valid = valid_count(valid_size, n)
    if not stratify:
        perm = rng.permutation(n)
        return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
    classes, inverse = distinct(labels, return_inverse=True)  # (one-character labels: counted, not sorted)
    counts = np.bincount(inverse)
    exact = counts * (n_valid / n)
    take = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - take), kind="stable")[: n_valid - take.sum()]:
        take[k] += 1
    take = np.minimum(take, counts - 1)
    valid = []
    for k in range(len(classes)):
        rows = np.flatnonzero(inverse == k)
        valid.append(rng.permutation(rows)[: take[k]])
    valid_idx = np.sort(np.concatenate(valid))
    keep = np.ones(n, dtype=bool)
    keep[valid_idx] = False
    return np.flatnonzero(keep), valid_idx  # (np.setdiff1d(arange(n), valid_idx), without its sort)


def valid_count(valid_size: float | int, n: int) -> int:
    """The number of validation rows for a fraction or a count, checked against ``n`` rows."""
    if isinstance(valid_size, (int, np.integer)) and not isinstance(valid_size, bool):
        count = int(valid_size)
        if not 1 <= count < n:
            raise ValueError(f"expected a validation row count in [1, {n - 1}]; received {count}")
        return count
    frac = float(valid_size)
    if not 0.0 < frac < 1.0:
        raise ValueError(f"expected a validation fraction in (0, 1); received {valid_size}")
    return min(max(1, round(frac * n)), n - 1)


class Split(Source):
    """One side of a seeded random split of ``source``, stratified within each chunk: of a chunk's
    n rows of a class, ``fraction`` · n go to the validation side (the fractional part rounded up
    with that probability, so that no class is left out of it on average however few rows a chunk
    holds), chosen by a generator of the chunk's own (seeded by (seed, chunk)): the split is the
    same whatever order the chunks are read in, and each class's share is ``fraction`` to within
    one row a chunk."""

    def __init__(self, source: Source, fraction: float, seed: int, validation: bool, stratify: bool = True):
        self.source, self.fraction, self.seed, self.validation = source, fraction, seed, validation
        self.stratify = stratify  # False: a regression's or a multi-label model's rows (one group)
        self.name, self.n_features, self.feature_names = source.name, source.n_features, source.feature_names
        self.n_chunks, self.reorderable = source.n_chunks, source.reorderable

    def read(self, k: int) -> Chunk:
        return self._side(k, self.source.read(k))

    def validation_rows(self, k: int, labels: np.ndarray) -> np.ndarray:
        """Which rows of chunk ``k`` (its ``labels``) are on the validation side (a boolean mask)."""
        rng = np.random.default_rng([self.seed, k])
        keys = rng.random(len(labels))  # a random order of the rows within each class
        if not self.stratify:
            labels = np.zeros(len(labels), dtype=np.int8)
        elif labels.ndim == 2:  # one-hot rows
            labels = labels_of(labels)[0]
        classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
        wanted = self.fraction * counts
        quota = np.floor(wanted).astype(np.int64) + (rng.random(len(classes)) < wanted - np.floor(wanted))
        order = np.lexsort((keys, codes))  # by class, then by key
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels)) - starts[codes[order]]
        mask: np.ndarray = rank < quota[codes]
        return mask

    def chunks(self, order: Iterable[int] | None = None) -> Iterator[Chunk]:
        for k, chunk in zip(range(self.n_chunks) if order is None else order, self.source.chunks(order)):
            yield self._side(k, chunk)

    def _side(self, k: int, chunk: Chunk) -> Chunk:
        keep = self.validation_rows(k, np.asarray(chunk.labels))
        return chunk.take(keep if self.validation else ~keep)

    def check(self, when: str) -> None:
        self.source.check(when)
