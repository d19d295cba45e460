"""Optimizers: each update equals its docstring formula, matches torch.optim, and trains."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from xmlp import Dense, Sequential
from xmlp.data.split import split_indices
from xmlp.optim import optimizers

HAS_TORCH = importlib.util.find_spec("torch") is not None


class Stub:
    """A layer as optimizers see it: ``params`` and ``grads`` dicts of device arrays."""

    def __init__(self, params):
        self.params, self.grads = params, {}


def hand_sgd(p, g, s, t, mu=0.0, nesterov=False, lr=0.05, d=0.0):
    if not mu:
        return p - lr * g
    s["b"] = g if t == 1 else mu * s["b"] + ((1.0 - d) * g if d else g)
    return p - lr * (g + mu * s["b"]) if nesterov else p - lr * s["b"]


def hand_rmsprop(p, g, s, t, lr=0.01, rho=0.9, eps=1e-7):
    s["v"] = rho * s.get("v", 0.0 * p) + (1.0 - rho) * (g * g)
    return p - lr * g / (np.sqrt(s["v"]) + eps)


def hand_adam(p, g, s, t, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    s["m"] = b1 * s.get("m", 0.0 * p) + (1.0 - b1) * g
    s["v"] = b2 * s.get("v", 0.0 * p) + (1.0 - b2) * (g * g)
    return p - (lr / (1.0 - b1**t)) * s["m"] / (np.sqrt(s["v"]) / math.sqrt(1.0 - b2**t) + eps)


CASES = {
    "sgd": (lambda: optimizers.SGD(0.05), hand_sgd),
    "momentum": (lambda: optimizers.SGD(0.05, momentum=0.9), lambda *a: hand_sgd(*a, mu=0.9)),
    "nesterov": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True), lambda *a: hand_sgd(*a, mu=0.9, nesterov=True)),
    "dampening": (lambda: optimizers.SGD(0.05, momentum=0.9, dampening=0.5), lambda *a: hand_sgd(*a, mu=0.9, d=0.5)),
    "rmsprop": (lambda: optimizers.RMSprop(0.01), hand_rmsprop),
    "adam": (lambda: optimizers.Adam(0.01), hand_adam),
}


@pytest.mark.parametrize("decay", ["none", "l2", "decoupled"])
@pytest.mark.parametrize("name", list(CASES))
def test_updates_equal_the_formula_exactly(backend64, name, decay, rng):
    """Five steps in float64. The implementation and the hand formula do the same IEEE
    operations (+, -, *, /, sqrt are correctly rounded) in the same order: results are equal."""
    be, f64 = backend64, backend64.dtype("float64")
    make, hand = CASES[name]
    opt = make()
    wd = {"none": 0.0, "l2": 0.01, "decoupled": 0.01}[decay]
    opt.weight_decay, opt.decoupled = wd, decay == "decoupled"
    p0 = {"weight": rng.normal(size=(3, 2)), "bias": rng.normal(size=2)}
    layer = Stub({k: be.asarray(v, f64) for k, v in p0.items()})
    opt.build(be.xp, [layer])
    expected, state = dict(p0), {k: {} for k in p0}
    for t in range(1, 6):
        grads = {k: rng.normal(size=v.shape) for k, v in p0.items()}
        layer.grads = {k: be.asarray(v, f64) for k, v in grads.items()}
        opt.step()
        for k in p0:
            p, g = expected[k], grads[k]
            if decay == "l2":
                g = g + wd * p
            elif decay == "decoupled":
                p = p - (opt.learning_rate * wd) * p
            expected[k] = hand(p, g, state[k], t)
        for k in p0:
            np.testing.assert_array_equal(be.to_numpy(layer.params[k]), expected[k], err_msg=f"{name} step {t} {k}")


def test_updates_are_in_place(rng):
    from xmlp import backends

    be = backends.get_backend("numpy")
    layer = Stub({"weight": be.asarray(rng.normal(size=(2, 2)))})
    before = layer.params["weight"]
    opt = optimizers.Adam(0.1)
    opt.build(be.xp, [layer])
    layer.grads = {"weight": be.asarray(np.ones((2, 2)))}
    opt.step()
    assert layer.params["weight"] is before and opt.iterations == 1


@pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: optimizers.SGD(0.05), lambda t, ps: t.optim.SGD(ps, lr=0.05)),
        (lambda: optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01), lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.01)),
        (lambda: optimizers.SGD(0.05, momentum=0.8, nesterov=True), lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True)),
        (lambda: optimizers.SGD(0.05, momentum=0.9, dampening=0.3), lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.3)),
        (lambda: optimizers.RMSprop(0.01, rho=0.9, eps=1e-7), lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7)),
        (lambda: optimizers.Adam(0.01, weight_decay=0.01), lambda t, ps: t.optim.Adam(ps, lr=0.01, weight_decay=0.01)),
        (lambda: optimizers.get("adamw", learning_rate=0.01), lambda t, ps: t.optim.AdamW(ps, lr=0.01, weight_decay=0.01)),
    ],
    ids=["sgd", "momentum-l2", "nesterov", "dampening", "rmsprop", "adam-l2", "adamw"],
)
def test_ten_steps_match_torch_optim(ours, theirs, rng):
    """Same start, same gradients, ten steps, float64. torch orders some operations
    differently (lerp for Adam's first moment, p*(1 - lr*wd) for AdamW), so results agree to
    rounding: ~1e-16 relative per operation, a few dozen operations: rtol 1e-12."""
    import torch

    from xmlp import backends

    be = backends.get_backend("numpy")
    p0 = {"weight": rng.normal(size=(4, 3)), "bias": rng.normal(size=3)}
    layer = Stub({k: be.asarray(v) for k, v in p0.items()})
    opt = ours()
    opt.build(be.xp, [layer])
    tparams = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in p0.values()]
    topt = theirs(torch, tparams)
    for _ in range(10):
        grads = {k: rng.normal(size=v.shape) for k, v in p0.items()}
        layer.grads = {k: be.asarray(v) for k, v in grads.items()}
        opt.step()
        for tp, g in zip(tparams, grads.values()):
            tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    for tp, k in zip(tparams, p0):
        np.testing.assert_allclose(layer.params[k], tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(learning_rate=0.0), "expected learning rate > 0.0; received 0.0"),
        (dict(learning_rate=0.1, momentum=1.0), "expected momentum >= 0.0 and < 1.0; received 1.0"),
        (dict(learning_rate=0.1, nesterov=True), "expected momentum > 0 and no dampening with nesterov; received momentum 0.0, dampening 0.0"),
        (dict(learning_rate=0.1, momentum=0.9, dampening=1.0), "expected dampening >= 0.0 and < 1.0; received 1.0"),
        (dict(learning_rate=0.1, weight_decay=-1.0), "expected weight decay >= 0.0; received -1.0"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        optimizers.SGD(**kwargs)
    with pytest.raises(ValueError, match="expected an optimizer among sgd, momentum, nesterov, rmsprop, adam, adamw; received 'lbfgs'"):
        optimizers.get("lbfgs")


@pytest.mark.slow
@pytest.mark.parametrize("name, lr", [("sgd", 0.01), ("momentum", 0.01), ("nesterov", 0.01),
                                      ("rmsprop", 0.001), ("adam", 0.001), ("adamw", 0.001)])
def test_every_optimizer_trains_the_default_network(backend, name, lr, wdbc):
    x, y, _ = wdbc
    train, valid = split_indices(y, 0.2, np.random.default_rng(42))
    model = Sequential([Dense(24, "tanh"), Dense(24, "tanh"), Dense(2, "softmax")], backend=backend)
    history = model.fit(x[train], y[train], validation_data=(x[valid], y[valid]), epochs=15,
                        optimizer=optimizers.get(name, learning_rate=lr, weight_decay=0.01 if name != "adamw" else None),
                        seed=42)
    assert history.history["val_accuracy"][-1] >= 0.95


def test_each_optimizer_declares_its_options():
    assert list(optimizers.SGD.options) == ["momentum", "dampening"]
    assert list(optimizers.RMSprop.options) == ["rho", "eps"]
    assert list(optimizers.Adam.options) == ["beta1", "beta2", "eps"]
    assert list(optimizers.all_options()) == ["momentum", "dampening", "rho", "eps", "beta1", "beta2"]
    assert optimizers.get("adam", beta1=0.8, eps=1e-6).config()["eps"] == 1e-6
    with pytest.raises(ValueError, match=r"expected options that rmsprop takes; received beta1 \(hint: rmsprop takes rho, eps\)"):
        optimizers.get("rmsprop", beta1=0.8)
    with pytest.raises(ValueError, match=r"expected options that sgd takes; received --rho \(hint: sgd takes --momentum, --dampening\)"):
        optimizers.check_options("sgd", ["rho"], flag="--")
    assert optimizers.get("nesterov").nesterov and optimizers.get("sgd", momentum=0.5, nesterov=True).nesterov


def test_weight_decay_on_weights_only(backend64, rng):
    """decay_bias=False: the bias follows the plain update, the weight the L2 one (bit for bit)."""
    be, f64 = backend64, backend64.dtype("float64")
    p0 = {"weight": rng.normal(size=(3, 2)), "bias": rng.normal(size=2)}
    layer = Stub({k: be.asarray(v, f64) for k, v in p0.items()})
    opt = optimizers.SGD(0.05, weight_decay=0.1, decay_bias=False)
    opt.build(be.xp, [layer])
    grads = {k: rng.normal(size=v.shape) for k, v in p0.items()}
    layer.grads = {k: be.asarray(v, f64) for k, v in grads.items()}
    opt.step()
    np.testing.assert_array_equal(be.to_numpy(layer.params["weight"]), p0["weight"] - 0.05 * (grads["weight"] + 0.1 * p0["weight"]))
    np.testing.assert_array_equal(be.to_numpy(layer.params["bias"]), p0["bias"] - 0.05 * grads["bias"])
    assert opt.config()["decay_bias"] is False and "decay_bias" not in optimizers.SGD(0.1, weight_decay=0.1).config()
