"""Fast paths (``Backend.kernels``, the optional primitives) against the generic Array API code:
every backend trains with and without them to the same bits, each primitive equals the generic
operation it replaces, a NumPy step allocates no array after the first, and the switch works.

Why bitwise and not a tolerance: every kernel performs the generic code's IEEE operations in
the same order (+, -, *, /, sqrt are correctly rounded; exp, log and tanh are the same NumPy
functions on the same values; a matrix product is the same BLAS call), so nothing may differ.
"""

from __future__ import annotations

import copy
import tracemalloc

import numpy as np
import pytest

from xmlp import Dense, Sequential, backends
from xmlp.nn import activations
from xmlp.nn.losses import SoftmaxCrossEntropy
from xmlp.nn.network import Network
from xmlp.optim import optimizers

OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.05),
    "sgd-l2": lambda: optimizers.SGD(0.05, weight_decay=0.01),
    "sgd-decoupled-weights-only": lambda: optimizers.SGD(0.05, weight_decay=0.01, decoupled=True, decay_bias=False),
    "momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "nesterov-l2": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "dampening": lambda: optimizers.SGD(0.05, momentum=0.9, dampening=0.5),
    "rmsprop-l2": lambda: optimizers.RMSprop(0.01, weight_decay=0.01),
    "adam": lambda: optimizers.Adam(0.01),
    "adamw": lambda: optimizers.Adam(0.01, weight_decay=0.01, decoupled=True),
}


def _fit(backend, optimizer, wdbc, dtype):
    x, y, _ = wdbc
    model = Sequential([Dense(16, "relu"), Dense(8, "tanh"), Dense(6, "sigmoid"), Dense(2, "softmax")],
                       backend=backend, dtype=dtype)
    # 201 rows in batches of 8: 25 full batches and one of a single row (its own buffers, and
    # the matrix products of a one-row batch).
    history = model.fit(x[:201], y[:201], validation_data=(x[201:260], y[201:260]), epochs=3, batch_size=8,
                        optimizer=optimizer, seed=0)
    return model.get_weights(), history.history, (backend.stats.to_device, backend.stats.to_host)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_is_bitwise_equal_with_and_without_fast_paths(backend, name, wdbc):
    if backend.kernels is None and name not in ("sgd", "adam"):
        pytest.skip(f"{backend} has no fast paths: both runs are the generic code, two optimizers show it")
    dtype = "float64" if backend.supports("float64") else "float32"
    generic = backend.without_fast_paths()
    assert generic.kernels is None and generic.spec == backend.spec
    fast = _fit(backend, OPTIMIZERS[name](), wdbc, dtype)
    slow = _fit(generic, OPTIMIZERS[name](), wdbc, dtype)
    for a, b in zip(fast[0], slow[0]):
        for key in ("weight", "bias"):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), (name, key)
    assert fast[1] == slow[1] and len(fast[1]["loss"]) == 3
    assert fast[2] == slow[2]  # the same transfers: the fast paths move nothing between host and device


def test_numpy_float32_adam_is_bitwise_equal(wdbc):
    cpu = backends.get_backend("cpu")
    assert cpu.kernels is not None
    fast = _fit(cpu, optimizers.Adam(0.01), wdbc, "float32")
    slow = _fit(cpu.without_fast_paths(), optimizers.Adam(0.01), wdbc, "float32")
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == np.float32 for a, b in zip(fast[0], slow[0]) for k in a)
    assert fast[1] == slow[1]


# ----------------------------------------------------------------------------- each primitive
def _kernels(backend):
    if backend.kernels is None:
        pytest.skip(f"{backend} has no fast paths (it runs the generic code)")
    return backend.kernels


