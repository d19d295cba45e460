"""Learning-rate schedules: each epoch's rate equals torch.optim.lr_scheduler's for 200 epochs,
their bad arguments, and their place in a fit (the history's lr, continuing a schedule)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import xmlp
from xmlp.optim import schedules
from xmlp.optim.schedules import (
    CosineDecay,
    ExponentialDecay,
    ReduceOnPlateau,
    StepDecay,
)

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
EPOCHS, LR = 200, 0.1
# torch computes most schedules recursively (lr_e from lr_{e-1}); ours are closed forms: they
# differ by accumulated rounding, < 1e-15 per epoch, far below 1e-12 after 200 epochs.
TOL = 1e-12


def _torch_rates(make, metrics=None):
    import torch

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=LR)
    sched = make(torch.optim.lr_scheduler, opt)
    rates = []
    for e in range(EPOCHS):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(metrics[e]) if metrics is not None else sched.step()
    return rates


def _ours(schedule, metrics=None):
    rates = []
    if isinstance(schedule, ReduceOnPlateau):
        schedule.start(LR, maximize=False)
    for e in range(EPOCHS):
        rates.append(schedule.learning_rate(e, LR))
        if metrics is not None:
            schedule.observe({"val_loss": metrics[e]})
    return rates


@needs_torch
@pytest.mark.parametrize("ours, theirs", [
    (StepDecay(30, 0.5), lambda s, o: s.StepLR(o, step_size=30, gamma=0.5)),
    (StepDecay(7), lambda s, o: s.StepLR(o, step_size=7)),
    (ExponentialDecay(0.97), lambda s, o: s.ExponentialLR(o, gamma=0.97)),
    (CosineDecay(EPOCHS), lambda s, o: s.CosineAnnealingLR(o, T_max=EPOCHS)),
    (CosineDecay(EPOCHS, min_lr=1e-4), lambda s, o: s.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=1e-4)),
    (CosineDecay(EPOCHS, min_lr=1e-3, warmup=10), lambda s, o: s.SequentialLR(o, [
        s.LinearLR(o, start_factor=1 / 11, total_iters=10), s.CosineAnnealingLR(o, T_max=EPOCHS - 10, eta_min=1e-3)],
        milestones=[10])),
], ids=["step30", "step7", "exponential", "cosine", "cosine-min", "cosine-warmup"])
def test_rates_equal_torch_for_200_epochs(ours, theirs):
    np.testing.assert_allclose(_ours(ours), _torch_rates(theirs), rtol=0, atol=TOL)


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"factor": 0.5, "patience": 3, "cooldown": 2, "min_lr": 1e-3},
                                {"patience": 0, "threshold": 0.0}])
def test_reduce_on_plateau_equals_torch(kw, rng):
    # a loss that falls, then wanders on a plateau, with ties and small improvements
    metrics = list(np.concatenate([np.linspace(1.0, 0.5, 40), 0.5 + 0.01 * rng.standard_normal(160)]).round(4))
    theirs = lambda s, o: s.ReduceLROnPlateau(o, **kw)  # noqa: E731  (the same names and defaults)
    ours = _ours(ReduceOnPlateau(**kw), metrics)
    assert len(set(ours)) > 1  # the rate was reduced: the comparison covers the rule, not a constant
    np.testing.assert_allclose(ours, _torch_rates(theirs, metrics), rtol=0, atol=TOL)


def test_cosine_holds_min_lr_after_its_epochs_and_zero_is_refused():
    sched = CosineDecay(10, min_lr=0.01, warmup=2)
    assert [round(sched.learning_rate(e, 1.0), 12) for e in (0, 1, 2)] == [round(1 / 3, 12), round(2 / 3, 12), 1.0]
    assert sched.learning_rate(10, 1.0) == sched.learning_rate(50, 1.0) == 0.01
    with pytest.raises(ValueError, match=r"expected a positive, finite learning rate from CosineDecay\(epochs=10, "
                                         r"min_lr=0.0, warmup=0\); received 0.0 at epoch 11 \(hint: min_lr > 0"):
        schedules.checked(CosineDecay(10).learning_rate(10, 1.0), 10, CosineDecay(10))


@pytest.mark.parametrize("make, message", [
    (lambda: StepDecay(0), "expected step_size to be an integer >= 1; received 0"),
    (lambda: StepDecay(3, gamma=0.0), "expected gamma > 0; received 0.0"),
    (lambda: ExponentialDecay(float("nan")), "expected gamma > 0; received nan"),
    (lambda: CosineDecay(10, warmup=10), r"expected fewer warm-up epochs than epochs \(10\); received 10"),
    (lambda: CosineDecay(10, min_lr=-1), "expected min_lr >= 0; received -1"),
    (lambda: ReduceOnPlateau(factor=1.0), "expected factor > 0 and < 1; received 1.0"),
    (lambda: ReduceOnPlateau(patience=-1), "expected patience to be an integer >= 0; received -1"),
    (lambda: schedules.from_config({"name": "cyclic"}), "expected a learning-rate schedule among step, exponential, "
                                                        "cosine, plateau; received 'cyclic'"),
    (lambda: schedules.from_config({"name": "step", "steps": 3}), r"expected the arguments of the step schedule; "
                                                                   r"received \['steps'\]"),
])
def test_bad_schedules_are_one_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_fit_records_each_epochs_rate_and_a_warm_start_continues_it(wdbc, tmp_path):
    x, y, _ = wdbc

    def model():
        return xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], dtype="float64")

    whole = model()
    h = whole.fit(x, y, epochs=10, seed=0, lr_schedule=CosineDecay(10, warmup=2), optimizer="adam")
    expected = [CosineDecay(10, warmup=2).learning_rate(e, 0.001) for e in range(10)]
    assert h.history["lr"] == expected
    part = model()
    part.fit(x, y, epochs=6, seed=0, lr_schedule=CosineDecay(10, warmup=2), optimizer="adam")
    part.save(tmp_path / "m.safetensors")
    more = xmlp.load_model(tmp_path / "m.safetensors")
    h2 = more.fit(x, y, epochs=4, warm_start=True)
    assert h2.history["lr"] == expected[6:]
    for a, b in zip(whole.get_weights(), more.get_weights()):
        for key in a:
            assert a[key].tobytes() == b[key].tobytes(), key  # bitwise: 6 + save + 4 == 10
    with pytest.raises(ValueError, match=r"expected the learning-rate schedule the model trained with to continue "
                                         r"\(name=cosine, epochs=10, min_lr=0.0, warmup=2\); received name=step"):
        more.fit(x, y, epochs=1, warm_start=True, lr_schedule=StepDecay(3))


def test_the_plateau_schedule_continues_from_its_state(wdbc, tmp_path):
    x, y, _ = wdbc
    xt, yt, xv, yv = x[:400], y[:400], x[400:], y[400:]

    def fit(epochs, model=None, **kw):
        model = model or xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], dtype="float64")
        model.fit(xt, yt, validation_data=(xv, yv), epochs=epochs, seed=1, learning_rate=0.5, **kw)
        return model

    plateau = dict(lr_schedule=ReduceOnPlateau(factor=0.5, patience=1))
    whole = fit(30, **plateau)
    assert min(whole.history.history["lr"]) < 0.5  # it did reduce
    part = fit(15, **plateau)
    part.save(tmp_path / "p.safetensors")
    more = xmlp.load_model(tmp_path / "p.safetensors")
    more.fit(xt, yt, validation_data=(xv, yv), epochs=15, warm_start=True)
    assert part.history.history["lr"] + more.history.history["lr"] == whole.history.history["lr"]
    with pytest.raises(ValueError, match=r"expected ReduceOnPlateau to monitor one of loss, accuracy; received "
                                         r"'val_loss' \(hint: validation_data, or monitor='loss'\)"):
        xmlp.Sequential([xmlp.Dense(2, "softmax")]).fit(xt, yt, epochs=1, lr_schedule=ReduceOnPlateau())
