"""Data parallelism inside the epoch loop, without MPI: threads stand in for processes
(``helpers.ThreadGroup``: collectives meet at a barrier and sum in rank order). The MPI runs of
the same code are in test_distributed.py."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp.backends import comm as _comm

Communicator = _comm.Communicator
from helpers import ThreadGroup

from xmlp import Dense, Sequential
from xmlp.data.shards import merge, moments, scaling, shard_range
from xmlp.training.parallel import GradientSync, Partition

# Why rtol 1e-12 for W processes against one (float64): a step's gradient is the same sum of
# per-row terms, added in another order (each process sums its slice, then the all-reduce adds
# the slices), so it differs by a few ulps (~1e-16 relative); SGD and Adam carry such
# perturbations through 5 epochs x 57 steps without amplifying them much: measured 1e-16 on the
# metrics and <= 3e-13 on any single weight. A real fault (a slice counted twice or not at
# all, a gradient divided by the local instead of the global batch) is off by 1e-3 or more.
RTOL = 1e-12


def _model(backend="numpy"):
    return Sequential([Dense(24, "tanh"), Dense(24, "tanh"), Dense(2, "softmax")], backend=backend, dtype="float64")


def _fit(split, partition=None, optimizer="sgd", backend="numpy", epochs=5, batch_size=8):
    xt, yt, xv, yv = split
    model = _model(backend)
    model.fit(xt, yt, validation_data=(xv, yv), epochs=epochs, batch_size=batch_size, seed=3, optimizer=optimizer,
              metrics=["accuracy", "f1", "bce"], partition=partition)
    return model


def _assert_same(a, b, rtol=RTOL):
    assert list(a.history.history) == list(b.history.history)
    for key, values in a.history.history.items():
        np.testing.assert_allclose(values, b.history.history[key], rtol=rtol, atol=0, err_msg=key)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        for k in wa:
            np.testing.assert_allclose(wa[k], wb[k], rtol=rtol, atol=0, err_msg=k)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_exact_batches_cover_every_row_once(size):
    for n, batch in ((455, 8), (10, 4), (3, 8), (7, 1)):
        parts = [Partition(_Rank(r, size)).batches(n, batch) for r in range(size)]
        assert len({len(p) for p in parts}) == 1  # the same number of steps: the collectives match
        for step in zip(*parts):
            rows = step[0][2]
            assert all(s[2] == rows for s in step)  # the same divisor everywhere: the global batch's rows
            assert [s[1] - s[0] for s in step] and sum(s[1] - s[0] for s in step) == rows
            assert all(step[i][1] == step[i + 1][0] for i in range(size - 1))  # contiguous slices, in rank order
        covered = sorted(i for p in parts for lo, hi, _ in p for i in range(lo, hi))
        assert covered == list(range(n))


def test_sharded_batches_take_the_same_number_of_steps():
    sizes = [(228, 57), (227, 57), (100, 10)]
    parts = [Partition(_Rank(r, 3), shard_rows=sizes).batches(sizes[r][0], 8) for r in range(3)]
    assert len(parts[0]) == len(parts[1]) == len(parts[2]) == -(-555 // 8)
    for r, p in enumerate(parts):  # each shard's permutation is covered once, in order
        assert p[0][0] == 0 and p[-1][1] == sizes[r][0] and all(p[i][1] == p[i + 1][0] for i in range(len(p) - 1))
    for step in zip(*parts):  # the step's rows on all processes are the divisor, about the batch size
        assert step[0][2] == sum(s[1] - s[0] for s in step) and 6 <= step[0][2] <= 10
    assert Partition(_Rank(0, 3), shard_rows=sizes).total_rows(228) == 555


def test_one_process_has_no_gradient_buffer(split):
    model = _fit(split, epochs=1)
    sync = GradientSync(model.network, Communicator())
    assert not hasattr(sync, "flat")  # nothing allocated, nothing copied: the plain run is unchanged
    assert sync.step() is None


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_processes_reproduce_one(split, optimizer):
    """Exact mode: each 'process' computes half of every batch; one all-reduce per step sums."""
    one = _fit(split, optimizer=optimizer)
    models = ThreadGroup(2).run(lambda comm: (_fit(split, Partition(comm), optimizer), comm.stats))
    for model, stats in models:
        _assert_same(model, one)
        steps = -(-len(split[1]) // 8)
        # One gradient all-reduce per step, one for the epoch's metrics: nothing else.
        assert stats.allreduce == 5 * (steps + 1)
    (a, _), (b, _) = models
    _assert_same(a, b, rtol=0)  # and every process holds the same bits


def test_early_stopping_decides_alike_on_every_process(split):
    """The reduced validation loss is the same on every process: they all stop at one epoch and
    restore the same best weights."""
    def fit(partition=None):
        model = _model()
        xt, yt, xv, yv = split
        model.fit(xt, yt, validation_data=(xv, yv), epochs=30, seed=3, learning_rate=0.3, partition=partition,
                  early_stopping=xmlp.EarlyStopping(patience=1, min_delta=0.01))
        return model

    one = fit()
    assert one.history.stopped_epoch is not None and one.history.stopped_epoch < 30
    for model in ThreadGroup(2).run(lambda comm: fit(Partition(comm))):
        assert (model.history.stopped_epoch, model.history.best_epoch) == (one.history.stopped_epoch,
                                                                           one.history.best_epoch)
        _assert_same(model, one)


def test_batches_smaller_than_the_processes(split):
    """Batch 1 on 2 processes: process 1 computes no row at all, and still takes every step."""
    one = _fit(split, epochs=1, batch_size=1)
    for model in ThreadGroup(2).run(lambda comm: _fit(split, Partition(comm), epochs=1, batch_size=1)):
        _assert_same(model, one)


def test_three_processes_on_strict_device1(split):
    """The flat buffer and its views on the strictest backend (and uneven slices: 8 = 3+3+2)."""
    one = _fit(split, backend="strict:device1", epochs=2)
    models = ThreadGroup(3).run(lambda comm: _fit(split, Partition(comm), backend="strict:device1", epochs=2))
    for model in models:
        _assert_same(model, one)


def test_gradient_sync_without_aliasing_views(split, monkeypatch):
    """Where a reshaped slice is a copy, each step reshapes afresh: the same result."""
    one = _fit(split, epochs=2)
    original = GradientSync.__init__

    def no_alias(self, network, comm, weighted=False):
        original(self, network, comm, weighted)
        self.aliased = False

    xt, yt, _, _ = split
    w = np.linspace(0.0, 2.0, len(yt))
    weighted = _model()
    weighted.fit(xt, yt, epochs=2, seed=3, sample_weight=w)
    monkeypatch.setattr(GradientSync, "__init__", no_alias)
    for model in ThreadGroup(2).run(lambda comm: _fit(split, Partition(comm), epochs=2)):
        _assert_same(model, one)

    def fit_weighted(comm):
        model = _model()
        model.fit(xt, yt, epochs=2, seed=3, sample_weight=w, partition=Partition(comm))
        return model

    for model in ThreadGroup(2).run(fit_weighted):  # the weights' sum scales the copied-back gradients too
        _assert_same(model, weighted)


def test_sharded_fit_reaches_the_single_process_accuracy(split):
    """Sharded mode: each 'process' holds half of the rows; the classes and standardisation are
    those of all rows (merged moments), the gradients summed every step."""
    xt, yt, xv, yv = split
    parts = [(shard_range(len(yt), r, 2), shard_range(len(yv), r, 2)) for r in range(2)]
    merged = scaling(merge(moments(xt[slice(*p[0])]) for p in parts))
    rows = [(p[0][1] - p[0][0], p[1][1] - p[1][0]) for p in parts]

    def work(comm):
        (a, b), (c, d) = parts[comm.rank]
        model = _model()
        model.fit(xt[a:b], yt[a:b], validation_data=(xv[c:d], yv[c:d]), epochs=30, seed=3,
                  partition=Partition(comm, shard_rows=rows, classes=["B", "M"], scaling=merged))
        return model

    models = ThreadGroup(2).run(work)
    assert models[0].history.history == models[1].history.history  # one history: the reduced one
    assert models[0].history.history["val_accuracy"][-1] >= 0.95
    np.testing.assert_allclose(models[0].standardizer.mean, xt.mean(axis=0), rtol=1e-12)
    for wa, wb in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(wa["weight"], wb["weight"])


class _Rank(Communicator):
    """A communicator that only knows its place (for the row arithmetic)."""

    def __init__(self, rank, size):
        super().__init__()
        self.rank, self.size = rank, size



def test_two_processes_reproduce_one_regression(wdbc):
    """A regression in exact mode: the per-row outputs each process computed (the others weigh 0)
    sum to the one process's metrics; weights as one process's, to RTOL (see above)."""
    x, _, _ = wdbc
    target = x[:, 0] * 3.0 + x[:, 1]  # a numeric target from the data itself

    def fit(partition=None):
        model = Sequential([Dense(16, "tanh"), Dense(1, "linear")], task="regression", dtype="float64")
        model.fit(x[:450], target[:450], validation_data=(x[450:], target[450:]), epochs=4, batch_size=16, seed=5,
                  metrics=["mse", "rmse", "mae", "r2"], partition=partition, optimizer="adam")
        return model

    one = fit()
    for model in ThreadGroup(2).run(lambda comm: fit(Partition(comm))):
        _assert_same(model, one)


@pytest.mark.parametrize("backend", ["numpy", "strict:device1"])
def test_weighted_exact_mode_reproduces_one_process(split, backend):
    """Sample and class weights in exact mode: each process's gradient of Σ wℓ over its slice, the
    slices' Σ w in the same all-reduce, the sum divided by the global batch's Σ w: one process's
    weighted mean, to RTOL (see above); one more all-reduce per epoch (the loss's Σ w)."""
    xt, yt, xv, yv = split
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(yt))
    w[:40] = 0.0  # whole slices of zero weight: their share of the sum is 0, not 0/0

    def fit(partition=None):
        model = _model(backend)
        model.fit(xt, yt, validation_data=(xv, yv), epochs=3, seed=3, optimizer="adam", partition=partition,
                  sample_weight=w, class_weight="balanced", metrics=["accuracy"])
        return model

    one = fit()
    for model, stats in ThreadGroup(2).run(lambda comm: (fit(Partition(comm)), comm.stats)):
        _assert_same(model, one)
        assert stats.allreduce == 3 * (-(-len(yt) // 8) + 2)


def test_weighted_sharded_full_batches_equal_one_process(split):
    """Sharded mode, one batch of every row per step: the step's gradient is the weighted mean over
    all shards' rows (the global Σ w), so W shards train as one process on all rows; "balanced"
    class weights count every shard's rows."""
    xt, yt, _, _ = split
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(yt))
    kw = dict(epochs=4, batch_size=len(yt), seed=3, optimizer="adam", metrics=[], class_weight="balanced")
    one = _model()
    one.fit(xt, yt, sample_weight=w, **kw)
    parts = [shard_range(len(yt), r, 2) for r in range(2)]
    merged = scaling(merge(moments(xt[slice(*p)]) for p in parts))
    rows = [(b - a, 0) for a, b in parts]

    def work(comm):
        a, b = parts[comm.rank]
        model = _model()
        model.fit(xt[a:b], yt[a:b], sample_weight=w[a:b],
                  partition=Partition(comm, shard_rows=rows, classes=["B", "M"], scaling=merged), **kw)
        return model

    for model in ThreadGroup(2).run(work):
        # the same rows and weights in one step; the sums in another order, and merged moments
        # instead of one pass for the standardisation (~1e-16 relative): RTOL
        np.testing.assert_allclose(model.history.history["loss"], one.history.history["loss"], rtol=RTOL)
        for wa, wb in zip(model.get_weights(), one.get_weights()):
            np.testing.assert_allclose(wa["weight"], wb["weight"], rtol=RTOL, atol=1e-15)


def test_sharded_regression_scales_targets_of_all_shards_and_full_batches_equal_one_process(wdbc):
    """Sharded regression: the targets' mean and std merged from every shard's moments (the scaling
    of all the rows), so full batches train as one process on all rows; without the merged
    moments a shard would scale its own targets: refused."""
    x, _, _ = wdbc
    target = np.stack([x[:, 0] * 3.0 + x[:, 1], x[:, 2]], axis=1)
    kw = dict(epochs=4, batch_size=len(x), seed=5, optimizer="adam", metrics=["r2"])

    def model():
        return Sequential([Dense(16, "tanh"), Dense(2, "linear")], task="regression", dtype="float64")

    one = model()
    one.fit(x, target, **kw)
    parts = [shard_range(len(x), r, 2) for r in range(2)]
    features = scaling(merge(moments(x[slice(*p)]) for p in parts))
    n, mean, m2 = merge(moments(target[slice(*p)]) for p in parts)

    def work(comm):
        a, b = parts[comm.rank]
        m = model()
        m.fit(x[a:b], target[a:b], partition=Partition(comm, shard_rows=[(q - p, 0) for p, q in parts],
                                                       scaling=features, targets=(mean, np.sqrt(m2 / n))), **kw)
        return m

    for m in ThreadGroup(2).run(work):
        # merged moments against NumPy's one pass, and the same rows in one step summed in another order: RTOL
        np.testing.assert_allclose(m.encoder.mean, one.encoder.mean, rtol=RTOL)
        np.testing.assert_allclose(m.encoder.scale, one.encoder.scale, rtol=RTOL)
        np.testing.assert_allclose(m.history.history["loss"], one.history.history["loss"], rtol=RTOL)
        for wa, wb in zip(m.get_weights(), one.get_weights()):
            np.testing.assert_allclose(wa["weight"], wb["weight"], rtol=RTOL, atol=1e-15)

    def unmerged(comm):
        model().fit(x[:10], target[:10], partition=Partition(comm, shard_rows=[(10, 0), (10, 0)], scaling=features),
                    epochs=1)

    with pytest.raises(ValueError, match=r"expected the targets' mean and std of all shards \(Partition\(targets=…\)\)"):
        ThreadGroup(2).run(unmerged)
