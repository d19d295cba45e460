"""What a model was trained on, compactly: a 64-bit hash of each training row's feature values,
so that scoring can count the rows it has seen (``Sequential.training_overlap``, the warning of
``xmlp predict``).

- A row's hash (``data.row_hash.row_hashes``, algorithm ``ROW_HASH``): 64 bits of its values in
  the model's dtype, the same on every machine and backend. Fingerprints of files that carry the
  earlier ``splitmix64-rows-1`` are read, compared and extended with it.
- Up to ``EXACT_ROWS`` distinct rows: the sorted distinct hashes (8 bytes a row, no false
  positive below one in ~10⁷ at a million rows: the birthday bound of 64 bits). Beyond: a Bloom
  filter of ``BLOOM_BITS`` bits (8 MiB) and ``BLOOM_K`` probes, one size for every model so that
  any two merge; its false-positive rate follows from its fill (``false_positive_rate``): about
  1e-5 at 10⁶ rows, 0.2 % at 3·10⁶, 4 % at 10⁷.
- With it, each feature's training range (``low``, ``high``: the smallest and largest value seen),
  so that scoring can say when a value lies far outside anything trained on (``far_outside``).
- Fingerprints merge (``union``): the shards of a data-parallel fit, the chunks of a stream, a
  warm start on new rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .row_hash import ROW_HASH, ROW_HASHES, row_hashes

__all__ = ["BLOOM_BITS", "BLOOM_K", "EXACT_ROWS", "ROW_HASH", "ROW_HASHES", "Fingerprint", "row_hashes"]

EXACT_ROWS = 1_000_000
BLOOM_BITS = 1 << 26  # 8 MiB
BLOOM_K = 4


def _distinct(hashes: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` of NumPy 2.4 hashes uint64 and is ~12x slower here)."""
    s = np.sort(hashes)
    return s[np.concatenate([[True], s[1:] != s[:-1]])] if len(s) else s


