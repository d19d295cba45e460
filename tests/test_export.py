"""Export: ONNX (probabilities from onnxruntime equal xmlp's) and PyTorch weights (torch's
forward equals xmlp's)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import xmlp
from xmlp.data.split import split_indices
from xmlp.export import to_onnx, to_torch_state_dict, torch_sequential
from xmlp.nn.activations import LeakyReLU


@pytest.fixture(scope="module")
def model(wdbc):
    """Every hidden activation, three classes, a calibrated temperature (so T != 1)."""
    x, y, names = wdbc
    y3 = np.where(x[:, 0] > 15, "large", y)
    train, valid = split_indices(y3, 0.2, np.random.default_rng(0))
    m = xmlp.Sequential([xmlp.Dense(12, "tanh"), xmlp.Dense(10, "relu"), xmlp.Dense(8, "sigmoid"),
                         xmlp.Dense(8, LeakyReLU(0.2)), xmlp.Dense(6, "linear"), xmlp.Dense(3, "softmax")])
    m.fit(x[train], y3[train], epochs=5, seed=0, feature_names=names)
    assert m.calibrate(x[valid], y3[valid]) != 1.0
    return m


@pytest.fixture(scope="module")
def recipe(wdbc):
    """As ``xmlp train`` makes them: Yeo-Johnson preprocessing, and here an ensemble of three."""
    x, y, names = wdbc
    m = xmlp.Sequential([xmlp.Dense(24, "tanh"), xmlp.Dense(24, "tanh"), xmlp.Dense(2, "softmax")],
                        preprocess="yeo-johnson", ensemble=3)
    m.fit(x, y, epochs=5, seed=0, feature_names=names, input_noise=0.2)
    return m


def test_onnx_graph_is_valid_and_describes_the_model(model):
    onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    proto = to_onnx(model)
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    assert ops[:4] == ["Cast", "Sub", "Div", "Cast"] and ops[-2:] == ["Div", "Softmax"]
    assert ops.count("MatMul") == ops.count("Add") == 6
    assert {"Tanh", "Relu", "Sigmoid", "LeakyRelu", "Identity"} <= set(ops)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["classes"] == '["B", "M", "large"]' and "mean radius" in props["feature_names"]


@pytest.mark.parametrize("which", ["model", "recipe"])
def test_onnxruntime_probabilities_equal_xmlps(which, request, wdbc):
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (CI installs it with the test extra)")
    m = request.getfixturevalue(which)
    x = wdbc[0].astype(np.float32)
    x = np.concatenate([x, x[:50] * 1.5, x[:50] * 0.5])  # values outside the training range too
    session = ort.InferenceSession(to_onnx(m).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"x": x})[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, m.predict_proba(x), rtol=0, atol=1e-6)


def test_yeo_johnson_nodes_equal_the_host_transform():
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (CI installs it with the test extra)")
    from onnx import TensorProto, helper

    from xmlp.data import power
    from xmlp.export import _Graph, _yeo_johnson

    lambdas = np.array([0.0, 2.0, -280.0, 0.5, 1.0, 3.0, 1e-13, 2.0 + 1e-13])
    x = np.linspace(-3.0, 3.0, 61)[:, None] * np.ones(8)
    x[:, 2] = np.abs(x[:, 2]) * 1e-3  # WDBC-like small positive values under a large negative λ
    g = _Graph()
    out = _yeo_johnson(g, "x", lambdas)
    graph = helper.make_graph(g.nodes, "yj", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", 8])],
                              [helper.make_tensor_value_info(out, TensorProto.DOUBLE, ["n", 8])], g.constants)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, power.transform(x, lambdas), rtol=1e-9, atol=1e-12)


def test_export_command_writes_an_onnx_file(cli, tmp_path, model, wdbc):
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    import onnx

    model.save(tmp_path / "model.safetensors")
    code, out, err = cli("export", "model.safetensors", "--to", "onnx", "model.onnx")
    assert code == 0, err
    assert "model.onnx" in out
    proto = onnx.load(str(tmp_path / "model.onnx"))
    assert proto.graph.output[0].name == "probabilities"


def test_export_without_onnx_names_the_extra(cli, tmp_path, model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    model.save(tmp_path / "model.safetensors")
    code, _, err = cli("export", "model.safetensors", "--to", "onnx", "model.onnx")
    assert code == 69 and "expected the onnx package" in err and "[onnx]'" in err
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_forward_equals_xmlps(model, wdbc):
    import torch

    weights = to_torch_state_dict(model)
    assert tuple(weights.state_dict["0.weight"].shape) == (12, 30) and weights.lambdas is None  # (out, in)
    net = torch_sequential(model)
    x = wdbc[0]
    features = ((torch.from_numpy(x) - weights.mean) / weights.scale).float()
    with torch.no_grad():
        proba = torch.softmax(net(features) / weights.temperature, dim=1).numpy()
    np.testing.assert_allclose(proba, model.predict_proba(x), rtol=0, atol=1e-6)
    plain = torch.nn.Sequential(*[m for m in net])  # the documented layout loads into a fresh nn.Sequential
    plain.load_state_dict(weights.state_dict)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_forward_of_an_ensemble_with_yeo_johnson(recipe, wdbc):
    import torch

    x = wdbc[0]
    features = torch.from_numpy(recipe.standardizer.transform(x)).float()  # xmlp's preprocessing
    with torch.no_grad():
        members = [torch.softmax(torch_sequential(recipe, k)(features), dim=1) for k in range(3)]
    np.testing.assert_allclose(torch.stack(members).mean(0).numpy(), recipe.predict_proba(x), rtol=0, atol=1e-6)
    assert to_torch_state_dict(recipe, 2).lambdas.shape == (30,)
    with pytest.raises(ValueError, match=r"expected a member index in \[0, 2\]; received 3"):
        to_torch_state_dict(recipe, 3)


@pytest.fixture(scope="module")
def toolkit(wdbc):
    """Every layer kind and every new activation, trained (so BatchNorm's running statistics
    are not the initial 0 and 1)."""
    x, y, names = wdbc
    m = xmlp.Sequential([xmlp.Dense(16, "linear"), xmlp.BatchNorm(), xmlp.Activation("gelu"), xmlp.Dropout(0.2),
                         xmlp.Dense(12, "silu"), xmlp.LayerNorm(), xmlp.Dense(10, xmlp.ELU(0.7)),
                         xmlp.Dense(8, "softplus"), xmlp.Dense(2, "softmax")])
    m.fit(x, y, epochs=5, batch_size=16, seed=0, feature_names=names)  # 569 = 35·16 + 9: no batch of one
    return m


def test_onnx_of_every_layer_kind_equals_xmlp(toolkit, wdbc):
    onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (CI installs it with the test extra)")
    proto = to_onnx(toolkit)
    onnx.checker.check_model(proto)
    ops = [n.op_type for n in proto.graph.node]
    assert {"BatchNormalization", "LayerNormalization", "Elu", "Softplus"} <= set(ops)
    assert "Dropout" not in ops  # the identity in inference
    x = wdbc[0].astype(np.float32)
    x = np.concatenate([x, x[:50] * 3.0])  # large inputs reach softplus's threshold branch
    got = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    # float32 both sides, the same operations in a different order: ~1e-7 per value
    np.testing.assert_allclose(got, toolkit.predict_proba(x), rtol=0, atol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_sequential_of_every_layer_kind_equals_xmlp(toolkit, wdbc):
    import torch

    net = torch_sequential(toolkit)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Identity", "BatchNorm1d", "GELU", "Dropout", "Linear", "SiLU", "LayerNorm", "Linear",
                     "ELU", "Linear", "Softplus", "Linear"]  # Dense(16, "linear") is Linear + Identity
    assert not net.training and net[2].momentum == 0.1 and net[9].alpha == 0.7 and net[3].approximate == "tanh"
    weights = to_torch_state_dict(toolkit)
    np.testing.assert_array_equal(weights.state_dict["2.running_var"].numpy(),
                                  toolkit.members[0].get_weights()[1]["running_var"])
    x = wdbc[0]
    features = ((torch.from_numpy(x) - weights.mean) / weights.scale).float()
    with torch.no_grad():
        proba = torch.softmax(net(features) / weights.temperature, dim=1).numpy()
    # float32 both sides; torch's kernels sum in another order: ~1e-7 per value
    np.testing.assert_allclose(proba, toolkit.predict_proba(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("ensemble", [1, 3])
def test_onnx_of_a_regression_equals_xmlps_predictions(ensemble):
    """Linear outputs, their mean over members, and the target scaling undone in float64."""
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (CI installs it with the test extra)")
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = sklearn_datasets.load_diabetes(return_X_y=True)
    model = xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.BatchNorm(), xmlp.Dense(2, "linear")], task="regression",
                            preprocess="yeo-johnson", ensemble=ensemble)
    targets = np.stack([y, x[:, 0] * 100 + 7], axis=1)
    model.fit(x, targets, epochs=3, seed=0)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(["predictions"], {"x": x.astype(np.float32)})[0]
    want = model.predict(x)
    # float32 layers on both sides (~1e-7 relative per output, of values up to ~300): 1e-6 of the
    # largest prediction, as the classification export's 1e-6 of a probability.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
@pytest.mark.parametrize("scaling", [True, False])
def test_torch_sequential_of_a_regression_equals_xmlps_predictions(scaling):
    """The network's standardised outputs, unscaled with the weights' target vectors, averaged
    over the members: xmlp's predictions."""
    import torch

    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x, y = sklearn_datasets.load_diabetes(return_X_y=True)
    targets = np.stack([y, x[:, 0] * 100 + 7], axis=1)
    model = xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.BatchNorm(), xmlp.Dense(2, "linear")], task="regression",
                            preprocess="yeo-johnson", ensemble=2, target_scaling=scaling)
    model.fit(x, targets, epochs=3, seed=0, optimizer="adam")  # (SGD diverges on unscaled targets of ~150)
    features = torch.from_numpy(model.standardizer.transform(x)).float()
    outs = []
    for k in range(2):
        w = to_torch_state_dict(model, k)
        with torch.no_grad():
            outs.append(torch_sequential(model, k)(features).double() * w.target_scale + w.target_mean)
    assert [type(m).__name__ for m in torch_sequential(model)][-1] == "Linear"  # no output activation
    assert w.target_mean.dtype == torch.float64 and tuple(w.target_scale.shape) == (2,)
    if not scaling:
        assert w.target_mean.tolist() == [0.0, 0.0] and w.target_scale.tolist() == [1.0, 1.0]
    want = model.predict(x)
    # float32 layers on both sides (~1e-7 relative per output, of values up to ~300): 1e-6 of the
    # largest prediction, as for ONNX above
    np.testing.assert_allclose(torch.stack(outs).mean(0).numpy(), want, rtol=0, atol=1e-6 * np.abs(want).max())


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_sequential_of_a_multilabel_model_equals_xmlps_probabilities(wdbc):
    import torch

    x = wdbc[0]
    labels = np.stack([x[:, 0] > 14, x[:, 1] > 19, x[:, 2] > 90], axis=1).astype(int)
    model = xmlp.Sequential([xmlp.Dense(10, "relu"), xmlp.Dense(3, "sigmoid")], task="multilabel")
    model.fit(x, labels, epochs=3, seed=0)
    w = to_torch_state_dict(model)
    assert w.target_mean is None and w.target_scale is None
    features = ((torch.from_numpy(x) - w.mean) / w.scale).float()
    with torch.no_grad():
        proba = torch.sigmoid(torch_sequential(model)(features) / w.temperature).numpy()
    # float32 both sides, the same operations in another order: ~1e-7 per probability
    np.testing.assert_allclose(proba, model.predict_proba(x), rtol=0, atol=1e-6)
