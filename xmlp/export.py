"""A trained model in the formats deployment stacks read: ONNX, and PyTorch weights.

- ``to_onnx(model)``: an ONNX graph (``pip install 'xmlp[onnx]'``) that computes what
  ``model.predict_proba`` computes. Input ``x`` (n, n_features) in the model's dtype; the
  preprocessing in float64, as xmlp does it on the host: ``Cast``, the Yeo-Johnson transform
  when the model has one (``Where``/``Log``/``Exp`` per column), ``Sub`` the mean, ``Div`` the
  scale, ``Cast`` back; then per layer ``MatMul`` + ``Add`` and its activation, the softmax
  temperature as ``Div``, ``Softmax``, and for an ensemble the ``Mean`` of its members'
  probabilities. Output ``probabilities`` (n, n_classes), columns in the order of
  ``model.classes`` (stored in the graph's metadata as JSON). ``xmlp export MODEL --to onnx
  OUT.onnx`` writes one.
- ``to_torch_state_dict(model)``: the weights for ``torch_sequential(model)``, a
  ``torch.nn.Sequential`` of ``nn.Linear`` and activation modules that returns the logits, plus
  the preprocessing's vectors and the temperature. xmlp keeps a Dense weight as (n_in, n_out) and
  computes ``x @ W + b``; ``nn.Linear`` keeps (out, in) and computes ``x @ W.T + b``: the state
  dict holds the transposes. The probabilities are
  ``softmax(net(features) / temperature, dim=1)`` with ``features =
  torch.from_numpy(model.standardizer.transform(x)).float()`` (xmlp's own preprocessing, on the
  host), averaged over the members (``member=k``) of an ensemble. Dropout is the identity in
  inference (``nn.Dropout`` in evaluation mode; nothing in ONNX); BatchNorm uses its running
  statistics (``BatchNormalization`` in inference mode; ``nn.BatchNorm1d``), LayerNorm is ONNX's
  ``LayerNormalization`` and ``nn.LayerNorm``; GELU (tanh), SiLU and softplus are written out in
  ONNX as xmlp computes them.

Other tasks: a multi-label model's ONNX output ``probabilities`` is one sigmoid per label (torch:
``torch.sigmoid(net(features) / temperature)``); a regression's ONNX output is ``predictions``
(n, outputs) in the targets' units, and its ``torch_sequential`` returns the network's outputs in
the standardised units it learned: ``net(features) * target_scale + target_mean`` (the weights'
``target_scale`` and ``target_mean``, float64; 1 and 0 with ``target_scaling=False``) are the
predictions, averaged over the members of an ensemble.
"""

import json
from typing import Any, NamedTuple

import numpy as np

from ._version import __version__

OPSET = 17  # every onnxruntime of the last years runs it
_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid", "leakyRelu": "LeakyRelu",
                     "linear": "Identity", "softmax": "Softmax", "elu": "Elu"}
_TORCH_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid", "leakyRelu": "LeakyReLU",
                      "linear": "Identity", "softmax": "Softmax", "gelu": "GELU", "silu": "SiLU", "elu": "ELU",
                      "softplus": "Softplus"}


def _check(model: Any, member: int = 0) -> None:
    if not model.built:
        raise ValueError("expected a trained model; received one that was never fitted")
    if not 0 <= member < len(model.members):
        raise ValueError(f"expected a member index in [0, {len(model.members) - 1}]; received {member}")