def _bloom_slots(hashes: np.ndarray, k: int, bits: int) -> np.ndarray:
    """The ``k`` bit positions of each hash (double hashing, Kirsch and Mitzenmacher): (rows, k)."""
    h1 = hashes & np.uint64(0xFFFFFFFF)
    h2 = (hashes >> np.uint64(32)) | np.uint64(1)
    steps = np.arange(k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (h1[:, None] + steps[None, :] * h2[:, None]) & np.uint64(bits - 1)


@dataclass
class Fingerprint:
    """The training rows of a model: ``exact`` sorted distinct hashes, or a Bloom filter
    (``bloom``: uint64 words of ``bits`` bits, ``k`` probes); ``rows``: the training rows counted
    (with repeats), ``dtype``: the dtype the rows were hashed in."""

    dtype: str
    rows: int = 0
    exact: np.ndarray | None = None
    bloom: np.ndarray | None = None
    bits: int = 0
    k: int = 0
    low: np.ndarray | None = None  # float64, one per feature: the training range
    high: np.ndarray | None = None
    algorithm: str = ROW_HASH  # the rows' hash (a file of an earlier xmlp: its own, kept when extended)

    def __post_init__(self) -> None:
        if self.algorithm not in ROW_HASHES:
            raise ValueError(f"expected a row hash in {ROW_HASHES}; received {self.algorithm!r}")
        if self.exact is None and self.bloom is None:
            self.exact = np.zeros(0, dtype=np.uint64)

    @classmethod
    def of(cls, x: Any, dtype: str, chunk: int = 1 << 16, algorithm: str = ROW_HASH) -> Fingerprint:
        """The fingerprint of the rows of a host array, hashed in blocks of ``chunk`` rows (a
        row's hash is its own: the same hashes as at once, in bounded extra memory)."""
        out = cls(dtype, algorithm=algorithm)
        x = np.asarray(x)
        blocks = [x[a:a + chunk] for a in range(0, len(x), chunk)] or [x]
        out.add(np.concatenate([row_hashes(b, dtype, algorithm) for b in blocks]), len(x))
        for b in blocks:
            out.widen(b)
        return out

    def widen(self, x: Any) -> None:
        """Take in the training range of more rows (host, rows × features)."""
        values = np.asarray(x, dtype=self.dtype)  # (its min and max, then widened: exact, without a float64 copy)
        if not values.shape[0]:
            return
        self._range(values.min(axis=0).astype(np.float64), values.max(axis=0).astype(np.float64))

    def _range(self, low: np.ndarray | None, high: np.ndarray | None) -> None:
        if low is None or high is None:
            return
        self.low = low.copy() if self.low is None else np.minimum(self.low, low)
        self.high = high.copy() if self.high is None else np.maximum(self.high, high)

    def far_outside(self, x: Any) -> list[tuple[int, int, float, float]]:
        """The columns of ``x`` with values beyond the training range by more than its width:
        (column, rows, the farthest value, its distance beyond the range in range widths), the
        farthest first."""
        if self.low is None or self.high is None:
            return []
        values = np.asarray(x, dtype=np.float64)
        width = np.maximum(self.high - self.low, np.finfo(np.float64).tiny)
        with np.errstate(over="ignore"):
            beyond = np.maximum(self.low - values, values - self.high) / width
        out = []
        for col in np.flatnonzero((beyond > 1.0).any(axis=0)).tolist():
            far = beyond[:, col]
            at = int(np.argmax(far))
            out.append((col, int(np.count_nonzero(far > 1.0)), float(values[at, col]), float(far[at])))
        return sorted(out, key=lambda t: -t[3])

    def add(self, hashes: np.ndarray, rows: int | None = None) -> None:
        """Take in more training rows' hashes."""
        self.rows += len(hashes) if rows is None else rows
        if self.bloom is None:
            assert self.exact is not None
            self.exact = _distinct(np.concatenate([self.exact, hashes]))
            if len(self.exact) > EXACT_ROWS:
                self._to_bloom()
        else:
            self._bitset()[_bloom_slots(hashes, self.k, self.bits).ravel()] = 1
            self._packed = False

    def _bitset(self) -> np.ndarray:
        """The Bloom filter as one uint8 (0 or 1) per bit, kept while rows come in (a stream's
        chunks): bit i is bit i % 64 of word i // 64 of ``bloom``."""
        assert self.bloom is not None
        if getattr(self, "_bits", None) is None:
            self._bits = np.unpackbits(self.bloom.astype("<u8").view(np.uint8), bitorder="little")
            self._packed = True
        return self._bits

    def _pack(self) -> None:
        if self.bloom is not None and not getattr(self, "_packed", True):
            self.bloom = np.packbits(self._bits, bitorder="little").view("<u8").astype(np.uint64)
            self._packed = True

    def _to_bloom(self) -> None:
        assert self.exact is not None
        self.bits, self.k = BLOOM_BITS, BLOOM_K
        self.bloom = np.zeros(self.bits // 64, dtype=np.uint64)
        hashes, self.exact = self.exact, None
        rows, self.rows = self.rows, 0
        self.add(hashes, rows)

    def union(self, other: Fingerprint) -> Fingerprint:
        """Both fingerprints' rows (the same dtype)."""
        self._pack()
        other._pack()
        if other.dtype != self.dtype or other.algorithm != self.algorithm:
            raise ValueError(f"expected fingerprints of one dtype and hash; received {self.dtype} ({self.algorithm}) "
                             f"and {other.dtype} ({other.algorithm})")
        out = Fingerprint(self.dtype, self.rows, None if self.exact is None else self.exact.copy(),
                          None if self.bloom is None else self.bloom.copy(), self.bits, self.k, self.low, self.high,
                          self.algorithm)
        out._range(other.low, other.high)
        if other.exact is not None:
            out.add(other.exact, other.rows)
        elif out.exact is not None:  # a Bloom filter takes in the exact set
            assert other.bloom is not None
            mine = Fingerprint(self.dtype, 0, None, other.bloom.copy(), other.bits, other.k, out.low, out.high,
                               self.algorithm)
            mine.add(out.exact, out.rows)
            mine.rows += other.rows
            return mine
        else:
            assert other.bloom is not None and out.bloom is not None
            if (other.bits, other.k) != (out.bits, out.k):
                raise ValueError("expected Bloom filters of one size to merge; received two sizes")
            out.bloom |= other.bloom
            out.rows += other.rows
        return out

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Whether each hash is (probably, for a Bloom filter) one of the training rows'."""
        if self.exact is not None:
            at = np.searchsorted(self.exact, hashes)
            return (at < len(self.exact)) & (self.exact[np.minimum(at, len(self.exact) - 1)] == hashes) \
                if len(self.exact) else np.zeros(len(hashes), dtype=bool)
        found: np.ndarray = np.all(self._bitset()[_bloom_slots(hashes, self.k, self.bits)], axis=1)
        return found

    def overlap(self, x: Any) -> int:
        """How many rows of ``x`` (host, rows × features) are training rows."""
        return int(np.count_nonzero(self.contains(row_hashes(x, self.dtype, self.algorithm))))

    @property
    def false_positive_rate(self) -> float:
        """0 for the exact set (up to 64-bit collisions); a Bloom filter's from its fill."""
        if self.bloom is None:
            return 0.0
        filled = int(np.count_nonzero(self._bitset()))
        return float((filled / self.bits) ** self.k)

    # ------------------------------------------------------------------ the model file
    def meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hash": self.algorithm, "dtype": self.dtype, "rows": self.rows}
        if self.bloom is not None:
            out.update(kind="bloom", bits=self.bits, k=self.k)
        else:
            out.update(kind="exact")
        return out

    def tensors(self) -> dict[str, np.ndarray]:
        self._pack()
        out: dict[str, np.ndarray] = {"fingerprint": self.exact if self.exact is not None else self.bloom}  # type: ignore[dict-item]
        if self.low is not None and self.high is not None:
            out.update({"fingerprint.low": self.low, "fingerprint.high": self.high})
        return out

    @classmethod
    def from_file(cls, meta: Any, tensors: dict[str, Any], source: str) -> Fingerprint:
        """The fingerprint of a model file's description and tensors (``fingerprint``, and the
        training range ``fingerprint.low|high``), checked (ValueError naming the file otherwise)."""
        def bad(what: str) -> ValueError:
            return ValueError(f"{source}: expected a training fingerprint {what}")

        tensor = tensors.get("fingerprint")
        low, high = tensors.get("fingerprint.low"), tensors.get("fingerprint.high")
        if (low is None) != (high is None) or (low is not None and not (
                isinstance(low, np.ndarray) and isinstance(high, np.ndarray) and low.dtype == high.dtype == np.float64
                and low.ndim == 1 and low.shape == high.shape and np.isfinite(low).all() and np.isfinite(high).all()
                and (low <= high).all())):
            raise bad("range (fingerprint.low <= fingerprint.high, finite float64 vectors of one length)")
        if not isinstance(meta, dict) or meta.get("hash") not in ROW_HASHES:
            raise bad(f"with hash {' or '.join(map(repr, ROW_HASHES))}; received {meta!r}"[:200])
        algorithm = meta["hash"]
        dtype, rows, kind = meta.get("dtype"), meta.get("rows"), meta.get("kind")
        if dtype not in ("float32", "float64"):
            raise bad(f"of dtype float32 or float64; received {dtype!r}"[:200])
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise bad(f"row count (an integer >= 0); received {rows!r}"[:200])
        if not isinstance(tensor, np.ndarray) or tensor.dtype != np.uint64 or tensor.ndim != 1:
            raise bad("tensor of uint64 words; received " + (f"{tensor.dtype} of shape {tensor.shape}"
                                                              if isinstance(tensor, np.ndarray) else "none"))
        if kind == "exact":
            if len(tensor) > EXACT_ROWS or np.any(tensor[1:] <= tensor[:-1]):
                raise bad(f"of at most {EXACT_ROWS} sorted distinct hashes; received {len(tensor)} unsorted or too many")
            return cls(dtype, rows, tensor.copy(), low=low, high=high, algorithm=algorithm)
        if kind == "bloom":
            bits, k = meta.get("bits"), meta.get("k")
            if bits != BLOOM_BITS or len(tensor) * 64 != bits:
                raise bad(f"Bloom filter of {BLOOM_BITS} bits; received bits={bits!r} in {len(tensor)} words"[:200])
            if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 16:
                raise bad(f"Bloom filter of 1 to 16 probes; received k={k!r}"[:200])
            return cls(dtype, rows, None, tensor.copy(), bits, k, low, high, algorithm)
        raise bad(f"of kind 'exact' or 'bloom'; received {kind!r}"[:200])