def test_products_sums_and_gather_equal_the_generic_operations(backend64, rng):
    k, xp = _kernels(backend64), backend64.xp
    a = backend64.asarray(rng.standard_normal((9, 7)))
    b = backend64.asarray(rng.standard_normal((7, 5)))
    wide = backend64.asarray(rng.standard_normal((9, 12)))
    strided = wide[:, :7]  # a view with a row stride, as the gathered features are
    for left, right in ((a, b), (strided, b), (a.T, backend64.asarray(rng.standard_normal((9, 4)))),
                        (backend64.asarray(rng.standard_normal((4, 5))), b.T)):
        want = left @ right
        for product in (k.matmul, k.dot):
            if product is k.dot and left is strided:
                continue  # dot is used on contiguous operands only (see _numpy_kernels)
            out = xp.empty(want.shape, dtype=want.dtype)
            assert product(left, right, out=out) is out and np.array_equal(out, want)
    out = xp.empty((7,), dtype=a.dtype)
    assert np.array_equal(k.column_sums(a, out=out), xp.sum(a, axis=0))
    idx = backend64.asarray(rng.permutation(9)[:4], backend64.index_dtype)
    out = xp.empty((4, 12), dtype=a.dtype)
    assert k.take_rows(wide, idx, out) is out and np.array_equal(out, xp.take(wide, idx, axis=0))
    view, out = wide[:, 2:9], xp.empty((4, 7), dtype=a.dtype)  # a column view (Rows of one [X | Y] array)
    assert k.take_rows(view, idx, out) is out and np.array_equal(out, xp.take(view, idx, axis=0))


@pytest.mark.parametrize("name", ["relu", "tanh", "linear"])
def test_activation_kernels_equal_the_generic_activation(backend64, name, rng):
    k, xp = _kernels(backend64), backend64.xp
    act = activations.get(name)
    z0 = rng.standard_normal((6, 5))
    z0[0, :4] = [0.0, -0.0, np.inf, -np.inf]  # signed zeros and infinities keep their bits too
    z, b = backend64.asarray(z0), backend64.asarray(rng.standard_normal(5))
    buf, mask = xp.asarray(z, copy=True), xp.empty(z.shape, dtype=z.dtype)
    with backend64.activate():  # ReLU of -inf is -inf * 0 = nan on both paths: no warning wanted
        want_a, want_cache = act.forward_train(xp, z + b)
        a, cache = k.bias_activation(name)(buf, b, mask)
    assert np.array_equal(a, want_a, equal_nan=True) and np.array_equal(cache, want_cache, equal_nan=True)
    assert np.array_equal(np.signbit(a), np.signbit(want_a))
    grad = backend64.asarray(rng.standard_normal((6, 5)))
    before = xp.asarray(grad, copy=True)
    out = xp.empty(z.shape, dtype=z.dtype)
    got = k.activation_backward(name)(grad, cache, out)
    assert np.array_equal(got, act.backward(xp, grad, want_cache))
    assert np.array_equal(grad, before)  # the incoming gradient is left as it is
    assert k.bias_activation("softmax") is None and k.activation_backward("leakyRelu") is None


def test_fused_loss_kernel_equals_forward_backward(backend64, rng):
    k, xp = _kernels(backend64), backend64.xp
    loss = SoftmaxCrossEntropy()
    z = backend64.asarray(rng.standard_normal((7, 3)) * 30)
    y = backend64.asarray(np.eye(3)[rng.integers(0, 3, 7)])
    want_total, want_grad = loss.forward_backward(xp, z, y, 10)
    total, grad = k.softmax_cross_entropy(z, y, 1.0 / 10, *loss.buffers(xp, z))
    assert np.array_equal(total, want_total) and np.array_equal(grad, want_grad)
    # and it is the loss of the one log-softmax, -sum(y * log_softmax(z)), to the bit
    assert np.array_equal(total, loss.value(xp, z, y))


def test_layer_backward_leaves_the_callers_gradient_alone(rng):
    """Dense.backward is public: on the fast path it must not write into the caller's array."""
    cpu = backends.get_backend("cpu")
    layer = Dense(4, "relu")
    layer.use_kernels(cpu.kernels)
    layer.set_params(cpu.xp, {"weight": cpu.asarray(rng.standard_normal((3, 4))), "bias": cpu.asarray(np.zeros(4))})
    layer.forward(cpu.asarray(rng.standard_normal((5, 3))), training=True)
    g = cpu.asarray(rng.standard_normal((5, 4)))
    before = g.copy()
    dx = layer.backward(g)
    assert np.array_equal(g, before) and dx.shape == (5, 3)


