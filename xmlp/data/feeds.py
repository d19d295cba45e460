"""Training rows that reach the device in chunks, each epoch: what ``Trainer`` trains on when the
data does not live on the device as one array.

- ``HostFeed``: the [X | one-hot Y] array stays on the host (it does not fit on the device, or
  that was asked); each epoch draws today's permutation of all rows and sends the rows in that
  order, ``chunk_rows`` at a time. Same seed, same batches, same numbers as the device-resident
  fit, bit for bit.
- ``SourceFeed``: rows from a ``sources.Source``, preprocessed chunk by chunk. Shuffling is by
  chunk order (one permutation of the chunks per epoch) plus a permutation inside a shuffle
  buffer of ``buffer_rows`` rows: chunks fill the buffer, whose rows are then sent in a random
  order. With one chunk holding every row the permutation is exactly the in-memory one.

Each epoch yields device pieces whose row counts are multiples of the batch size (the last one
aside), so batches never straddle pieces and every batch is the in-memory fit's. Transfers per
epoch: one per piece (two with input noise) — bounded by the chunks, never by the batches.
The backend sends them (``Backend.send``: CuPy through pinned buffers on a second stream).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Generator, Iterator

import numpy as np

from .. import backends
from .._types import Array
from ..errors import DataError
from .preprocessing import (
    LabelEncoder,
    RowValueError,
    Standardizer,
    check_representable,
)
from .scan import checked, row_weights, where
from .sources import DEFAULT_CHUNK_ROWS, Source

DEFAULT_BUFFER_ROWS = 1 << 18


def piece_rows(chunk_rows: int, batch_size: int) -> int:
    return max(batch_size, chunk_rows // batch_size * batch_size)


class _Feed:
    n_rows = 0

    def __init__(self, backend: backends.Backend, dtype: str, chunk_rows: int):
        self.backend, self.dtype, self.chunk_rows = backend, dtype, chunk_rows

    def _send(self, pieces: Iterator[np.ndarray], noise: float, noise_rng: Any, d: int) -> Iterator[tuple[Array, Array | None]]:
        """Device (piece, noise or None) pairs; the noise is drawn per piece in the epoch's order
        (the same numbers as one draw of all rows)."""
        dtype = self.backend.dtype(self.dtype)
        for piece in self.backend.send(pieces, dtype):
            drawn = None
            if noise:
                drawn = noise_rng.standard_normal((piece.shape[0], d))
                drawn *= noise  # in place: the same numbers
                drawn = self.backend.asarray(drawn, dtype)
            yield piece, drawn


class HostFeed(_Feed):
    """A host [X | Y] array sent to the device in permuted chunks each epoch."""

    def __init__(self, backend: backends.Backend, data: np.ndarray, dtype: str, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        super().__init__(backend, dtype, chunk_rows)
        self.data, self.n_rows = data, data.shape[0]

    def epoch(self, shuffle_rng: Any, batch_size: int, noise: float = 0.0, noise_rng: Any = None,
              d: int = 0) -> Iterator[tuple[Array, Array | None]]:
        idx, step = shuffle_rng.permutation(self.n_rows), piece_rows(self.chunk_rows, batch_size)
        pieces = (np.take(self.data, idx[lo : lo + step], axis=0) for lo in range(0, self.n_rows, step))
        return self._send(prefetched(pieces), noise, noise_rng, d)


class SourceFeed(_Feed):
    """Rows of a source, preprocessed per chunk, shuffled by chunk order and a shuffle buffer."""

    def __init__(self, backend: backends.Backend, source: Source, n_rows: int, standardizer: Standardizer | None,
                 encoder: Any, dtype: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 buffer_rows: int = DEFAULT_BUFFER_ROWS, shuffle: bool = True, weighted: bool = False,
                 class_weights: np.ndarray | None = None):
        super().__init__(backend, dtype, chunk_rows)
        if isinstance(buffer_rows, bool) or not isinstance(buffer_rows, int) or buffer_rows < 1:
            raise ValueError(f"expected shuffle_buffer to be an integer >= 1; received {buffer_rows!r}")
        self.source, self.n_rows, self.standardizer, self.encoder = source, n_rows, standardizer, encoder
        self.buffer_rows, self.shuffle, self.epochs = buffer_rows, shuffle, 0
        #: a last column of each row's weight: the chunk's sample weights (1 without) times its class's
        self.weighted, self.class_weights = weighted or class_weights is not None, class_weights

    def epoch(self, shuffle_rng: Any, batch_size: int, noise: float = 0.0, noise_rng: Any = None,
              d: int = 0) -> Iterator[tuple[Array, Array | None]]:
        return self._send(prefetched(self._pieces(shuffle_rng, batch_size)), noise, noise_rng, d)

    def _pieces(self, rng: Any, batch_size: int) -> Iterator[np.ndarray]:
        """Host pieces of the epoch, in its order, re-cut so that batches never straddle two."""
        self.epochs += 1
        when = f"during epoch {self.epochs}"
        self.source.check(when)
        n_chunks = self.source.n_chunks
        order = rng.permutation(n_chunks) if self.shuffle and self.source.reorderable and n_chunks > 1 else None
        step, left, seen = piece_rows(self.chunk_rows, batch_size), None, 0
        buffer: list[np.ndarray] = []
        held = 0
        for chunk in self.source.chunks(None if order is None else order.tolist()):
            buffer.append(self.model_input(chunk))
            held += buffer[-1].shape[0]
            seen += buffer[-1].shape[0]
            if held >= self.buffer_rows:
                left = yield from _cut(left, self._mixed(buffer, rng), step, batch_size)
                buffer, held = [], 0
        if buffer:
            left = yield from _cut(left, self._mixed(buffer, rng), step, batch_size)
        if left is not None and left.shape[0]:
            yield left
        self.source.check(when)
        if seen != self.n_rows:
            raise DataError(f"{self.source.name}: expected {self.n_rows:,} rows in every epoch (as the first pass "
                            f"counted); received {seen:,} {when} (the data changed while it was streamed)")

    def _mixed(self, buffer: list[np.ndarray], rng: Any) -> np.ndarray:
        """The buffer's rows in a random order (joined, then one gather: measured faster than a
        scatter per chunk)."""
        window = buffer[0] if len(buffer) == 1 else np.concatenate(buffer)
        return np.take(window, rng.permutation(window.shape[0]), axis=0) if self.shuffle else window

    def _one_hot(self, labels: np.ndarray) -> np.ndarray:
        """``encoder.one_hot`` by a vectorised lookup in the sorted classes (the encoder's loop,
        with its error message, only where a label is not a class); a regression's or a
        multi-label model's encoder as it is."""
        if not isinstance(self.encoder, LabelEncoder) or labels.ndim != 1:
            out_: np.ndarray = self.encoder.one_hot(labels)
            return out_
        classes = np.asarray(self.encoder.classes)
        if classes.dtype.kind == labels.dtype.kind or {classes.dtype.kind, labels.dtype.kind} <= set("iuf"):
            idx = np.minimum(np.searchsorted(classes, labels), len(classes) - 1)
            if np.array_equal(classes[idx], labels):
                out: np.ndarray = np.eye(len(classes))[idx]
                return out
        return self.encoder.one_hot(labels)

    def model_input(self, chunk: Any) -> np.ndarray:
        """[preprocessed x | one-hot y] of a chunk in the model's dtype (errors name where)."""
        x = checked(self.source, chunk, self.source.n_features)
        block = self.standardizer.transform(x) if self.standardizer is not None else x
        try:
            check_representable(block, self.dtype)
            targets = self._one_hot(chunk.labels)
        except RowValueError as exc:
            raise DataError(f"{where(self.source, chunk, exc.row, exc.col)}: {exc}") from None
        except ValueError as exc:
            raise DataError(f"{self.source.name}: {exc} in the chunk from row {chunk.first_row}") from None
        d, k = x.shape[1], targets.shape[1]
        out = np.empty((x.shape[0], d + k + self.weighted), dtype=self.dtype)
        out[:, :d], out[:, d : d + k] = block, targets
        if self.weighted:
            w = row_weights(self.source, chunk)
            w = np.ones(x.shape[0]) if w is None else w
            out[:, -1] = w if self.class_weights is None else w * (targets @ self.class_weights)
        return out