class _Graph:
    """Nodes and constants of an ONNX graph under construction."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.constants: list[Any] = []
        self.dtype = "float32"  # of the network's values (constants of activations are made in it)

    def const(self, name: str, value: Any) -> str:
        self.constants.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, [output], **attributes))
        return output


def _yeo_johnson(g: _Graph, x: str, lambdas: np.ndarray) -> str:
    """``power.transform`` in float64 nodes: log(1 + |x|) per sign, then (exp(c·l) − 1)/c with
    c = λ (x ≥ 0) or 2 − λ (x < 0), and the log forms where c = 0."""
    zero = g.const("yj.zero", np.zeros((), np.float64))
    one = g.const("yj.one", np.ones((), np.float64))
    pos = g.op("GreaterOrEqual", [x, zero], "yj.pos")
    lp = g.op("Log", [g.op("Add", [g.op("Where", [pos, x, zero], "yj.xp"), one], "yj.1xp")], "yj.lp")
    ln = g.op("Log", [g.op("Add", [g.op("Where", [pos, zero, g.op("Neg", [x], "yj.-x")], "yj.xn"), one], "yj.1xn")],
              "yj.ln")
    out = {}
    for side, log, c in (("up", lp, lambdas), ("down", ln, 2.0 - lambdas)):
        flat = np.abs(c) < 1e-12
        cc = g.const(f"yj.{side}.c", c)
        powered = g.op("Div", [g.op("Sub", [g.op("Exp", [g.op("Mul", [log, cc], f"yj.{side}.u")], f"yj.{side}.e"), one],
                                    f"yj.{side}.em1"), g.const(f"yj.{side}.den", np.where(flat, 1.0, c))], f"yj.{side}.p")
        out[side] = g.op("Where", [g.const(f"yj.{side}.flat", flat), log, powered], f"yj.{side}")
    down = g.op("Neg", [out["down"]], "yj.-down")
    return g.op("Where", [pos, out["up"], down], "yj.y")


def _onnx_activation(g: _Graph, fn: Any, z: str, out: str) -> str:
    """The nodes of activation ``fn`` on ``z``: one op where ONNX has it, else written out as
    xmlp computes it (GELU's tanh form, SiLU as z·sigmoid(z), softplus with torch's threshold)."""
    name = fn.name
    if name in _ONNX_ACTIVATIONS:
        extra = {"alpha": fn.alpha} if name in ("leakyRelu", "elu") else {"axis": 1} if name == "softmax" else {}
        return g.op(_ONNX_ACTIVATIONS[name], [z], out, **extra)
    if name == "silu":
        return g.op("Mul", [z, g.op("Sigmoid", [z], f"{out}.s")], out)
    if name == "softplus":
        t = g.const(f"{out}.threshold", np.asarray(fn.THRESHOLD, dtype=g.dtype))
        soft = g.op("Softplus", [g.op("Min", [z, t], f"{out}.min")], f"{out}.sp")
        return g.op("Where", [g.op("Greater", [z, t], f"{out}.above"), z, soft], out)
    if name == "gelu":  # 0.5 z (1 + tanh(c (z + 0.044715 z^3)))
        c = {k: g.const(f"{out}.{k}", np.asarray(v, dtype=g.dtype))
             for k, v in (("c", fn._C), ("k", 0.044715), ("half", 0.5), ("one", 1.0))}
        cube = g.op("Mul", [g.op("Mul", [z, z], f"{out}.z2"), z], f"{out}.z3")
        inner = g.op("Mul", [c["c"], g.op("Add", [z, g.op("Mul", [c["k"], cube], f"{out}.kz3")], f"{out}.sum")],
                     f"{out}.inner")
        t = g.op("Add", [c["one"], g.op("Tanh", [inner], f"{out}.t")], f"{out}.1t")
        return g.op("Mul", [g.op("Mul", [c["half"], z], f"{out}.hz"), t], out)
    raise ValueError(f"expected an activation ONNX export knows; received {name!r}")


def _onnx_layers(g: _Graph, net: Any, z: str, prefix: str) -> str:
    """The nodes of a network's layers on input ``z``; returns the logits' name (before the
    output activation, which the caller applies with the temperature)."""
    last = len(net.layers) - 1
    for i, (layer, w) in enumerate(zip(net.layers, net.get_weights())):
        name = f"{prefix}layers.{i}"
        if layer.kind == "Dense":
            z = g.op("MatMul", [z, g.const(f"{name}.weight", w["weight"])], f"{prefix}matmul.{i}")
            z = g.op("Add", [z, g.const(f"{name}.bias", w["bias"])], f"{prefix}z.{i}")
            if i < last:
                z = _onnx_activation(g, layer.activation, z, f"{prefix}a.{i}")
        elif layer.kind == "Activation":
            z = _onnx_activation(g, layer.activation, z, f"{prefix}a.{i}")
        elif layer.kind == "BatchNorm":
            inputs = [g.const(f"{name}.{k}", w[k]) for k in ("weight", "bias", "running_mean", "running_var")]
            z = g.op("BatchNormalization", [z, *inputs], f"{prefix}bn.{i}", epsilon=layer.eps)
        elif layer.kind == "LayerNorm":
            z = g.op("LayerNormalization", [z, g.const(f"{name}.weight", w["weight"]), g.const(f"{name}.bias", w["bias"])],
                     f"{prefix}ln.{i}", axis=-1, epsilon=layer.eps)
        elif layer.kind != "Dropout":  # Dropout is the identity in inference
            raise ValueError(f"expected layers ONNX export knows; received {layer.kind!r}")
    return z


def to_onnx(model: Any) -> Any:
    """The ONNX ``ModelProto`` of a fitted ``Sequential`` (checked by ``onnx.checker``)."""
    from onnx import TensorProto

    _check(model)
    g = _Graph()
    g.dtype = model.dtype_name
    elem = TensorProto.FLOAT if model.dtype_name == "float32" else TensorProto.DOUBLE
    x, pre = "x", model.standardizer
    if pre is not None and pre.mean is not None:
        x = g.op("Cast", [x], "x64", to=TensorProto.DOUBLE)
        if pre.lambdas is not None:
            x = _yeo_johnson(g, x, pre.lambdas)
        x = g.op("Sub", [x, g.const("preprocess.mean", pre.mean)], "centred")
        x = g.op("Div", [x, g.const("preprocess.scale", pre.scale)], "scaled")
        x = g.op("Cast", [x], "features", to=elem)
    h = g.helper
    if model.task == "regression":
        return _finish(model, g, _onnx_regression(g, model, x, elem), elem)
    temperature = g.const("temperature", np.asarray(model.temperature, dtype=model.dtype_name))
    outputs = []
    for k, net in enumerate(model.members):
        prefix = f"members.{k}." if k else ""
        z = g.op("Div", [_onnx_layers(g, net, x, prefix), temperature], f"{prefix}logits")
        single = len(model.members) == 1
        name = "probabilities" if single else f"members.{k}.probabilities"
        # one softmax over the classes; multi-label: one sigmoid per label
        outputs.append(g.op("Sigmoid", [z], name) if model.task == "multilabel" else g.op("Softmax", [z], name, axis=1))
    if len(outputs) > 1:
        g.op("Mean", outputs, "probabilities")
    return _finish(model, g, h.make_tensor_value_info("probabilities", elem, ["n", len(model.classes)]), elem)


def _onnx_regression(g: _Graph, model: Any, x: str, elem: Any) -> Any:
    """A regression's outputs: each member's linear outputs, their mean, and the target scaling
    undone in float64 (``Mul`` by target.scale, ``Add`` target.mean): ``predictions`` (n, outputs)."""
    from onnx import TensorProto

    outputs = [_onnx_layers(g, net, x, f"members.{k}." if k else "") for k, net in enumerate(model.members)]
    z = g.op("Mean", outputs, "outputs.mean") if len(outputs) > 1 else outputs[0]
    z = g.op("Cast", [z], "scaled64", to=TensorProto.DOUBLE)
    z = g.op("Mul", [z, g.const("target.scale", model.encoder.scale)], "unscaled")
    z = g.op("Add", [z, g.const("target.mean", model.encoder.mean)], "predictions64")
    g.op("Cast", [z], "predictions", to=elem)
    return g.helper.make_tensor_value_info("predictions", elem, ["n", model.network.n_outputs])


def _finish(model: Any, g: _Graph, output: Any, elem: Any) -> Any:
    import onnx

    h = g.helper
    graph = h.make_graph(g.nodes, "xmlp", [h.make_tensor_value_info("x", elem, ["n", model.n_features])], [output],
                         g.constants)
    proto = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)], producer_name="xmlp",
                         producer_version=__version__)
    proto.ir_version = 8  # the IR of opset 17: runtimes of that age accept it
    h.set_model_props(proto, {"classes": json.dumps(model.classes), "feature_names": json.dumps(model.feature_names)})
    onnx.checker.check_model(proto)
    return proto


def onnx_bytes(model: Any) -> bytes:
    """The serialized ONNX file of a fitted ``Sequential``."""
    out: bytes = to_onnx(model).SerializeToString()
    return out


class TorchWeights(NamedTuple):
    """What ``torch_sequential`` loads, and what goes around it (see the module's text)."""

    state_dict: dict[str, Any]  #: ``{"0.weight": W0.T, "0.bias": b0, "2.weight": …}``, torch tensors
    mean: Any  #: float64 tensor (n_features,), or None without preprocessing: (T(x) - mean) / scale
    scale: Any  #: float64 tensor (n_features,), or None
    lambdas: Any  #: float64 tensor of the Yeo-Johnson λ per feature (T), or None (T is the identity)
    temperature: float  #: divide the logits by this before the softmax (multi-label: the sigmoid)
    target_mean: Any = None  #: a regression's float64 tensor (outputs,): predictions = out * target_scale + target_mean
    target_scale: Any = None  #: a regression's float64 tensor (outputs,); None for a classifier


def _torch_plan(model: Any, member: int) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """The modules of ``torch_sequential`` in order: (torch.nn class name, arguments, tensors)."""
    net = model.members[member]
    plan: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def activation(fn: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        args = {"leakyRelu": (fn.params().get("alpha"),), "elu": (fn.params().get("alpha"),), "softmax": ("dim=1",),
                "gelu": ("approximate=tanh",)}.get(fn.name, ())
        return _TORCH_ACTIVATIONS[fn.name], args, {}

    widths = net.widths(model.n_features)
    for i, (layer, w) in enumerate(zip(net.layers, net.get_weights())):
        n_in = widths[i]
        if layer.kind == "Dense":
            plan.append(("Linear", (n_in, layer.units), {"weight": np.ascontiguousarray(w["weight"].T),
                                                          "bias": np.ascontiguousarray(w["bias"])}))
            if i < len(net.layers) - 1:
                plan.append(activation(layer.activation))
        elif layer.kind == "Activation":
            plan.append(activation(layer.activation))
        elif layer.kind == "Dropout":
            plan.append(("Dropout", (layer.rate,), {}))
        elif layer.kind == "BatchNorm":
            plan.append(("BatchNorm1d", (n_in, layer.eps, layer.momentum), {**w, "num_batches_tracked": np.zeros((), np.int64)}))
        elif layer.kind == "LayerNorm":
            plan.append(("LayerNorm", (n_in, layer.eps), dict(w)))
        else:
            raise ValueError(f"expected layers torch export knows; received {layer.kind!r}")
    return plan


def to_torch_state_dict(model: Any, member: int = 0) -> TorchWeights:
    """The weights of a fitted ``Sequential`` (of one member of an ensemble) for
    ``torch_sequential(model, member)``, keyed by module index: a Dense network's ``nn.Linear``
    at indices 0, 2, 4, … (hidden activations between them), weights transposed to (out, in), in
    the model's dtype; a ``BatchNorm1d``'s weight, bias and running statistics, a ``LayerNorm``'s
    weight and bias at theirs; plus the preprocessing's vectors and the temperature."""
    import torch

    _check(model, member)
    state = {f"{i}.{key}": torch.from_numpy(np.ascontiguousarray(value))
             for i, (_, _, tensors) in enumerate(_torch_plan(model, member)) for key, value in tensors.items()}
    pre = model.standardizer

    def vector(name: str) -> Any:
        value = getattr(pre, name, None) if pre is not None else None
        return None if value is None else torch.from_numpy(np.array(value, dtype=np.float64))

    target = (model.encoder.mean, model.encoder.scale) if model.task == "regression" else ()
    return TorchWeights(state, vector("mean"), vector("scale"), vector("lambdas"), float(model.temperature),
                        *(torch.from_numpy(np.array(v, dtype=np.float64)) for v in target))


def torch_sequential(model: Any, member: int = 0) -> Any:
    """A ``torch.nn.Sequential`` (Linear, activation, …, Linear; ``Dropout``, ``BatchNorm1d``,
    ``LayerNorm`` where the model has those layers) returning the logits (a regression: its
    standardised outputs; see the module's text), with the weights of the model (of one member
    of an ensemble) loaded, in evaluation mode."""
    _check(model, member)
    plan = _torch_plan(model, member)  # (a model it cannot export is refused before torch is needed)
    import torch

    dtype = getattr(torch, model.dtype_name)
    modules: list[Any] = []
    for name, args, _ in plan:
        cls = getattr(torch.nn, name)
        if name == "Linear":
            modules.append(cls(*args, dtype=dtype))
        elif name in ("BatchNorm1d", "LayerNorm"):
            size, eps, *momentum = args
            modules.append(cls(size, eps=eps, **({"momentum": momentum[0]} if momentum else {}), dtype=dtype))
        elif args and isinstance(args[0], str):
            key, value = args[0].split("=")
            modules.append(cls(**{key: int(value) if key == "dim" else value}))
        else:
            modules.append(cls(*args))
    net = torch.nn.Sequential(*modules)
    net.load_state_dict(to_torch_state_dict(model, member).state_dict)
    return net.eval()
