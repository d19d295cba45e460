"""The epoch loop: a network, an optimizer and callbacks, on device data.

Data flow of one epoch: one permutation drawn on the host and sent; each batch taken on the
device from the features and the targets (``Rows``); forward, fused loss, backward and the step on
the device; the epoch's losses and confusion counts packed (``metrics.EpochVector``) and read
by the host in one transfer at the end.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .._types import Array
from ..errors import TrainingDiverged, UsageError
from ..nn import losses
from ..nn.layer import Layer
from ..nn.network import Network
from ..optim import schedules
from ..optim.clipping import GradientClipping
from ..optim.optimizers import Optimizer
from . import metrics as metrics_mod
from . import parallel
from .callbacks import Callback, History
from .rows import Rows

#: float64 values (4 MiB) per block of the epoch's input noise (any block size draws the same numbers), rows
#: per block of validation scoring: host and device memory stay bounded by a block
NOISE_VALUES, SCORE_ROWS = 1 << 19, 65536
#: values per block of dropout masks (rows x the Dropout layers' widths): on a device 4 Mi (few transfers); in host
#: memory 256 Ki (1 MiB of float32 stays in cache while its batches train: MNIST dropout epoch 1.06x, not 1.16x)
MASK_VALUES, HOST_MASK_VALUES = 1 << 22, 1 << 18


class Trainer:
    """Runs epochs of minibatch training of ``network`` with ``optimizer``.

    ``data`` and ``validation`` are ``Rows`` (device features and targets: one-hot Y, a
    regression's scaled targets, 0/1 labels; a [X | Y] device array is cut into them); batches
    are taken from ``data`` in the order of a host permutation.
    ``data`` may instead be a feed (``xmlp.feeds``: rows kept on the host, or read from a source)
    that sends each epoch's rows to the device in shuffled pieces; batches are then slices of
    the pieces (one process only).
    ``partition`` shares the rows among the processes of a data-parallel job (default: this
    process alone); the loop is the same for one process and for W.
    With ``noise`` > 0, Gaussian noise of that std (drawn on the host from ``noise_rng``, one
    array per epoch, so every backend sees the same numbers) is added to the training inputs.
    Dropout layers' masks are drawn on the host from ``dropout_rng`` in blocks of rows, in the
    epoch's row order (so the same whatever the blocks), and sent once per block.
    ``lr_schedule`` sets the optimizer's learning rate at the start of each epoch (and is shown
    the epoch's logs at its end); ``clip_norm`` / ``clip_value`` clip the summed gradient before
    each update (``optim.clipping``).
    """

    def __init__(self, network: Network, optimizer: Optimizer, *, metrics: Sequence[str] = ("accuracy",),
                 callbacks: Sequence[Callback] = (), partition: parallel.Partition | None = None,
                 noise: float = 0.0, noise_rng: Any = None, dropout_rng: Any = None,
                 lr_schedule: schedules.Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None, target_scale: Sequence[float] | None = None,
                 weighted: bool = False):
        self.noise, self.noise_rng, self.dropout_rng = noise, noise_rng, dropout_rng
        self.weighted = weighted  # whether the data's last column is each row's sample weight
        self._weight_sum: Any = None
        #: a regression's target scales (its metrics are reported in the targets' units)
        self.target_scale = target_scale
        self.schedule = lr_schedule
        self._clip = (GradientClipping(network.xp, network.layers, clip_norm, clip_value)
                      if clip_norm is not None or clip_value is not None else None)
        self.network, self.optimizer, self.metrics, self.callbacks = network, optimizer, list(metrics), list(callbacks)
        self.partition = partition if partition is not None else parallel.Partition()
        self._sync: Callable[..., None] = lambda w_sum=None: None  # set by fit: the step's gradient sum
        # Only callbacks that override on_batch_end are called per batch.
        self._batch_callbacks = [cb for cb in self.callbacks
                                 if type(cb).on_batch_end is not Callback.on_batch_end]

    def fit(self, model: Any, data: Any, validation: Any, *, epochs: int, batch_size: int,
            shuffle_rng: Any, params: dict[str, Any], initial_epoch: int = 0) -> History:
        """Train for up to ``epochs`` epochs, numbered from ``initial_epoch`` + 1 (the epochs run
        before a warm start); returns the history (also on early stop)."""
        net, xp, be, part = self.network, self.network.xp, self.network.backend, self.partition
        layout = metrics_mod.EpochVector(self.metrics, net.n_outputs, validation is not None, self.target_scale,
                                         multilabel=net.loss.task == "multilabel")
        class_ids = xp.arange(net.n_outputs, dtype=be.index_dtype, device=be.device)
        history = History(params=params)
        self._sync = parallel.GradientSync(net, part.comm, self.weighted).step  # one process: does nothing
        shuffle_rng = part.shuffle_stream(shuffle_rng)
        fed = hasattr(data, "epoch")  # a feed: the rows come to the device in pieces, each epoch
        data, validation = Rows.of(data, net.n_inputs), None if validation is None else Rows.of(validation, net.n_inputs)
        if fed and part.size > 1:
            raise UsageError(f"expected one process to train on streamed data; received {part.size} processes "
                             "(hint: --no-stream, or a single process)")
        n_batches = -(-data.n_rows // batch_size) if fed else len(part.batches(data.n, batch_size))
        if validation is not None:  # the rows this process scores, and the divisor of their sums
            n_valid, (lo, hi) = part.total_rows(validation.n, 1), part.scored(validation.n)
            validation = validation[lo:hi]
        self._check_batches(data.n_rows if fed else part.total_rows(data.n, 1), batch_size)
        for layer in net.norm_layers:  # BatchNorm's statistics are the global batch's
            layer.reduce = part.comm.allreduce_ if part.size > 1 else Layer.reduce
        base_lr = self.optimizer.initial_learning_rate
        if isinstance(self.schedule, schedules.ReduceOnPlateau):
            self.schedule.start(base_lr, _larger_is_better(self.schedule.monitor, layout, validation is not None))
        for cb in self.callbacks:  # misconfiguration (e.g. early stopping without validation) fails here
            cb.on_train_begin(model, params)
        try:
            for epoch in range(initial_epoch + 1, initial_epoch + epochs + 1):
                last_good = net.copy_params()  # on the device: what a diverged epoch falls back to
                if self.schedule is not None:
                    self.optimizer.learning_rate = schedules.checked(
                        self.schedule.learning_rate(epoch - 1, base_lr), epoch - 1, self.schedule)
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch, n_batches)
                train_part = (self._train_pieces(data, batch_size, shuffle_rng, layout, class_ids) if fed
                              else self._train_epoch(data, batch_size, shuffle_rng, layout, class_ids))
                parts = [train_part] + ([self._score(validation, n_valid, layout, class_ids)]
                                        if validation is not None else [])
                epoch_vector = part.comm.allreduce_(xp.concat(parts + self._extra))  # sums over processes
                host = be.to_numpy(epoch_vector).tolist()  # the epoch's one read
                logs = layout.unpack(host)
                if self.schedule is not None:
                    logs["lr"] = self.optimizer.learning_rate  # Keras's key
                history.append(logs)
                bad = self._diverged(logs, host)
                if bad is not None:  # the same reduced values on every process: all stop
                    net.restore_params(last_good)
                    kept = f"the weights of epoch {epoch - 1}" if epoch > 1 else "its initial weights"
                    raise TrainingDiverged(f"expected a finite {bad[0]}; received {bad[1]} at epoch {epoch} "
                                           f"(the model keeps {kept}; hint: lower the learning rate, or use "
                                           "--dtype float64)")
                if self.schedule is not None:
                    self.schedule.observe(logs)
                stop = False
                for cb in self.callbacks:  # every callback sees every epoch, even after a stop vote
                    if cb.on_epoch_end(epoch, logs):
                        stop = True
                if stop:
                    history.stopped_epoch = epoch
                    break
        finally:
            for cb in self.callbacks:
                cb.on_train_end(history)
        return history

    _extra: list[Array] = []  # device values read after the epoch's parts (a stack's members' losses)

    def _diverged(self, logs: dict[str, float], host: list[float]) -> tuple[str, float] | None:
        """The epoch's first loss that is not finite (name, value), or None."""
        return next(((k, logs[k]) for k in ("loss", "val_loss") if k in logs and not math.isfinite(logs[k])), None)

    def _train_epoch(self, data: Rows, batch_size: int, shuffle_rng: Any,
                     layout: metrics_mod.EpochVector, class_ids: Array) -> Array:
        """One pass over ``data`` in a fresh random order; returns the packed training part
        (this process's share of the sums, each divided by the rows of all processes)."""
        net = self.network
        xp, be = net.xp, net.backend
        (n, d), (source, targets) = (data.n, net.n_inputs), data.sources()
        idx = be.asarray(shuffle_rng.permutation(n), be.index_dtype)
        loss_sum, self._weight_sum = (xp.zeros((), dtype=net.dtype, device=be.device) for _ in range(2))  # (and weights)
        noise: Any = None  # the input noise of the epoch's rows block[0]:block[1]
        block = mblock = (0, 0)
        masks: list[Any] = []  # the Dropout layers' masks of the rows mblock[0]:mblock[1]
        width = net.random_width()
        budget = HOST_MASK_VALUES if be.host_memory else MASK_VALUES
        mask_rows = max(budget // max(width, 1) // batch_size, 1) * batch_size
        bce = None
        # each batch's predicted classes (or outputs), in the epoch's order; counted at its end
        records = metrics_mod.Records(layout, xp, n, net.n_outputs, net.dtype, be.index_dtype, be.device)
        for b, (lo, hi, rows) in enumerate(self.partition.batches(n, batch_size)):
            xb, yb = net.gather(source, idx[lo:hi], targets)
            if self.noise:
                while hi > block[1]:  # the next rows' noise, drawn in order (the same numbers as at once)
                    block = (block[1], min(block[1] + max(NOISE_VALUES // d // batch_size, 1) * batch_size, n))
                    noise = self._noise(block[1] - block[0], d)
                xb = xb + noise[lo - block[0]:hi - block[0], :]
            if width:
                while hi > mblock[1]:  # the next rows' masks, drawn in the epoch's row order
                    mblock = (mblock[1], min(mblock[1] + mask_rows, n))
                    masks = self._masks(mblock[1] - mblock[0])
                net.use_masks([m[lo - mblock[0]:hi - mblock[0], :] for m in masks])
            loss, z, nll = self._step(xb, yb, rows, b, layout.bce)
            loss_sum += loss  # in place: a step allocates nothing on a fast backend
            records.add(lo, hi, z)
            if nll is not None:
                bce = nll if bce is None else bce + nll
        cm = records.sums(xp.take(data.t[:, :net.n_outputs], idx, axis=0), class_ids) if layout.records else None
        n = self.partition.total_rows(n)
        if (layout.regression or layout.multilabel) and cm is not None:
            cm = cm / n
        return layout.pack(xp, loss_sum / self._divisor(n), cm, None if bce is None else bce / n)

    def _train_pieces(self, feed: Any, batch_size: int, shuffle_rng: Any, layout: metrics_mod.EpochVector,
                      class_ids: Array) -> Array:
        """``_train_epoch`` on a feed: the epoch's rows arrive as device pieces, already in their
        shuffled order (and with their input noise); each batch is a slice of one piece."""
        net = self.network
        xp, be, d = net.xp, net.backend, net.n_inputs
        loss_sum, self._weight_sum = (xp.zeros((), dtype=net.dtype, device=be.device) for _ in range(2))  # (and weights)
        bce = cm = None
        b = 0
        width = net.random_width()
        for piece, noise in feed.epoch(shuffle_rng, batch_size, self.noise, self.noise_rng, d):
            m = piece.shape[0]
            masks = self._masks(m) if width else []  # the piece's rows, in their order
            records = metrics_mod.Records(layout, xp, m, net.n_outputs, net.dtype, be.index_dtype, be.device)
            for lo in range(0, m, batch_size):
                hi = min(lo + batch_size, m)
                xb, yb = piece[lo:hi, :d], piece[lo:hi, d:]
                if noise is not None:
                    xb = xb + noise[lo:hi, :]
                if width:
                    net.use_masks([mk[lo:hi, :] for mk in masks])
                loss, z, nll = self._step(xb, yb, hi - lo, b, layout.bce)
                loss_sum += loss
                records.add(lo, hi, z)
                if nll is not None:
                    bce = nll if bce is None else bce + nll
                b += 1
            if layout.records:
                counts = records.sums(piece[:, d:d + net.n_outputs], class_ids)
                cm = counts if cm is None else cm + counts
        n = feed.n_rows
        if (layout.regression or layout.multilabel) and cm is not None:
            cm = cm / n
        return layout.pack(xp, loss_sum / self._divisor(n), cm, None if bce is None else bce / n)

    def _step(self, xb: Array, yb: Array, rows: int, b: int, bce: bool) -> tuple[Array, Array, Array | None]:
        """One training step on a batch: forward/backward, the gradient sum over processes (one
        process: nothing), the update, the batch callbacks. Returns (summed loss, logits, the
        batch's clipped BCE sum when ``bce``)."""
        k, w_sum = self.network.n_outputs, None
        if self.weighted:  # [targets | weight]: the last column weighs the row in the batch's loss
            wb, yb = yb[:, k], yb[:, :k]  # W processes: the summed loss's gradient, divided in the sync
            loss, z = self.network.train_step(xb, yb, rows, weights=wb, weight_divisor=1.0 if self.partition.size > 1
                                              else None)
            w_sum = self.network.xp.sum(wb)
            self._weight_sum += w_sum
        else:
            loss, z = self.network.train_step(xb, yb, rows)
        self._sync(w_sum)
        if self._clip is not None:
            self._clip()
        self.optimizer.step()
        nll = losses.clipped_nll_sum(self.network.xp, z, yb) if bce else None
        for cb in self._batch_callbacks:
            cb.on_batch_end(b)
        return loss, z, nll

    def _divisor(self, n: int) -> Any:
        """What the epoch's summed loss is divided by: its rows (of all processes), or the sum of their weights."""
        if not self.weighted or self.partition.size == 1:
            return self._weight_sum if self.weighted else n
        return self.partition.comm.allreduce_(self.network.xp.reshape(self._weight_sum, (1,)))[0]

    def _noise(self, n: int, d: int, rng: Any = None) -> Array:
        """Input noise for the next ``n`` rows of the epoch's order (from ``rng``, default the
        noise stream), sent in one transfer (a block of about ``NOISE_VALUES`` values)."""
        drawn = (self.noise_rng if rng is None else rng).standard_normal((n, d))
        drawn *= self.noise  # in place: the same numbers, a block less memory
        return self.network.backend.asarray(drawn, self.network.dtype)

    def _masks(self, rows: int, net: Any = None, rng: Any = None) -> list[Array]:
        """``net``'s (the trained network's) Dropout masks of the next ``rows`` rows, from ``rng`` (the dropout stream)."""
        net, rng = net or self.network, self.dropout_rng if rng is None else rng
        if rng is None:
            raise ValueError("expected a dropout stream (dropout_rng) for a network with Dropout layers; received none")
        return [net.backend.asarray(m, net.dtype) for m in net.host_masks(rng, rows)]

    def _check_batches(self, n: int, batch_size: int) -> None:
        """BatchNorm needs >= 2 rows in every batch (the global batch's, in data parallelism)."""
        last = n % batch_size or batch_size
        if self.network.norm_layers and min(batch_size, last, n) < 2:
            raise ValueError(f"expected batches of at least 2 rows to train BatchNorm; received {n} rows in batches of "
                             f"{batch_size}, the last of {min(last, n)} (PyTorch refuses it too; hint: a batch size "
                             "that leaves no batch of one row)")

    def _score(self, part: Rows, n: int, layout: metrics_mod.EpochVector, class_ids: Array) -> Array:
        """Loss and metrics of the current weights on the rows ``part``, packed (sums divided by
        ``n``, the rows of the part on all processes)."""
        net, xp = self.network, self.network.xp
        sums: list[Any] = [None, None, None]  # loss, confusion counts, bce: sums over blocks
        for lo in range(0, max(part.n, 1), SCORE_ROWS):  # in blocks: one block's logits at a time
            rows = part[lo:min(lo + SCORE_ROWS, part.n)]
            z, y = net.logits(rows.x), rows.t
            records = (metrics_mod.device_confusion(xp, xp.argmax(z, axis=1), y, class_ids) if layout.confusion
                       else metrics_mod.regression_sums(xp, z, y) if layout.regression
                       else metrics_mod.multilabel_sums(xp, xp.astype(z > 0, z.dtype), y) if layout.multilabel else None)
            block = (net.loss.value(xp, z, y), records, losses.clipped_nll_sum(xp, z, y) if layout.bce else None)
            sums = [b if a is None else a + b for a, b in zip(sums, block)]
        loss, cm, bce = sums
        if (layout.regression or layout.multilabel) and cm is not None:
            cm = cm / n
        return layout.pack(xp, loss / n, cm, None if bce is None else bce / n)


def _larger_is_better(monitor: str, layout: metrics_mod.EpochVector, validation: bool) -> bool:
    """The direction of a plateau schedule's monitor, which the fit must compute."""
    known = ["loss"] + layout.metrics + (["val_loss"] + [f"val_{m}" for m in layout.metrics] if validation else [])
    if monitor not in known:
        hint = " (hint: validation_data, or monitor='loss')" if monitor.startswith("val_") and not validation else ""
        raise ValueError(f"expected ReduceOnPlateau to monitor one of {', '.join(known)}; received {monitor!r}{hint}")
    return bool(metrics_mod.get(monitor).larger_is_better)
