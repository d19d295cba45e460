"""Every layer kind against PyTorch autograd: outputs, input gradients and parameter gradients in
float64 on every backend of the shared fixture (Dropout with the same mask, ``F.batch_norm`` in
training and inference, ``F.layer_norm``, each activation as a layer); the registry's round trip
and its errors.

Why 1e-10 (the issue's bound, absolute and relative): both sides compute the same float64
formulas in different orders, so they differ by rounding, ~1e-15 for values of order 1; a wrong
formula (a missing term, the biased instead of the unbiased variance, a transposed reduction) is
off by 1e-3 or more."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from xmlp.nn import layers, masks
from xmlp.nn.layers import Activation, BatchNorm, Dense, Dropout, LayerNorm

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed (CI's second pass has it)")
TOL = {"rtol": 1e-10, "atol": 1e-10}


def _ours(backend, layer, x, upstream, tensors, training=True):
    """(output, dL/dx, {param: dL/dparam}) of ``layer`` on ``backend`` for L = sum(out * upstream)."""
    f64 = backend.dtype("float64")
    layer.use_kernels(backend.kernels)
    layer.set_params(backend.xp, {k: backend.asarray(v, f64) for k, v in tensors.items()}, x.shape[1])
    out = layer.forward(backend.asarray(x, f64), training=training)
    if not training:
        return backend.to_numpy(out), None, {}
    dx = layer.backward(backend.asarray(upstream, f64))
    return backend.to_numpy(out), backend.to_numpy(dx), {k: backend.to_numpy(v) for k, v in layer.grads.items()}


def _theirs(fn, x, upstream, params):
    """The same through torch autograd: fn(x, params) -> output."""
    import torch

    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    out = fn(tx, tp)
    (out * torch.tensor(upstream, dtype=torch.float64)).sum().backward()
    return out.detach().numpy(), tx.grad.numpy(), {k: v.grad.numpy() for k, v in tp.items()}


def _compare(ours, theirs):
    for a, b, what in ((ours[0], theirs[0], "output"), (ours[1], theirs[1], "input gradient")):
        np.testing.assert_allclose(a, b, err_msg=what, **TOL)
    assert set(ours[2]) == set(theirs[2])
    for key in ours[2]:
        np.testing.assert_allclose(ours[2][key], theirs[2][key], err_msg=f"gradient of {key}", **TOL)


@pytest.fixture
def batch(rng):
    x = rng.normal(1.5, 2.0, size=(9, 5))  # a mean far from 0: the shifted sums must not lose digits
    return x, rng.normal(size=(9, 5))


@needs_torch
def test_dropout_equals_the_masked_product(backend64, batch, rng):
    x, up = batch
    layer = Dropout(0.3)
    layer.n_in = 5
    mask = layer.host_mask(masks.draw(rng, 9, 5))
    assert set(np.unique(mask)) <= {0.0, 1 / 0.7}
    layer.mask = backend64.asarray(mask, backend64.dtype("float64"))
    theirs = _theirs(lambda tx, tp: tx * __import__("torch").tensor(mask), x, up, {})
    _compare(_ours(backend64, layer, x, up, {}), theirs)
    np.testing.assert_array_equal(_ours(backend64, Dropout(0.3), x, up, {}, training=False)[0], x)  # inference: x


@needs_torch
@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.3, 1e-3)])
def test_batchnorm_equals_torch_in_training_and_inference(backend64, batch, rng, momentum, eps):
    import torch
    import torch.nn.functional as F

    x, up = batch
    tensors = {"weight": rng.normal(size=5), "bias": rng.normal(size=5), "running_mean": rng.normal(size=5),
               "running_var": rng.uniform(0.5, 2.0, size=5)}
    layer = BatchNorm(momentum, eps)
    stats = {k: torch.tensor(tensors[k]) for k in ("running_mean", "running_var")}

    def fn(tx, tp):
        return F.batch_norm(tx, stats["running_mean"], stats["running_var"], tp["weight"], tp["bias"], training=True,
                            momentum=momentum, eps=eps)

    _compare(_ours(backend64, layer, x, up, tensors), _theirs(fn, x, up, {k: tensors[k] for k in ("weight", "bias")}))
    for key in ("running_mean", "running_var"):  # updated with the unbiased variance, as torch's
        np.testing.assert_allclose(backend64.to_numpy(layer.buffers[key]), stats[key].numpy(), err_msg=key, **TOL)
    inference = F.batch_norm(torch.tensor(x), stats["running_mean"], stats["running_var"], torch.tensor(tensors["weight"]),
                             torch.tensor(tensors["bias"]), training=False, eps=eps).numpy()
    np.testing.assert_allclose(backend64.to_numpy(layer.forward(backend64.asarray(x, layer.buffers["running_var"].dtype))),
                               inference, **TOL)


def test_batchnorm_refuses_a_batch_of_one_row(backend64, rng):
    layer = BatchNorm()
    f64 = backend64.dtype("float64")
    layer.set_params(backend64.xp, {k: backend64.asarray(v, f64) for k, v in layer.init_host(3, None).items()}, 3)
    with pytest.raises(ValueError, match="expected batches of at least 2 rows to train BatchNorm; received a batch of 1"):
        layer.forward(backend64.asarray(rng.normal(size=(1, 3)), f64), training=True)


@needs_torch
def test_layernorm_equals_torch(backend64, batch, rng):
    import torch.nn.functional as F

    x, up = batch
    tensors = {"weight": rng.normal(size=5), "bias": rng.normal(size=5)}
    fn = lambda tx, tp: F.layer_norm(tx, (5,), tp["weight"], tp["bias"], eps=1e-5)  # noqa: E731
    _compare(_ours(backend64, LayerNorm(), x, up, tensors), _theirs(fn, x, up, tensors))


ACTIVATIONS = {
    "relu": lambda F, t: F.relu(t), "tanh": lambda F, t: F.tanh(t), "sigmoid": lambda F, t: F.sigmoid(t),
    "linear": lambda F, t: t, "leakyRelu": lambda F, t: F.leaky_relu(t, 0.01),
    "softmax": lambda F, t: F.softmax(t, dim=1), "gelu": lambda F, t: F.gelu(t, approximate="tanh"),
    "silu": lambda F, t: F.silu(t), "elu": lambda F, t: F.elu(t, 1.0), "softplus": lambda F, t: F.softplus(t),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_as_a_layer_equals_torch(backend64, rng, name):
    import torch.nn.functional as F

    # values on both sides of 0, of softplus's threshold (20) and far out (exp would overflow)
    x = np.concatenate([rng.normal(scale=3.0, size=(6, 5)), [[-800.0, -20.5, 19.5, 20.5, 800.0]]])
    x[0, :3] = [0.0, 1e-300, -1e-300]
    up = rng.normal(size=x.shape)
    _compare(_ours(backend64, Activation(name), x, up, {}), _theirs(lambda tx, tp: ACTIVATIONS[name](F, tx), x, up, {}))


@needs_torch
@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus"])
def test_dense_with_each_new_activation_equals_torch(backend64, batch, rng, name):
    import torch.nn.functional as F

    x, up = batch
    up = up[:, :4]
    tensors = {"weight": rng.normal(size=(5, 4)), "bias": rng.normal(size=4)}
    fn = lambda tx, tp: ACTIVATIONS[name](F, tx @ tp["weight"] + tp["bias"])  # noqa: E731
    _compare(_ours(backend64, Dense(4, name), x, up, tensors), _theirs(fn, x, up, tensors))


def test_every_kind_round_trips_through_its_description():
    for layer in (Dense(3, "elu"), Dropout(0.25), BatchNorm(0.2, 1e-4), LayerNorm(1e-6), Activation("gelu")):
        again = layers.from_config(layer.config())
        assert type(again) is type(layer) and again.config() == layer.config()
    assert layers.from_config({"kind": "batchnormalization"}).config() == {"kind": "BatchNorm", "momentum": 0.1,
                                                                            "eps": 1e-5}


@pytest.mark.parametrize("config, message", [
    ({"kind": "Conv"}, "expected a layer kind among Dense, Dropout, BatchNorm, LayerNorm, Activation; received 'Conv'"),
    ([1], "expected a layer description (a JSON object with a kind); received [1]"),
    ({"kind": "Dropout", "rate": 1.0}, r"expected a dropout rate in [0, 1); received 1.0"),
    ({"kind": "Dropout", "rate": -0.1}, r"expected a dropout rate in [0, 1); received -0.1"),
    ({"kind": "Dropout", "rate": 0.1, "seed": 3}, "expected a Dropout description with a rate only; received ['seed']"),
    ({"kind": "BatchNorm", "eps": 0}, "expected a BatchNorm eps in (0, inf); received 0"),
    ({"kind": "BatchNorm", "momentum": 2}, "expected a BatchNorm momentum in [0, 1]; received 2"),
    ({"kind": "LayerNorm", "eps": float("nan")}, "expected a LayerNorm eps in (0, inf); received nan"),
    ({"kind": "Activation", "activation": "mish"}, "expected an activation among"),
    ({"kind": "Activation", "activation": "elu", "alpha": -1}, "expected ELU alpha > 0; received -1"),
])
def test_bad_descriptions_are_one_clear_error(config, message):
    with pytest.raises(ValueError) as err:
        layers.from_config(config)
    assert message in str(err.value)
