"""Export: ONNX (probabilities from onnxruntime equal xmlp's) and PyTorch weights (torch's
forward equals xmlp's)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import xmlp
from xmlp.activations import LeakyReLU
from xmlp.export import to_onnx, to_torch_state_dict, torch_sequential
from xmlp.split import split_indices


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


def test_onnxruntime_probabilities_equal_xmlps(model, wdbc):
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'xmlp[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (CI installs it with the test extra)")
    x = wdbc[0].astype(np.float32)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"x": x})[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-6)


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
    assert tuple(weights.state_dict["0.weight"].shape) == (12, 30)  # nn.Linear's (out, in)
    net = torch_sequential(model)
    x = wdbc[0]
    features = ((torch.from_numpy(x) - weights.mean) / weights.scale).float()
    with torch.no_grad():
        proba = torch.softmax(net(features) / weights.temperature, dim=1).numpy()
    np.testing.assert_allclose(proba, model.predict_proba(x), rtol=0, atol=1e-6)
    plain = torch.nn.Sequential(*[m for m in net])  # the documented layout loads into a fresh nn.Sequential
    plain.load_state_dict(weights.state_dict)
