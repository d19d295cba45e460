"""Training rows that xmlp owns and may overwrite: the memory of a data set read from a file is
reused for the model's input, so read + standardise + train holds one copy of the data, not two.

``take_rows`` moves the chosen rows (the training part of a split) to the front of the array the
reader filled, widened by ``spare`` columns, in place; the result is a ``RowBuffer``: the raw
features as a (rows, features) view, over a C-contiguous (rows, features + spare) array into
which ``inputs.to_device`` standardises the features and writes the one-hot targets, in place,
and hands the backend as it is (NumPy: no copy at all). A ``RowBuffer`` is used up by that:
it serves one fit, and xmlp creates it only where nothing reads the raw rows afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RowBuffer(np.ndarray):
    """The raw features (rows, features) of ``full`` (rows, features + spare), which xmlp may
    overwrite with the model's input (``full`` is None on a derived array: a slice is not one)."""

    full: np.ndarray | None
    used: bool

    def __array_finalize__(self, obj: Any) -> None:
        self.full, self.used = None, False

    @classmethod
    def over(cls, full: np.ndarray, n_features: int) -> "RowBuffer":
        out = full[:, :n_features].view(cls)
        out.full = full
        return out

    def spare(self) -> int:
        return 0 if self.full is None else self.full.shape[1] - self.shape[1]


def take_rows(x: np.ndarray, rows: np.ndarray, spare: int, block: int = 8192) -> RowBuffer | None:
    """``x[rows]`` (``rows`` ascending) as a ``RowBuffer`` with ``spare`` more columns, built in
    the memory of ``x`` — which it overwrites: the caller owns ``x`` and reads it no more — or None
    where it does not fit there (or ``x`` is not a writable C-contiguous array).

    Row j moves from flat offset rows[j]·d to j·(d + spare), in blocks, front to back: the rows
    whose text a block's destination would overwrite are copied aside first (at most about
    spare/d of the rows are ever aside), so every row is read before it is overwritten."""
    n, d = x.shape
    m, w = len(rows), d + spare
    if m * w > x.size or not x.flags.c_contiguous or not x.flags.writeable:
        return None
    rows = np.asarray(rows, dtype=np.int64)
    if m and (np.any(np.diff(rows) <= 0) or rows[0] < 0 or rows[-1] >= n):
        raise ValueError("expected ascending row indices within the array")
    flat = x.reshape(-1)
    full = flat[: m * w].reshape(m, w)
    starts = rows * d  # where each source row begins in flat
    aside = np.empty((0, d), dtype=x.dtype)  # rows read, not yet written: rows[done : done + len(aside)]
    done = read = 0
    while done < m:
        stop = min(done + block, m)
        # every source row beginning before the end of this destination block is read first
        need = max(stop, int(np.searchsorted(starts, stop * w, side="left")))
        if need > read:
            aside = np.concatenate([aside, x[rows[read:need]]])
            read = need
        full[done:stop, :d] = aside[: stop - done]
        aside = aside[stop - done :]
        done = stop
    return RowBuffer.over(full, d)


def split_rows(x: np.ndarray, train: np.ndarray, valid: np.ndarray, spare: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(x[train], x[valid]). With ``spare`` (``x`` is the caller's to overwrite, and read no more):
    the training rows as a ``RowBuffer`` in the memory of ``x`` where they fit there."""
    valid_rows = x[valid]
    taken = take_rows(x, train, spare) if spare is not None else None
    return (taken if taken is not None else x[train]), valid_rows
