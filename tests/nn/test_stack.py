"""``nn.stack.Stack`` (an ensemble's members as one network with a member axis) and its fast path
``nn.stack_fast``: one batched step gives every member the gradients its own ``Network`` gives
(those are checked against PyTorch autograd in test_parity.py), on every backend; the fast path
equals the generic code bit for bit; the members go in and out unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp import Activation, Dense, Dropout, LayerNorm
from xmlp.nn import stack_fast
from xmlp.nn.batchnorm import BatchNorm
from xmlp.nn.network import Network
from xmlp.nn.stack import Stack, unstackable

K, B, D = 3, 7, 5

STACKS = {
    "relu-tanh": lambda: [Dense(6, "relu"), Dense(4, "tanh"), Dense(3, "softmax")],
    "dropout-gelu-layernorm": lambda: [Dense(6, "linear"), LayerNorm(), Activation("gelu"), Dropout(0.3),
                                       Dense(3, "softmax")],
    "input-dropout-elu": lambda: [Dropout(0.2), Dense(6, "elu"), Dense(3, "softmax")],
}


def _members(backend, layers, loss="categoricalCrossentropy", dtype="float64"):
    nets = [Network(layers(), loss, backend, dtype) for _ in range(K)]
    for k, net in enumerate(nets):
        net.build(D, np.random.default_rng(k))
    return nets


def _batch(rng, n_out=3, regression=False):
    x = rng.normal(size=(K, B, D))
    y = rng.normal(size=(K, B, n_out)) if regression else np.eye(n_out)[rng.integers(0, n_out, (K, B))]
    return x, y


def _masks(nets, rng):
    """Each member's Dropout masks of the batch (the trainer's host draw), per layer."""
    per_member = [net.host_masks(rng, B) for net in nets]
    return per_member


@pytest.mark.parametrize("name", sorted(STACKS))
def test_one_stacked_step_gives_every_member_its_own_gradients(backend64, name, rng):
    be, xp = backend64, backend64.xp
    nets = _members(be, STACKS[name])
    stack = Stack(nets)
    x, y = _batch(rng)
    masks = _masks(nets, rng)
    stack.masks = [xp.stack([be.asarray(m[j], stack.dtype) for m in masks]) for j in range(len(masks[0]))]
    total, z = stack.train_step(be.asarray(x, stack.dtype), be.asarray(y, stack.dtype))
    expected_total = 0.0
    for k, net in enumerate(nets):
        net.use_masks([be.asarray(m, net.dtype) for m in masks[k]])
        t, zk = net.train_step(be.asarray(x[k], net.dtype), be.asarray(y[k], net.dtype))
        expected_total += float(be.to_numpy(t))
        # 1e-12: the same operations in float64; only the batched matmul's summation order
        # (BLAS per member vs a stacked loop) may differ, by a few ulps of values of order 1
        np.testing.assert_allclose(be.to_numpy(z[k, ...]), be.to_numpy(zk), rtol=0, atol=1e-12)
        for i, layer in enumerate(net.layers):
            for key, g in layer.grads.items():
                got = be.to_numpy(stack.grads[(i, key)][k, ...]).reshape(g.shape)
                np.testing.assert_allclose(got, be.to_numpy(g), rtol=0, atol=1e-12, err_msg=f"{k}.{i}.{key}")
    np.testing.assert_allclose(float(be.to_numpy(total)), expected_total, rtol=1e-12)


def test_a_regression_stack_scales_each_members_gradient_by_its_own_batch(backend64, rng):
    be = backend64
    nets = _members(be, lambda: [Dense(6, "tanh"), Dense(2, "linear")], loss="huber")
    stack = Stack(nets)
    x, y = _batch(rng, 2, regression=True)
    stack.train_step(be.asarray(x, stack.dtype), be.asarray(y, stack.dtype))
    for k, net in enumerate(nets):
        net.train_step(be.asarray(x[k], net.dtype), be.asarray(y[k], net.dtype))
        for i, layer in enumerate(net.layers):
            for key, g in layer.grads.items():
                got = be.to_numpy(stack.grads[(i, key)][k, ...]).reshape(g.shape)
                np.testing.assert_allclose(got, be.to_numpy(g), rtol=0, atol=1e-12)  # as above


def test_gather_and_scatter_move_the_members_weights_exactly(backend):
    nets = _members(backend, STACKS["dropout-gelu-layernorm"], dtype="float32")
    before = [net.get_weights() for net in nets]
    stack = Stack(nets)
    assert stack.params[(0, "weight")].shape == (K, D, 6)
    assert stack.params[(0, "bias")].shape == (K, 1, 6)  # vectors broadcast over the batch's rows
    stack.flat_params[...] = stack.flat_params * 2.0
    stack.scatter()
    for k, net in enumerate(nets):
        for w0, w1 in zip(before[k], net.get_weights()):
            for key in w0:
                assert w1[key].dtype == np.float32
                np.testing.assert_array_equal(w1[key], w0[key] * 2.0)  # exact: a doubling


def test_the_fast_path_equals_the_generic_code_bitwise(rng):
    """NumPy with its kernels vs NumPy's generic Array API code: the same IEEE operations in the
    same order (see test_fastpaths.py), so the same bits."""
    from xmlp import backends

    fast, generic = backends.get_backend("numpy"), backends.get_backend("numpy", fast=False)
    out = []
    for be in (fast, generic):
        nets = _members(be, STACKS["relu-tanh"])
        stack = Stack(nets)
        assert (stack._fast is not None) == (be.kernels is not None)
        x, y = _batch(np.random.default_rng(5))
        for _ in range(3):
            stack.train_step(be.asarray(x, stack.dtype), be.asarray(y, stack.dtype))
        out.append(np.array(stack.flat_grads))
    assert out[0].tobytes() == out[1].tobytes()


def test_which_stacks_the_fast_path_and_the_stack_take():
    from xmlp import backends

    cpu = backends.get_backend("numpy")
    assert stack_fast.usable(Stack(_members(cpu, STACKS["relu-tanh"])))
    assert not stack_fast.usable(Stack(_members(cpu, STACKS["dropout-gelu-layernorm"])))  # generic code
    with_norm = _members(cpu, lambda: [Dense(4, "relu"), BatchNorm(), Dense(2, "softmax")])
    assert unstackable(with_norm) == "a BatchNorm layer"
    assert unstackable(_members(cpu, lambda: [Dense(4, "softmax"), Dense(2, "softmax")])) == "a hidden softmax"
    assert unstackable(_members(cpu, STACKS["relu-tanh"])) is None


def test_per_member_clipping_uses_each_members_own_norm(backend64, rng):
    be = backend64
    stack = Stack(_members(be, STACKS["relu-tanh"]))
    g = rng.normal(size=stack.flat_grads.shape[0])
    stack.flat_grads[...] = be.asarray(g, stack.dtype)
    norms = [np.sqrt(sum(float(np.sum(be.to_numpy(v[k, ...]) ** 2)) for v in stack.grads.values())) for k in range(K)]
    stack.clip(1.0, None)
    for k in range(K):
        after = np.sqrt(sum(float(np.sum(be.to_numpy(v[k, ...]) ** 2)) for v in stack.grads.values()))
        # torch's clip_grad_norm_: scale 1 / (norm + 1e-6), so the clipped norm is norm / (norm + 1e-6)
        np.testing.assert_allclose(after, norms[k] / (norms[k] + 1e-6), rtol=1e-12)
    stack.clip(None, 0.01)
    assert float(be.to_numpy(be.xp.max(be.xp.abs(stack.flat_grads)))) <= 0.01