# ----------------------------------------------------------------------------- allocations
def _peak_growth(backend, opt_name, batch=512):
    """Bytes by which traced memory peaks during steps 3-5 of training, above what was
    allocated before them (NumPy's iteration buffer at its minimum, 16 elements)."""
    rng = np.random.default_rng(0)
    width = 512
    net = Network([Dense(width, "relu"), Dense(width, "tanh"), Dense(width, "softmax")], "categoricalCrossentropy",
                  backend, "float64")
    net.build(30, rng)
    opt = optimizers.get(opt_name, learning_rate=0.01, weight_decay=0.01)
    opt.build(backend.xp, net.layers)
    host = np.concatenate([rng.standard_normal((4 * batch, 30)), np.eye(width)[rng.integers(0, width, 4 * batch)]], axis=1)
    data = backend.asarray(host, net.dtype)
    idx = backend.asarray(rng.permutation(4 * batch), backend.index_dtype)
    loss_sum = backend.xp.zeros((), dtype=net.dtype)

    def step(i):  # the trainer's per-batch lines
        nonlocal loss_sum
        xb, yb = net.gather(data, idx[i * batch : (i + 1) * batch])
        loss, _ = net.train_step(xb, yb, batch)
        opt.step()
        loss_sum += loss

    step(0), step(1)  # the first steps make the buffers
    old = np.setbufsize(16)
    tracemalloc.start()
    try:
        step(2)
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(3):
            step(i)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
        np.setbufsize(old)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_a_numpy_step_allocates_no_array_after_the_first(opt_name):
    """Every array a step could create here has at least 512 float64 values (4 KiB: batch 512,
    every layer 512 wide, so a bias or a row-wise (512, 1) column too); what is left under the
    bound is NumPy's own per-call bookkeeping (its iterator, the wrapper of a Python scalar
    argument), and the iteration buffer of a broadcast operation, set to 16 elements here
    (by default NumPy allocates up to 8,192 elements for it on every broadcast call)."""
    growth = _peak_growth(backends.get_backend("cpu"), opt_name)
    assert growth < 4096, growth
    # The probe sees allocations: the generic code creates the step's arrays afresh.
    assert _peak_growth(backends.get_backend("cpu", fast=False), opt_name) > 1_000_000


# ----------------------------------------------------------------------------- the switch
def test_the_switch_argument_environment_and_pickling(monkeypatch):
    assert backends.get_backend("cpu").kernels is not None
    assert backends.get_backend("cpu", fast=False).kernels is None
    assert backends.get_backend(backends.get_backend("cpu"), fast=False).kernels is None
    monkeypatch.setenv("XMLP_FAST_PATHS", "0")
    off = backends.get_backend("cpu")
    assert off.kernels is None
    assert backends.get_backend("cpu", fast=True).kernels is not None  # the argument wins
    monkeypatch.setenv("XMLP_FAST_PATHS", "1")
    assert backends.get_backend("cpu").kernels is not None
    assert copy.deepcopy(off).kernels is None  # a pickled backend keeps its choice
    assert copy.deepcopy(backends.get_backend("cpu")).kernels is not None
    assert backends.get_backend("strict:cpu").kernels is None  # no fast paths: the generic code



def test_the_fused_kernel_serves_only_the_loss_it_implements():
    """A network whose loss is not the softmax cross-entropy itself (a subclass with its own
    gradient, as a new loss would be) trains through that loss's code, not the NumPy kernel."""
    from xmlp.nn import losses
    from xmlp.nn.layers import Dense
    from xmlp.nn.network import Network

    class Doubled(losses.SoftmaxCrossEntropy):
        def forward_backward(self, xp, z, y, rows=None):
            total, grad = super().forward_backward(xp, z, y, rows)
            return 2 * total, 2 * grad

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5)), np.eye(2)[rng.integers(0, 2, 8)]
    grads = {}
    for fast in (True, False):
        net = Network([Dense(4, "tanh"), Dense(2, "softmax")], "categoricalCrossentropy",
                      backends.get_backend("numpy", fast=fast), "float64")
        net.build(5, np.random.default_rng(1))
        net.loss = Doubled()
        total, _ = net.train_step(x, y)
        grads[fast] = (float(total), net.layers[0].grads["weight"].copy())
    assert grads[True][0] == grads[False][0]
    np.testing.assert_array_equal(grads[True][1], grads[False][1])
