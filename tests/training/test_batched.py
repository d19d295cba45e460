"""``training.batched``: an ensemble trained as one stack ends where K separate fits with the same
seeds end — weights, optimizer state, the per-epoch history — on every backend, for every
option the stack takes; what it does not take trains member by member."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp.errors import TrainingDiverged
from xmlp.training import batched

# Float64 results of the stack and of separate fits differ only by the summation order of the
# batched matrix products and of the epoch's loss (summed once over the epoch, not per batch):
# a few ulps per step (observed <= 4e-16 after 5 epochs of the 42 setup). 1e-10 leaves room for
# that to grow over 3-4 epochs of 40 steps, and is far below any real difference (a wrong mask,
# row or seed changes weights by ~1e-3).
TOL = 1e-10
_REAL = batched.stack_for

CASES = {
    "sgd": dict(optimizer="sgd"),
    "adam-noise": dict(optimizer="adam", input_noise=0.2),
    "nesterov-clip-norm": dict(optimizer="nesterov", clip_norm=0.5),
    "rmsprop-clip-value": dict(optimizer="rmsprop", clip_value=0.05),
    "adamw-cosine": dict(optimizer="adamw", lr_schedule=xmlp.CosineDecay(4, warmup=1)),
    "dropout": dict(optimizer="adam", layers=lambda: [xmlp.Dense(12, "relu"), xmlp.Dropout(0.3),
                                                      xmlp.Dense(2, "softmax")]),
    "layernorm-gelu": dict(optimizer="adam", layers=lambda: [xmlp.Dense(12, "linear"), xmlp.LayerNorm(),
                                                             xmlp.Activation("gelu"), xmlp.Dense(2, "softmax")]),
    # each member's batch mean Σwℓ/Σw over its own rows (zero weights too: a batch of them divides by 1)
    "weighted": dict(optimizer="adam", sample_weight=np.r_[np.zeros(20), np.linspace(0.2, 3.0, 100)],
                     class_weight="balanced"),
    # 110 of 120 weights 0: a shuffled batch of 16 is all zeros with probability ~(110/120)^16 = 0.25, so
    # ~24 of the 96 member batches (3 members x 8 batches x 4 epochs) sum to 0 (none: probability < 1e-11)
    "weighted-zero-batches": dict(optimizer="adam", sample_weight=np.r_[np.zeros(110), np.linspace(1.0, 2.0, 10)]),
}


def _fit(backend, data, stacked, monkeypatch, ensemble=3, epochs=4, layers=None, task=None, **kw):
    calls: list = []
    monkeypatch.setattr(batched, "stack_for", lambda *a: calls.append(_REAL(*a)) or calls[-1] if stacked else None)
    x, y, xv, yv = data
    out = {None: "softmax", "regression": "linear", "multilabel": "sigmoid"}[task]
    layers = layers or (lambda: [xmlp.Dense(12, "tanh"), xmlp.Dense(2 if task is None else y.shape[1], out)])
    model = xmlp.Sequential(layers(), backend=backend, dtype="float64", ensemble=ensemble, task=task)
    history = model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=16, seed=7, **kw)
    assert bool(calls and calls[0] is not None) == stacked  # the stack really trained (or really did not)
    return model, history


def _data(split, n=120):
    xt, yt, xv, yv = split
    return xt[:n], yt[:n], xv[:40], yv[:40]


def assert_same_fit(a, b, state=True):
    (ma, ha), (mb, hb) = a, b
    assert ha.history.keys() == hb.history.keys()
    for key in ha.history:
        np.testing.assert_allclose(ha.history[key], hb.history[key], rtol=0, atol=TOL, err_msg=key)
    for k, (na, nb) in enumerate(zip(ma.members, mb.members)):
        for i, (wa, wb) in enumerate(zip(na.get_weights(), nb.get_weights())):
            for key in wa:
                np.testing.assert_allclose(wa[key], wb[key], rtol=0, atol=TOL, err_msg=f"member {k}, {i}.{key}")
    if not state:
        return
    da, ta = ma.training_state.file_data()
    db, tb = mb.training_state.file_data()
    assert da == db  # step counts, generators' states, epochs
    for key in ta:
        np.testing.assert_allclose(ta[key], tb[key], rtol=0, atol=TOL, err_msg=key)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_stacked_ensemble_equals_separate_fits(backend64, split, monkeypatch, case):
    data = _data(split)
    assert_same_fit(_fit(backend64, data, True, monkeypatch, **CASES[case]),
                    _fit(backend64, data, False, monkeypatch, **CASES[case]))


def test_float32_stays_close_to_separate_fits(split, monkeypatch):
    data = _data(split)
    a, _ = _fit("numpy", data, True, monkeypatch, optimizer="adam")
    b, _ = _fit("numpy", data, False, monkeypatch, optimizer="adam")
    for na, nb in zip(a.members, b.members):
        for wa, wb in zip(na.get_weights(), nb.get_weights()):
            for key in wa:
                # float32 rounding (6e-8 relative) per step, over 32 Adam steps of weights ~0.3
                np.testing.assert_allclose(wa[key], wb[key], rtol=0, atol=1e-5)


@pytest.mark.parametrize("task", ["regression", "multilabel"])
def test_other_tasks_stack_too(backend64, rng, monkeypatch, task):
    x = rng.normal(size=(90, 5))
    y = x[:, :2] @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(90, 3))
    if task == "multilabel":
        y = (y > 0).astype(np.int64)
    data = (x[:70], y[:70], x[70:], y[70:])
    runs = [_fit(backend64, data, stacked, monkeypatch, task=task, optimizer="adam", clip_norm=1.0)
            for stacked in (True, False)]
    assert_same_fit(*runs)
    w = np.linspace(0.0, 2.0, 70)  # and weighted (the weighted means of the regression and sigmoid losses)
    assert_same_fit(*[_fit(backend64, data, stacked, monkeypatch, task=task, optimizer="adam", sample_weight=w)
                      for stacked in (True, False)])


def test_early_stopping_keeps_every_members_best_epoch(split, monkeypatch):
    data = _data(split)
    runs = [_fit("numpy", data, stacked, monkeypatch, epochs=30, optimizer="adam", learning_rate=0.05,
                 early_stopping=xmlp.EarlyStopping(patience=2)) for stacked in (True, False)]
    history = runs[0][1]
    assert history.restored_epoch is not None and history.stopped_epoch < 30  # it did stop early
    # The weights are every member's of the best epoch either way. Member by member, members
    # 1.. train only up to that epoch; in the stack they ran to the stop with the first member,
    # so every member's optimizer and streams are where the first member's are in both.
    assert_same_fit(*runs, state=False)
    stacked = runs[0][0].training_state.optimizers
    assert {opt.iterations for opt in stacked} == {runs[1][0].training_state.optimizers[0].iterations}


def test_warm_start_continues_the_stack(split, monkeypatch):
    """4 epochs == 2 epochs, then 2 more with warm_start (every member's optimizer state goes
    into the stack and back out)."""
    data = _data(split)
    whole, _ = _fit("numpy", data, True, monkeypatch, optimizer="adam")
    part, _ = _fit("numpy", data, True, monkeypatch, optimizer="adam", epochs=2)
    part.fit(data[0], data[1], validation_data=data[2:], epochs=2, batch_size=16, warm_start=True)
    for na, nb in zip(whole.members, part.members):
        for wa, wb in zip(na.get_weights(), nb.get_weights()):
            for key in wa:
                assert wa[key].tobytes() == wb[key].tobytes()  # bitwise: the same steps, in the same order


def test_what_the_stack_does_not_take_trains_member_by_member(split, monkeypatch):
    data = _data(split)
    x, y = data[0], data[1]
    for kw in (dict(layers=lambda: [xmlp.Dense(8, "relu"), xmlp.BatchNorm(), xmlp.Dense(2, "softmax")]),
               dict(lr_schedule=xmlp.ReduceOnPlateau(patience=1))):
        _fit("numpy", data, False, monkeypatch, epochs=2, **kw)  # (the helper checks no stack trained)
        model = xmlp.Sequential((kw.get("layers") or (lambda: [xmlp.Dense(8), xmlp.Dense(2, "softmax")]))(),
                                ensemble=2)
        model.fit(x, y, epochs=1, seed=1)
        assert _REAL(model.members, np.zeros((4, 4)), xmlp.training.parallel.Partition(), False,
                    kw.get("lr_schedule")) is None


def test_a_member_that_diverges_stops_the_fit_and_keeps_the_last_good_weights(split, monkeypatch):
    data = _data(split)
    model, _ = _fit("numpy", data, True, monkeypatch, epochs=1, optimizer="sgd")
    big = model.members[1].get_weights()
    big[-1]["weight"][0, 0] = np.nan  # member 1 alone: its logits and loss are NaN
    model.members[1].set_weights(big)
    kept = [net.get_weights() for net in model.members]
    with pytest.raises(TrainingDiverged, match=r"expected a finite loss of every ensemble member; received nan at "
                                                r"epoch 2"):
        model.fit(data[0], data[1], validation_data=data[2:], epochs=2, batch_size=16, warm_start=True)
    for net, before in zip(model.members, kept):  # every member falls back to the epoch before
        for wa, wb in zip(net.get_weights(), before):
            for key in wa:
                np.testing.assert_array_equal(wa[key], wb[key])


def test_a_first_layer_layernorm_trains_in_the_stack(split, monkeypatch):
    """Its scale and shift get their gradients although nothing below needs its input gradient."""
    data = _data(split)
    layers = lambda: [xmlp.LayerNorm(), xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")]  # noqa: E731
    runs = [_fit("numpy", data, stacked, monkeypatch, layers=layers, optimizer=xmlp.Adam(0.01, weight_decay=0.01),
                 epochs=2) for stacked in (True, False)]
    assert_same_fit(*runs)
    assert not np.allclose(runs[0][0].members[1].get_weights()[0]["weight"], 1.0)  # it moved


def test_a_custom_optimizer_or_a_sharded_partition_trains_member_by_member(split):
    class NormSGD(xmlp.SGD):  # not element-wise: it must see each parameter alone
        def _update(self, p, g, state):
            p -= self.learning_rate * g / (self.xp.sqrt(self.xp.sum(g * g)) + 1e-12)

    model = xmlp.Sequential([xmlp.Dense(8), xmlp.Dense(2, "softmax")], ensemble=2)
    x, y = _data(split)[:2]
    model.fit(x, y, epochs=1, seed=1, optimizer=NormSGD(0.1))
    opts = model.training_state.optimizers
    part = xmlp.training.parallel.Partition()
    assert _REAL(model.members, np.zeros((4, 4)), part, False, None, opts) is None
    plain = xmlp.Sequential([xmlp.Dense(8), xmlp.Dense(2, "softmax")], ensemble=2)
    plain.fit(x, y, epochs=1, seed=1)
    sharded = xmlp.training.parallel.Partition(shard_rows=[(len(y), 0)])
    assert _REAL(plain.members, np.zeros((4, 4)), part, False, None, plain.training_state.optimizers) is not None
    assert _REAL(plain.members, np.zeros((4, 4)), sharded, False, None, plain.training_state.optimizers) is None
