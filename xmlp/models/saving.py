"""Between an estimator and its model file: the description and tensors a fitted ``Sequential``
is saved as, and how one is rebuilt from them. The file format itself (bytes, validation) is
``io.model_file``'s; the estimator class is passed in, so neither module imports the other's
users."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

import numpy as np

from ..data.fingerprint import Fingerprint
from ..data.preprocessing import Standardizer
from ..data.targets import TargetScaler
from ..errors import DataError
from ..nn.layers import from_config
from ..optim import optimizers
from .state import TrainingState

METADATA_KEYS = ("training", "metrics")
M = TypeVar("M")


def file_data(model: Any, metadata: Mapping[str, Any] | None = None, include_optimizer: bool = True,
              include_fingerprint: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(JSON description, host tensors) of a fitted model; ``metadata`` may add JSON-able
    ``training`` settings and final ``metrics``; ``include_optimizer``: the training state too
    (optimizer slots as tensors, the rest as the ``resume`` document), when the model has one."""
    if not model.built:
        raise ValueError("expected a trained model; received one that was never fitted")
    extra = dict(metadata or {})
    unknown = sorted(set(extra) - set(METADATA_KEYS))
    if unknown:
        raise ValueError(f"expected metadata keys among {', '.join(METADATA_KEYS)}; received {unknown}")
    tensors: dict[str, np.ndarray] = {}
    for k, net in enumerate(model.members):
        for i, w in enumerate(net.get_weights()):
            for key, value in w.items():
                tensors[f"{f'members.{k}.' if k else ''}layers.{i}.{key}"] = value
    for key, tensor in tensors.items():
        if not np.isfinite(tensor).all():
            raise ValueError(f"expected finite weights to save; received NaN or infinity in {key} "
                             "(did the fit diverge?)")
    pre = model.standardizer
    if pre is not None:
        tensors["preprocess.mean"], tensors["preprocess.scale"] = pre.mean, pre.scale
        if pre.lambdas is not None:
            tensors["preprocess.lambdas"] = pre.lambdas
    if model.task == "regression":
        tensors["target.mean"], tensors["target.scale"] = model.encoder.mean, model.encoder.scale
    meta = {
        "topology": model.network.config(),
        "dtype": model.dtype_name,
        "classes": [_jsonable(c) for c in model.classes],
        "positive_class": _jsonable(model.positive_class),
        "feature_names": model.feature_names,
        "loss": model.loss_name,
        "preprocess": pre.method if pre is not None else None,
        "ensemble": len(model.members),
        "temperature": model.temperature,
        "training": extra.get("training", {}),
        "metrics": extra.get("metrics", {}),
    }
    if model.network.loss.config() != {"name": model.loss_name}:
        meta["loss_config"] = model.network.loss.config()
    if model.task != "classification":
        meta["task"] = model.task
    if model.task == "regression":
        meta["target"] = {"scaling": model.encoder.scaling, "flat": model.encoder.flat}
    state = model.training_state
    if include_optimizer and state is not None and state.optimizer_config["name"] in optimizers.OPTIMIZERS:
        meta["resume"], slots = state.file_data()
        for key, tensor in slots.items():
            if not np.isfinite(tensor).all():
                raise ValueError(f"expected a finite optimizer state to save; received NaN or infinity in {key}")
        tensors.update(slots)
    if include_fingerprint and model.fingerprint is not None:
        meta["fingerprint"] = model.fingerprint.meta()
        tensors.update(model.fingerprint.tensors())
    return meta, tensors


