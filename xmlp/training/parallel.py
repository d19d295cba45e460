"""Data parallelism inside the epoch loop: which rows of each global batch this process
computes (``Partition``), and the one gradient all-reduce per step (``GradientSync``).

Compute only, like the trainer: Array API arrays and the communicator (``backends.comm``) beside
the backend. A single process is the case W = 1 of the same code: its partition takes every
row, and its gradient sync does nothing.

Exact mode (default): every process holds every row and draws the same permutation; each global
batch of B rows is cut into W contiguous slices, process r computing slice r. Each computes the
gradient of its rows' *summed* loss divided by B (the loss's ``rows`` argument), the all-reduce
sums those, and every process applies the same summed gradient: the single-process step, up to
the order of the sums.

Sharded mode: process r holds only its shard of the rows (``shard_rows[r]``) and shuffles it
with its own stream; an epoch has ceil(N / B) steps for the N rows of all shards, and step s
takes the s-th of that many contiguous parts of each shard's permutation, so every process takes
the same number of steps (its collectives match) and a step's rows add up to about B.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..backends import comm as _comm

if TYPE_CHECKING:  # mypy reads the repository's backends/; at run time it is xmlp._backends
    from backends.comm import Communicator
else:
    Communicator = _comm.Communicator


class Partition:
    """How this process (``comm.rank`` of ``comm.size``) shares the rows of a fit.

    ``shard_rows``: sharded mode, the (training, validation) row counts of every process's shard,
    in rank order. ``classes``, ``scaling`` (mean, scale) and ``targets`` (a regression's per-output
    mean and std): the host values agreed across the shards (label set, merged standardisation,
    merged target moments), used instead of fitting them on one shard.
    """

    def __init__(self, comm: Communicator | None = None, *, shard_rows: Sequence[tuple[int, int]] | None = None,
                 classes: Sequence[Any] | None = None, scaling: tuple[Any, Any] | None = None,
                 targets: tuple[Any, Any] | None = None):
        self.comm = comm if comm is not None else Communicator()
        self.rank, self.size = self.comm.rank, self.comm.size
        self.shard_rows = [tuple(s) for s in shard_rows] if shard_rows is not None else None
        if self.shard_rows is not None and len(self.shard_rows) != self.size:
            raise ValueError(f"expected one shard size per process ({self.size}); received {len(self.shard_rows)}")
        self.classes = list(classes) if classes is not None else None
        self.scaling, self.targets = scaling, targets

    @property
    def sharded(self) -> bool:
        return self.shard_rows is not None

    @property
    def mode(self) -> str:
        return "single process" if self.size == 1 else "sharded" if self.sharded else "exact"

    def shuffle_stream(self, rng: Any) -> Any:
        """The generator of this process's permutations: the shared one (every process draws the
        same order), or in sharded mode this shard's own child of it."""
        return rng.spawn(self.size)[self.rank] if self.sharded else rng

    def total_rows(self, local: int, part: int = 0) -> int:
        """Rows of all processes (``part`` 0: training, 1: validation) given this one's ``local``."""
        return sum(s[part] for s in self.shard_rows) if self.shard_rows is not None else local

    def batches(self, n_local: int, batch_size: int) -> list[tuple[int, int, int]]:
        """(lo, hi, rows) per step: positions lo:hi of this process's permutation, and the rows
        the step takes on all processes (the gradient's divisor)."""
        w, r = self.size, self.rank
        if self.shard_rows is None:
            out = []
            for start in range(0, n_local, batch_size):
                rows = min(batch_size, n_local - start)
                out.append((start + rows * r // w, start + rows * (r + 1) // w, rows))
            return out
        sizes = [s[0] for s in self.shard_rows]
        steps = max(1, -(-sum(sizes) // batch_size))
        return [(n_local * s // steps, n_local * (s + 1) // steps,
                 max(1, sum(m * (s + 1) // steps - m * s // steps for m in sizes))) for s in range(steps)]

    def scored(self, n_local: int) -> tuple[int, int]:
        """The rows lo:hi of the validation array this process scores (exact mode: its slice)."""
        if self.shard_rows is not None:
            return 0, n_local
        return n_local * self.rank // self.size, n_local * (self.rank + 1) // self.size


class GradientSync:
    """Sums every layer's gradients across processes with ONE all-reduce per step, over one flat
    buffer: after backward, each gradient is copied into its place in the buffer (preallocated,
    in the network's dtype), the buffer is all-reduced, and each layer's ``grads`` become views
    of the summed buffer. One process: ``step`` does nothing (no buffer, no copy).

    (The copy is needed because the Array API has no ``out=``: a layer's matmul allocates its
    gradient. Measured on NumPy, copying after backward costs the same as writing each gradient
    into a view from the layer; it leaves the layers alone: see benchmarks/README.md.)

    ``weighted``: the layers' gradients are of this process's *summed* weighted loss Σ wᵢℓᵢ, and
    ``step(w_sum)`` takes its rows' Σ wᵢ; the sum rides in the same all-reduce (one more value
    at the buffer's end), and the summed gradient is divided by the global Σ w — the weighted
    mean over the global batch, as one process computes it (a zero sum divides by 1, as
    ``nn.regression.weight_sum``).
    """

    def __init__(self, network: Any, comm: Communicator, weighted: bool = False):
        self.comm = comm
        if comm.size == 1:
            self.step = _nothing
            return
        xp, be = network.xp, network.backend
        self.xp = xp
        self.slots = [(layer, key) for layer in network.layers for key in layer.params]
        shapes = [tuple(layer.params[key].shape) for layer, key in self.slots]
        counts = [_prod(s) for s in shapes]
        self.n = sum(counts)
        self.flat = xp.zeros((self.n + weighted,), dtype=network.dtype, device=be.device)
        self.spans, at = [], 0
        for n in counts:
            self.spans.append((at, at + n))
            at += n
        self.shapes = shapes
        self.views = [xp.reshape(self.flat[a:b], s) for (a, b), s in zip(self.spans, shapes)]
        # Views of a slice alias the buffer on NumPy, CuPy, torch and array-api-strict; the
        # standard does not promise it, so it is checked once (else each step reshapes afresh).
        self.flat[...] = 1.0
        self.aliased = bool(xp.all(self.views[0] == 1.0))
        self.flat[...] = 0.0
        self.step = self._reduce

    def _reduce(self, w_sum: Any = None) -> None:
        flat, n, reshape = self.flat, self.n, self.xp.reshape
        for (layer, key), (a, b), view in zip(self.slots, self.spans, self.views):
            if self.aliased:
                view[...] = layer.grads[key]
            else:
                flat[a:b] = reshape(layer.grads[key], (-1,))
        if w_sum is not None:
            flat[n] = w_sum
        self.comm.allreduce_(flat)
        if w_sum is not None:  # the global batch's weighted mean (a zero sum of weights: divided by 1)
            total = flat[n]
            flat[:n] = flat[:n] * (1.0 / (total + self.xp.astype(total == 0, total.dtype)))
        for (layer, key), (a, b), view, shape in zip(self.slots, self.spans, self.views, self.shapes):
            layer.grads[key] = view if self.aliased else reshape(flat[a:b], shape)


def _nothing(w_sum: Any = None) -> None:
    pass


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= int(n)
    return out
