"""A 64-bit hash of each row of feature values, the same on every machine and backend (the
fingerprint's, ``data.fingerprint``): a row read from a file and the same row passed as an array
hash alike.

- ``xmlp-rows-2`` (``ROW_HASH``): the row's values in the model's dtype (``-0.0`` as ``0.0``) as
  64-bit words (two float32 values a word; an odd row padded with a zero), folded word by word
  with a multiply–xorshift round (h = (h ⊕ w)·M, h ⊕= h ≫ 29: each a bijection, so two rows that
  differ in one word never share a hash), then SplitMix64's finaliser.
- ``splitmix64-rows-1``, of files written before it: every value a word, SplitMix64's finaliser
  after each (4× the work in float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROW_HASH = "xmlp-rows-2"
ROW_HASHES = ("splitmix64-rows-1", ROW_HASH)  # every algorithm a model file may carry
HASH_BLOCK_BYTES = 8 << 20  # rows hashed at a time: about this many bytes of them (row_hashes)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (a bijection of 64-bit words with full avalanche), in place."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def row_hashes(x: Any, dtype: str, algorithm: str = ROW_HASH) -> np.ndarray:
    """One uint64 per row of the host array ``x`` (rows, features), of its values in ``dtype``."""
    if algorithm not in ROW_HASHES:
        raise ValueError(f"expected a row hash in {ROW_HASHES}; received {algorithm!r}")
    x = np.asarray(x)
    if x.dtype.kind != "f":  # integers and booleans reach the model through float64 (as_features)
        x = x.astype(np.float64)
    if algorithm != ROW_HASH:
        return _row_hashes_1(x, dtype)
    n, d = x.shape
    width = d + (np.dtype(dtype).itemsize == 4 and d % 2)
    out = np.empty(n, dtype=np.uint64)
    # In blocks of rows: the column-by-column loop reads one word of every row of the block, so
    # the block's cache lines must stay in L2 between columns (60,000 x 784 float32: 0.12 s at
    # once, 0.07 s in blocks of ~2,700 rows); at least 2,048 rows keep the per-call overhead small.
    step = min(max(2048, HASH_BLOCK_BYTES // max(width * np.dtype(dtype).itemsize, 1)), 1 << 16)
    values = np.zeros((min(step, n), width), dtype=dtype)
    spare = np.empty(min(step, n), dtype=np.uint64)
    for a in range(0, n, step):
        m = min(step, n - a)
        part = values[:m, :d]
        np.copyto(part, x[a:a + m], casting="unsafe")  # cast first: a float64 -1e-50 is -0.0 in float32
        np.add(part, 0.0, out=part)  # -0.0 + 0.0 is 0.0
        words = values[:m].view(np.uint64)
        with np.errstate(over="ignore"):
            h = out[a:a + m]
            h[...] = np.uint64(d) * _GOLDEN
            for j in range(words.shape[1]):
                h ^= words[:, j]
                h *= _M1
                np.right_shift(h, np.uint64(29), out=spare[:m])
                h ^= spare[:m]
            _mix(h)
    return out


def _row_hashes_1(x: Any, dtype: str) -> np.ndarray:
    """``splitmix64-rows-1``: every value (32 or 64 bits) a word, SplitMix64's finaliser after each."""
    values = np.ascontiguousarray(np.asarray(x, dtype=dtype)) + np.zeros((), dtype=dtype)  # -0.0 -> 0.0
    words = values.view(np.uint32 if values.dtype.itemsize == 4 else np.uint64)
    with np.errstate(over="ignore"):
        h = np.full(values.shape[0], np.uint64(values.shape[1]) * _GOLDEN, dtype=np.uint64)
        for j in range(words.shape[1]):
            h ^= words[:, j].astype(np.uint64)
            h += _GOLDEN
            _mix(h)
    return h
