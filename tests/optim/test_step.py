"""updates.py: the optimizers' step, its flat layout and when the fused kernels are not used."""

from __future__ import annotations

import numpy as np

from xmlp import Dense, backends
from xmlp.nn.network import Network
from xmlp.optim import optimizers


def _network(backend, rng):
    net = Network([Dense(5, "relu"), Dense(3, "softmax")], "categoricalCrossentropy", backend, "float64")
    net.build(4, rng)
    x = backend.asarray(rng.standard_normal((6, 4)))
    y = backend.asarray(np.eye(3)[rng.integers(0, 3, 6)])
    return net, x, y


def test_flat_layout_holds_the_parameters_and_gradients(rng):
    cpu = backends.get_backend("cpu")
    net, x, y = _network(cpu, rng)
    flat = net.layers[0].flat
    assert flat is not None and all(layer.flat is flat for layer in net.layers)
    assert flat.params.shape == (4 * 5 + 5 + 5 * 3 + 3,)
    for layer in net.layers:
        for key in ("weight", "bias"):
            assert np.shares_memory(layer.params[key], flat.params)
    opt = optimizers.SGD(0.1)
    opt.build(cpu.xp, net.layers)
    net.train_step(x, y)
    assert all(np.shares_memory(layer.grads[k], flat.grads) for layer in net.layers for k in ("weight", "bias"))
    assert flat.holds(opt.slots)
    before = flat.params.copy()
    opt.step()
    np.testing.assert_array_equal(flat.params, before - 0.1 * flat.grads)  # the same two operations
    # A data-parallel sync replaces the gradients with views of its own buffer: then the layout
    # no longer holds and the update goes parameter by parameter, from those gradients.
    net.train_step(x, y)
    replaced = net.layers[1].grads["weight"] * 2.0
    net.layers[1].grads["weight"] = replaced
    assert not flat.holds(opt.slots)
    w = net.layers[1].params["weight"].copy()
    opt.step()
    np.testing.assert_array_equal(net.layers[1].params["weight"], w - 0.1 * replaced)
    # the generic path (no fast paths) has no flat layout
    generic, _, _ = _network(cpu.without_fast_paths(), rng)
    assert generic.layers[0].flat is None


def test_restoring_parameters_keeps_them_in_the_flat_buffer(rng):
    net, x, y = _network(backends.get_backend("cpu"), rng)
    saved = net.copy_params()
    opt = optimizers.SGD(0.5)
    opt.build(net.xp, net.layers)
    net.train_step(x, y)
    opt.step()
    net.restore_params(saved)
    flat = net.layers[0].flat
    assert flat.holds(opt.slots)
    for layer, params in zip(net.layers, saved):
        for key, value in params.items():
            np.testing.assert_array_equal(layer.params[key], value)
            assert np.shares_memory(layer.params[key], flat.params)


class DoubleSGD(optimizers.SGD):
    """A user's optimizer: its own ``_update``, which the fused kernels know nothing about."""

    def _update(self, p, g, state):
        p -= 2.0 * self.learning_rate * g


def test_an_optimizer_defined_elsewhere_runs_its_own_update(rng):
    net, x, y = _network(backends.get_backend("cpu"), rng)
    opt = DoubleSGD(0.1)
    opt.build(net.xp, net.layers)
    net.train_step(x, y)
    w, g = net.layers[0].params["weight"].copy(), net.layers[0].grads["weight"].copy()
    opt.step()
    np.testing.assert_array_equal(net.layers[0].params["weight"], w - 2.0 * 0.1 * g)
