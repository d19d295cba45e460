"""A trained model in the formats deployment stacks read: ONNX, and PyTorch weights.

- ``to_onnx(model)``: an ONNX graph (``pip install 'xmlp[onnx]'``) that computes what
  ``model.predict_proba`` computes — input ``x`` (n, n_features) in the model's dtype, the
  standardisation as ``Cast``/``Sub``/``Div`` in float64 (as xmlp does it on the host), then per
  layer ``MatMul`` + ``Add`` and its activation, the softmax temperature as ``Div``, and
  ``Softmax``; output ``probabilities`` (n, n_classes), columns in the order of
  ``model.classes`` (also stored in the graph's metadata as JSON). ``xmlp export MODEL --to onnx
  OUT.onnx`` writes one.
- ``to_torch_state_dict(model)``: the weights for ``torch_sequential(model)``, a
  ``torch.nn.Sequential`` of ``nn.Linear`` and activation modules that returns the logits, plus
  the standardisation and the temperature: probabilities are
  ``softmax(net(((x - mean) / scale).float()) / temperature, dim=1)``. xmlp keeps a Dense
  weight as (n_in, n_out) and computes ``x @ W + b``; ``nn.Linear`` keeps (out, in) and computes
  ``x @ W.T + b``: the state dict holds the transposes.
"""


import json
from typing import Any, NamedTuple

import numpy as np

from ._version import __version__

OPSET = 17  # every onnxruntime of the last years runs it
_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "leakyRelu": "LeakyRelu",
                     "linear": "Identity", "softmax": "Softmax"}
_TORCH_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid", "leakyRelu": "LeakyReLU",
                      "linear": "Identity", "softmax": "Softmax"}


def _check(model: Any) -> None:
    if not model.built:
        raise ValueError("expected a trained model; received one that was never fitted")


def to_onnx(model: Any) -> Any:
    """The ONNX ``ModelProto`` of a fitted ``Sequential`` (checked by ``onnx.checker``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    _check(model)
    elem = TensorProto.FLOAT if model.dtype_name == "float32" else TensorProto.DOUBLE
    weights, nodes, inits = model.get_weights(), [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    x = "x"
    if model.standardizer is not None and model.standardizer.mean is not None:
        nodes += [helper.make_node("Cast", ["x"], ["x64"], to=TensorProto.DOUBLE),
                  helper.make_node("Sub", ["x64", const("mean", model.standardizer.mean)], ["centred"]),
                  helper.make_node("Div", ["centred", const("scale", model.standardizer.scale)], ["scaled"]),
                  helper.make_node("Cast", ["scaled"], ["standardized"], to=elem)]
        x = "standardized"
    last = len(model.layers) - 1
    for i, (layer, w) in enumerate(zip(model.layers, weights)):
        nodes += [helper.make_node("MatMul", [x, const(f"layers.{i}.weight", w["weight"])], [f"matmul.{i}"]),
                  helper.make_node("Add", [f"matmul.{i}", const(f"layers.{i}.bias", w["bias"])], [f"z.{i}"])]
        x = f"z.{i}"
        if i < last:
            name = layer.activation.name
            extra = {"alpha": layer.activation.alpha} if name == "leakyRelu" else {"axis": 1} if name == "softmax" else {}
            nodes.append(helper.make_node(_ONNX_ACTIVATIONS[name], [x], [f"a.{i}"], **extra))
            x = f"a.{i}"
    temperature = np.asarray(model.temperature, dtype=model.dtype_name)
    nodes += [helper.make_node("Div", [x, const("temperature", temperature)], ["logits"]),
              helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "xmlp", [helper.make_tensor_value_info("x", elem, ["n", model.n_features])],
        [helper.make_tensor_value_info("probabilities", elem, ["n", len(model.classes)])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="xmlp",
                              producer_version=__version__)
    proto.ir_version = 8  # the IR of opset 17: runtimes of that age accept it
    helper.set_model_props(proto, {"classes": json.dumps(model.classes),
                                   "feature_names": json.dumps(model.feature_names)})
    onnx.checker.check_model(proto)
    return proto


def onnx_bytes(model: Any) -> bytes:
    """The serialized ONNX file of a fitted ``Sequential``."""
    out: bytes = to_onnx(model).SerializeToString()
    return out


class TorchWeights(NamedTuple):
    """What ``torch_sequential`` loads, and what goes around it."""

    state_dict: dict[str, Any]  #: ``{"0.weight": W0.T, "0.bias": b0, "2.weight": …}``, torch tensors
    mean: Any  #: float64 tensor (n_features,): subtract from the features…
    scale: Any  #: …then divide by this (None, None for a model without standardisation)
    temperature: float  #: divide the logits by this before the softmax


def to_torch_state_dict(model: Any) -> TorchWeights:
    """The weights of a fitted ``Sequential`` for ``torch_sequential(model)``: ``nn.Linear`` at
    indices 0, 2, 4, … (hidden activations between them), weights transposed to (out, in), in
    the model's dtype; plus the standardisation and the temperature (see the module's text)."""
    import torch

    _check(model)
    state = {}
    for i, w in enumerate(model.get_weights()):
        state[f"{2 * i}.weight"] = torch.from_numpy(np.ascontiguousarray(w["weight"].T))
        state[f"{2 * i}.bias"] = torch.from_numpy(np.ascontiguousarray(w["bias"]))
    std = model.standardizer
    has_std = std is not None and std.mean is not None
    return TorchWeights(state, torch.from_numpy(std.mean.copy()) if has_std else None,
                        torch.from_numpy(std.scale.copy()) if has_std else None, float(model.temperature))


def torch_sequential(model: Any) -> Any:
    """A ``torch.nn.Sequential`` (Linear, activation, …, Linear) returning the logits, with the
    model's weights loaded (``load_state_dict`` of ``to_torch_state_dict(model).state_dict``)."""
    import torch

    _check(model)
    modules: list[Any] = []
    n_in = model.n_features
    for i, layer in enumerate(model.layers):
        modules.append(torch.nn.Linear(n_in, layer.units, dtype=getattr(torch, model.dtype_name)))
        if i < len(model.layers) - 1:
            name = layer.activation.name
            cls = getattr(torch.nn, _TORCH_ACTIVATIONS[name])
            modules.append(cls(layer.activation.alpha) if name == "leakyRelu" else cls(dim=1) if name == "softmax" else cls())
        n_in = layer.units
    net = torch.nn.Sequential(*modules)
    net.load_state_dict(to_torch_state_dict(model).state_dict)
    return net.eval()
