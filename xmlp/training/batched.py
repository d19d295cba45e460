"""``BatchedTrainer``: the epoch loop of an ensemble trained as one ``nn.stack.Stack``. Each step
takes every member's own batch (its permutation, its input noise, its Dropout masks, drawn from
its own streams exactly as ``Trainer`` draws them for one network) in one gather, runs one batched
forward and backward and one optimizer update of all members' parameters. The epoch's logs are
the first member's, as when the members train one after another; the finiteness of every
member's losses is read with them (one host read per epoch)."""

from __future__ import annotations

import copy
import math
from typing import Any, Sequence

from .._types import Array
from ..nn import losses
from ..nn.stack import Stack, unstackable
from . import metrics as metrics_mod
from .rows import Rows
from .trainer import HOST_MASK_VALUES, MASK_VALUES, NOISE_VALUES, SCORE_ROWS, Trainer


class _Members:
    """The fitted model as the callbacks see it during a stacked fit: its ``network`` is the
    stack, so that early stopping keeps and restores the best weights of every member."""

    def __init__(self, model: Any, stack: Stack):
        self._model, self.network = model, stack

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class BatchedTrainer(Trainer):
    """``BatchedTrainer(stack, member_optimizers, noise_rngs=…, dropout_rngs=…, …)``: ``Trainer``'s
    options, with one optimizer, noise stream and dropout stream per member; ``fit`` takes one
    shuffling stream per member and leaves every member's weights and optimizer state as K
    separate fits would (to rounding), with two differences: after early stopping every member
    has run to the first member's stop (its weights those of the best epoch, its optimizer and
    streams those of the stop, as the first member's always were), and a member that diverges
    stops all of them at the epoch before. Callbacks see the members' weights at each epoch's end
    (``model.members``); ``model.network`` is the stack while it trains."""

    def __init__(self, stack: Stack, optimizers: Sequence[Any], *, noise_rngs: Sequence[Any] = (),
                 dropout_rngs: Sequence[Any] = (), clip_norm: float | None = None, clip_value: float | None = None,
                 **options: Any):
        opt = copy.copy(optimizers[0])
        opt.build(stack.xp, stack.optimizer_parts(opt))
        stack.gather_state(opt, optimizers)
        super().__init__(stack, opt, **options)  # type: ignore[arg-type]  # (a Stack has the face the loop uses)
        self.member_optimizers = list(optimizers)
        self.noise_rngs, self.dropout_rngs = list(noise_rngs), list(dropout_rngs)
        self._clipping = (clip_norm, clip_value) if clip_norm is not None or clip_value is not None else None
        self._extra = []

    def fit(self, model: Any, data: Any, validation: Any, **kw: Any) -> Any:
        stack: Stack = self.network  # type: ignore[assignment]
        try:
            return super().fit(_Members(model, stack), data, validation, **kw)
        finally:  # (also after a diverged epoch: the members keep the weights it fell back to)
            stack.scatter()
            stack.scatter_state(self.optimizer, self.member_optimizers)

    def _diverged(self, logs: dict[str, float], host: list[float]) -> tuple[str, float] | None:
        bad = super()._diverged(logs, host)
        extra = host[len(host) - len(self._extra):]
        if bad is None and not all(math.isfinite(v) for v in extra):
            which = "loss" if not math.isfinite(extra[0]) else "val_loss"
            return f"{which} of every ensemble member", math.nan
        return bad

    def _train_epoch(self, data: Rows, batch_size: int, shuffle_rng: Any, layout: metrics_mod.EpochVector,
                     class_ids: Array) -> Array:
        """``Trainer._train_epoch`` for every member at once (``shuffle_rng``: one per member)."""
        net: Stack = self.network  # type: ignore[assignment]
        xp, be, k = net.xp, net.backend, net.k
        (n, d, c), (source, targets) = (data.n, net.n_inputs, net.n_outputs), data.sources()
        idx = xp.stack([be.asarray(rng.permutation(n), be.index_dtype) for rng in shuffle_rng])
        order = _batch_major(xp, idx, batch_size)  # batch j's rows of every member: one slice
        total = xp.zeros((), dtype=net.dtype, device=be.device)  # every member's summed loss
        first = xp.empty((n, c), dtype=net.dtype, device=be.device)  # the first member's logits
        noise: Any = None
        block = mblock = (0, 0)
        masks: list[Any] = []
        width = net.members[0].random_width()
        budget = HOST_MASK_VALUES if be.host_memory else MASK_VALUES
        mask_rows = max(budget // max(width * k, 1) // batch_size, 1) * batch_size
        for b, (lo, hi, rows) in enumerate(self.partition.batches(n, batch_size)):
            xb, yb = net.take(source, order[k * lo:k * hi], hi - lo, targets)
            if self.noise:
                while hi > block[1]:  # each member's next rows' noise, from its own stream
                    block = (block[1], min(block[1] + max(NOISE_VALUES // (d * k) // batch_size, 1) * batch_size, n))
                    noise = self._member_noise(block[1] - block[0], d)
                xb = xb + noise[:, lo - block[0]:hi - block[0], :]
            if width:
                while hi > mblock[1]:
                    mblock = (mblock[1], min(mblock[1] + mask_rows, n))
                    masks = self._member_masks(mblock[1] - mblock[0])
                net.masks = [m[:, lo - mblock[0]:hi - mblock[0], :] for m in masks]
            if self.weighted:  # [targets | weight]: each member's rows weigh in its own batch's mean
                loss, z = net.train_step(xb, yb[:, :, :c], rows, weights=yb[:, :, c])
            else:
                loss, z = net.train_step(xb, yb, rows)
            self._sync()
            if self._clipping is not None:
                net.clip(*self._clipping)
            self.optimizer.step()
            total += loss
            first[lo:hi, :] = z[0, ...]
            for cb in self._batch_callbacks:
                cb.on_batch_end(b)
        if self.callbacks:  # the members as the callbacks see them at the epoch's end
            net.scatter()
        y = xp.take(data.t[:, :c], idx[0, :], axis=0)
        w = xp.take(data.t[:, c], idx[0, :], axis=0) if self.weighted else None  # the first member's rows' weights
        n = self.partition.total_rows(n)
        self._extra = [xp.reshape(total / n, (1,))]  # (only its finiteness is read)
        return self._pack(layout, first, y, n, class_ids, w)

    def _pack(self, layout: metrics_mod.EpochVector, z: Array, y: Array, n: int, class_ids: Array,
              w: Array | None = None) -> Array:
        """The first member's packed part from its logits ``z`` of the rows ``y`` (sums over n rows;
        with the rows' weights ``w``, the loss is their weighted mean, as ``Trainer``'s)."""
        xp, net = self.network.xp, self.network
        cm = None
        if layout.records:
            records = metrics_mod.Records(layout, xp, z.shape[0], net.n_outputs, net.dtype, net.backend.index_dtype,
                                          net.backend.device)
            records.add(0, z.shape[0], z)
            cm = records.sums(y, class_ids)
            if cm is not None and (layout.regression or layout.multilabel):
                cm = cm / n
        bce = losses.clipped_nll_sum(xp, z, y) / n if layout.bce else None
        loss = net.loss.value(xp, z, y) / n if w is None else net.loss.weighted(xp, z, y, w)[0] / xp.sum(w)
        return layout.pack(xp, loss, cm, bce)

    def _member_noise(self, rows: int, d: int) -> Array:
        """(K, rows, d) input noise of the next rows: member k's from its own stream (``_noise``)."""
        return self.network.xp.stack([self._noise(rows, d, rng) for rng in self.noise_rngs])

    def _member_masks(self, rows: int) -> list[Array]:
        """Each Dropout layer's (K, rows, width) masks: member k's drawn from its own stream."""
        net: Stack = self.network  # type: ignore[assignment]
        if len(self.dropout_rngs) != net.k:
            raise ValueError(f"expected a dropout stream per member ({net.k}) for a network with Dropout layers; "
                             f"received {len(self.dropout_rngs)}")
        drawn = [self._masks(rows, member, rng) for member, rng in zip(net.members, self.dropout_rngs)]
        return [net.xp.stack([m[j] for m in drawn]) for j in range(len(drawn[0]))]

    def _score(self, part: Rows, n: int, layout: metrics_mod.EpochVector, class_ids: Array) -> Array:
        """The first member's validation part, packed; every member's summed loss beside it."""
        net: Stack = self.network  # type: ignore[assignment]
        xp, k = net.xp, net.k
        firsts: list[Array] = []
        every: Any = None
        for lo in range(0, max(part.n, 1), SCORE_ROWS):
            rows = part[lo:min(lo + SCORE_ROWS, part.n)]
            z, y = net.logits(rows.x), rows.t
            firsts.append(z[0, ...])
            m, c = z.shape[1], z.shape[2]
            s = net.loss.value(xp, xp.reshape(z, (k * m, c)), xp.reshape(xp.broadcast_to(y, (k, m, c)), (k * m, c)))
            every = s if every is None else every + s
        self._extra.append(xp.reshape(every / n, (1,)))
        z0 = firsts[0] if len(firsts) == 1 else xp.concat(firsts)
        return self._pack(layout, z0, part.t, n, class_ids)


def _batch_major(xp: Any, idx: Array, batch_size: int) -> Array:
    """The (K, n) permutations reordered so that batch j's rows of every member (member 0's,
    then member 1's, …) are the slice [K * lo, K * hi) of one index array."""
    k, n = idx.shape
    full = n // batch_size * batch_size
    head = xp.reshape(xp.permute_dims(xp.reshape(idx[:, :full], (k, n // batch_size, batch_size)), (1, 0, 2)), (-1,))
    return xp.concat([head, xp.reshape(idx[:, full:], (-1,))]) if full < n else head


def stack_for(members: Sequence[Any], data: Any, partition: Any, weighted: bool, schedule: Any,
              optimizers: Sequence[Any] = ()) -> Stack | None:
    """A stack of an ensemble's built members where one can train them all at once, else None
    (the members then train one after another): one process, not sharded, device rows (not a
    feed), a schedule that does not watch each member's own logs, xmlp's own
    optimizers (element-wise updates: a subclass's ``_update`` may not be, and would see every
    member's parameters as one) at the same step, and layers the stack has (``nn.stack.unstackable``)."""
    from ..optim.optimizers import SGD, Adam, RMSprop
    from ..optim.schedules import ReduceOnPlateau

    if len(members) < 2 or hasattr(data, "epoch") or partition.size > 1 or partition.sharded \
            or isinstance(schedule, ReduceOnPlateau) or unstackable(members) is not None \
            or len({opt.iterations for opt in optimizers}) > 1 \
            or any(type(opt) not in (SGD, RMSprop, Adam) for opt in optimizers):
        return None
    stack = Stack(members)
    return stack if stack.aliases() else None