def restore(cls: type[M], meta: dict[str, Any], tensors: dict[str, np.ndarray], *, backend: Any = None,
            source: str = "model") -> M:
    """An estimator of class ``cls`` rebuilt from validated file data; a layer description that
    does not make a layer is a DataError naming ``source``."""
    layers = []
    for i, config in enumerate(meta["topology"]["layers"]):
        try:
            layers.append(from_config(config))
        except ValueError as exc:
            raise DataError(f"{source}: {exc} (in layers.{i})") from None
    try:
        model: Any = cls(layers, loss=meta.get("loss_config", meta["loss"]), backend=backend,  # type: ignore[call-arg]
                         dtype=meta["dtype"], preprocess=meta.get("preprocess"), ensemble=meta.get("ensemble", 1))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{source}: {exc}") from None
    if model.task != meta.get("task", "classification"):
        raise DataError(f"{source}: expected a {meta.get('task', 'classification')} loss; received {model.loss_name}")
    if model.task == "regression":
        target: dict[str, Any] = meta["target"] if isinstance(meta.get("target"), dict) else {}
        model.encoder = TargetScaler(tensors["target.mean"], tensors["target.scale"],
                                     scaling=bool(target.get("scaling", True)))
        model.encoder.flat = bool(target.get("flat", False))
    _check_layer_tensors(source, model, meta, tensors)
    if model.standardizer is not None:
        model.standardizer = Standardizer(tensors["preprocess.mean"], tensors["preprocess.scale"],
                                          tensors.get("preprocess.lambdas"))
    if model.task != "regression":  # a classification's classes, or a multi-label model's labels
        model.encoder.classes = list(meta["classes"])
    model.positive_class = meta.get("positive_class", model.classes[-1] if model.classes else None)
    model.feature_names = meta.get("feature_names")
    model.temperature = float(meta.get("temperature", 1.0))
    model.metadata = {"training": meta.get("training", {}), "metrics": meta.get("metrics", {}),
                      "xmlp_version": meta.get("xmlp_version")}
    shapes = model.network.tensor_shapes(meta["topology"]["n_features"])
    for k, net in enumerate(model.members):
        prefix = f"members.{k}." if k else ""
        net.set_weights([{key: tensors[f"{prefix}layers.{i}.{key}"] for key in layer_shapes}
                         for i, layer_shapes in enumerate(shapes)], meta["topology"]["n_features"])
    seed = meta["resume"].get("seed") if "resume" in meta else model.metadata["training"].get("seed")
    model.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    if "fingerprint" in meta:
        try:
            model.fingerprint = Fingerprint.from_file(meta["fingerprint"], tensors, source)
            if model.fingerprint.low is not None and len(model.fingerprint.low) != model.n_features:
                raise ValueError(f"{source}: expected a training range of {model.n_features} features; received "
                                 f"{len(model.fingerprint.low)}")
        except ValueError as exc:
            raise DataError(str(exc)) from None
    if "resume" in meta:
        try:
            model.training_state = TrainingState.from_file_data(meta["resume"], tensors, model.members)
        except (ValueError, TypeError) as exc:  # an optimizer config or generator state that does not fit
            raise DataError(f"{source}: {exc} (in resume)") from None
    return model  # type: ignore[no-any-return]


def _check_layer_tensors(source: str, model: Any, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Every tensor the rebuilt layers declare, of its shape, for every member (the file layer
    checked names, dtypes and finiteness); one output per class."""
    n_out, classes = model.network.n_outputs, meta["classes"]
    if model.task == "regression":
        if tensors["target.mean"].shape != (n_out,):
            raise DataError(f"{source}: expected target.mean of shape ({n_out},); received {tensors['target.mean'].shape}")
    elif len(classes) != n_out:
        text = repr(classes)
        raise DataError(f"{source}: expected {n_out} distinct class labels; received {len(classes)}: "
                        f"{text if len(text) <= 120 else text[:119] + '…'}")
    shapes = model.network.tensor_shapes(meta["topology"]["n_features"])
    for k in range(len(model.members)):
        prefix = f"members.{k}." if k else ""
        for i, layer_shapes in enumerate(shapes):
            for key, shape in layer_shapes.items():
                name = f"{prefix}layers.{i}.{key}"
                if name not in tensors:
                    raise DataError(f"{source}: expected a tensor {name}; received a file without it")
                if tuple(tensors[name].shape) != shape:
                    raise DataError(f"{source}: expected {name} of shape {shape}; received {tuple(tensors[name].shape)}")
                if key == "running_var" and float(tensors[name].min(initial=0.0)) < 0.0:
                    raise DataError(f"{source}: expected running variances >= 0 in {name}; received a negative one")
    declared = {f"{f'members.{k}.' if k else ''}layers.{i}.{key}" for k in range(len(model.members))
                for i, layer_shapes in enumerate(shapes) for key in layer_shapes}
    extra = sorted(k for k in tensors if ".optimizer." not in f".{k}" and not k.startswith(("preprocess.", "target."))
                   and k not in declared and not (k.split(".")[0] == "fingerprint" and "fingerprint" in meta))
    if extra:
        raise DataError(f"{source}: expected only the tensors of the topology; received extra {extra[:5]!r}")


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