def prefetched(items: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """``items``, produced by a background thread up to ``depth`` ahead: the next piece is read,
    preprocessed and shuffled (NumPy releases the GIL) while the current one trains. The order is
    the producer's, so results do not depend on timing; its errors are raised here, in order."""
    out: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(("error", exc))

    worker = threading.Thread(target=produce, name="xmlp-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = out.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()  # the consumer stopped early (an error, early stopping): let the producer end
        while worker.is_alive():
            try:
                out.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


def _cut(left: np.ndarray | None, window: np.ndarray, step: int, batch_size: int) -> Generator[np.ndarray, None, np.ndarray]:
    """Yield ``left`` + ``window`` in pieces of at most ``step`` rows, each a whole number of
    batches; returns the rows left over (less than a batch) for the next window. Only the first
    piece is a copy (``left`` joined to the window's first rows); the others are views."""
    if left is not None and left.shape[0]:
        need = min(step - left.shape[0], window.shape[0])
        head = np.concatenate([left, window[:need]])
        if head.shape[0] < batch_size:
            return head
        full = head.shape[0] // batch_size * batch_size
        yield head[:full]
        window = np.concatenate([head[full:], window[need:]]) if full < head.shape[0] else window[need:]
    full = window.shape[0] // batch_size * batch_size
    for lo in range(0, full, step):
        yield window[lo : min(lo + step, full)]
    return window[full:]
