"""The model file: layout, metadata, validation, and that it knows data, not classes."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp.errors import DataError
from xmlp.io.model_file import read_model_file, write_model_file


def test_model_file_layout_and_metadata(cli, tmp_path):
    assert cli("train", "--epochs", "3", "--out", "r", "--quiet", "--no-plots")[0] == 0
    meta, tensors = read_model_file(tmp_path / "r/model.safetensors")
    assert sorted(tensors) == ["fingerprint", "fingerprint.high", "fingerprint.low", "layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight",
                               "layers.2.bias", "layers.2.weight", "preprocess.lambdas", "preprocess.mean",
                               "preprocess.scale"]
    assert meta["preprocess"] == "yeo-johnson" and meta["ensemble"] == 1
    assert tensors["layers.0.weight"].shape == (30, 24) and tensors["layers.0.weight"].dtype == np.float32
    assert meta["format"] == "xmlp-model" and meta["format_version"] == 5 and meta["xmlp_version"] == xmlp.__version__
    assert [l["activation"] for l in meta["topology"]["layers"]] == ["tanh", "tanh", "softmax"]
    assert meta["classes"] == ["B", "M"] and meta["positive_class"] == "M" and meta["loss"] == "binaryCrossentropy"
    assert meta["feature_names"][0] == "mean radius" and meta["training"]["seed"] == 42
    assert meta["training"]["optimizer"]["name"] == "sgd" and 0 < meta["metrics"]["val_bce"] < 1
    assert b"pickle" not in (tmp_path / "r/model.safetensors").read_bytes()
    # The refit saved model trained on all 569 rows: their fingerprint, 8 bytes a row.
    assert meta["fingerprint"]["rows"] == 569 and tensors["fingerprint"].shape == (569,)


def _meta(**over):
    meta = {"topology": {"n_features": 3, "layers": [{"kind": "Dense", "units": 2, "activation": "softmax"}]},
            "dtype": "float64", "classes": ["a", "b"], "loss": "categoricalCrossentropy", "preprocess": None}
    return {**meta, **over}


TENSORS = {"layers.0.weight": np.arange(6.0).reshape(3, 2), "layers.0.bias": np.zeros(2)}


def test_plain_data_round_trip(tmp_path):
    """The file layer takes and gives plain data: JSON metadata and host arrays, no classes."""
    write_model_file(tmp_path / "m.safetensors", _meta(), TENSORS)
    meta, tensors = read_model_file(tmp_path / "m.safetensors")
    assert meta["format"] == "xmlp-model" and meta["classes"] == ["a", "b"]
    assert set(tensors) == set(TENSORS) and np.array_equal(tensors["layers.0.weight"], TENSORS["layers.0.weight"])


@pytest.mark.parametrize("meta, message", [
    (_meta(topology=[1, 2]), "expected a topology with n_features and layers; received [1, 2]"),
    (_meta(topology={"n_features": True, "layers": [{"units": 2}]}), "expected a topology with n_features and layers"),
    (_meta(topology={"n_features": 3, "layers": [7]}), "expected a description (a JSON object) for layers.0; received 7"),
    (_meta(classes=["a", "a"]), "expected 2 distinct class labels; received ['a', 'a']"),
    (_meta(classes=[["a"], "b"]), "expected 2 distinct class labels"),
    (_meta(feature_names=["x", "y", 3]), "expected 3 feature names; received ['x', 'y', 3]"),
    (_meta(temperature=True), "expected a temperature in [0.001, 1000] (calibration finds one in [0.05, 20]); received True"),
    (_meta(temperature=5e-324), "expected a temperature in [0.001, 1000]"),  # 1/T would overflow
    (_meta(classes=[0, 1] + ["a"] * 10_000), "received [0, 1, 'a', 'a',"),  # a huge value is cut short
])
def test_malformed_metadata_is_a_data_error(tmp_path, meta, message):
    write_model_file(tmp_path / "m.safetensors", meta, TENSORS)
    with pytest.raises(DataError) as err:
        read_model_file(tmp_path / "m.safetensors")
    assert message in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize("meta, tensors, message", [
    (_meta(topology={"n_features": 3, "layers": [{"kind": "Dense", "units": True}]}), TENSORS,
     "m.safetensors: expected a Dense layer width >= 1; received True (in layers.0)"),
    (_meta(topology={"n_features": 3, "layers": [{"kind": "Conv", "units": 2}]}), TENSORS,
     "m.safetensors: expected a layer kind among Dense, Dropout, BatchNorm, LayerNorm, Activation; received 'Conv' (in layers.0)"),
    (_meta(classes=list(range(10_000))), TENSORS, "m.safetensors: expected 2 distinct class labels; received 10000: [0, 1, 2,"),
    (_meta(), {"layers.0.weight": np.zeros((3, 3)), "layers.0.bias": np.zeros(2)},
     "m.safetensors: expected layers.0.weight of shape (3, 2); received (3, 3)"),
    (_meta(), {"layers.0.weight": np.zeros((3, 2))}, "m.safetensors: expected a tensor layers.0.bias; received a file without it"),
    (_meta(), {**TENSORS, "layers.0.running_mean": np.zeros(2)},
     "m.safetensors: expected only the tensors of the topology; received extra ['layers.0.running_mean']"),
])
def test_the_layers_tensors_are_checked_by_the_estimator(tmp_path, meta, tensors, message):
    """The file layer checks names, dtypes and finiteness; the shapes follow from the layers, which
    the estimator rebuilds and checks (one line, the file's name first)."""
    write_model_file(tmp_path / "m.safetensors", meta, tensors)
    read_model_file(tmp_path / "m.safetensors")  # as data, the file is fine
    with pytest.raises(DataError) as err:
        xmlp.load_model(tmp_path / "m.safetensors")
    assert str(err.value).startswith(str(tmp_path / message)) and len(str(err.value)) <= 400 + len(str(tmp_path)), str(err.value)


def test_layer_descriptions_are_checked_by_the_estimator(tmp_path):
    bad = _meta(topology={"n_features": 3, "layers": [{"kind": "Dense", "units": 2, "activation": "softmax",
                                                       "kernel_initializer": 7}]})
    write_model_file(tmp_path / "m.safetensors", bad, TENSORS)
    with pytest.raises(DataError, match=r"m.safetensors: expected an initializer among heUniform.*; received 7 \(in layers.0\)"):
        xmlp.load_model(tmp_path / "m.safetensors")
