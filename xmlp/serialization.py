"""The model file: safetensors tensors plus one JSON metadata document. No pickle, no code.

Tensors: ``layers.{i}.weight``, ``layers.{i}.bias``, ``preprocess.mean``, ``preprocess.scale``.
Metadata key ``xmlp``: format name and version, xmlp version, topology, classes, features,
loss, calibration, training settings and final metrics. Loading validates all of it.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import activations, initializers, losses
from .errors import DataError, NoInputError
from .fileio import atomic_write

FORMAT = "xmlp-model"
FORMAT_VERSION = 1
_DTYPES = ("float32", "float64")


def model_bytes(model: Any) -> bytes:
    from . import __version__

    if not model.built:
        raise ValueError("expected a trained model; received one that was never fitted")
    tensors: dict[str, np.ndarray] = {}
    for i, w in enumerate(model.get_weights()):
        tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w["weight"])
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(w["bias"])
    if model.standardizer is not None:
        tensors["preprocess.mean"] = model.standardizer.mean
        tensors["preprocess.scale"] = model.standardizer.scale
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "xmlp_version": __version__,
        "topology": {"n_features": model.n_features, "layers": [l.config() for l in model.layers]},
        "dtype": model.dtype_name,
        "classes": [_jsonable(c) for c in model.classes],
        "positive_class": _jsonable(model.positive_class),
        "feature_names": model.feature_names,
        "loss": model.loss_name,
        "preprocess": "standardize" if model.standardizer is not None else None,
        "temperature": model.temperature,
        "training": model.info.get("training", {}),
        "metrics": model.info.get("metrics", {}),
    }
    import safetensors.numpy  # imported when a model is saved or loaded, not with xmlp

    return safetensors.numpy.save(tensors, metadata={"xmlp": json.dumps(meta)})


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write atomically: a failed or interrupted save leaves a previous file intact."""
    atomic_write(path, model_bytes(model))


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, tensors) of a file, validated; raises DataError/NoInputError with the reason."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise NoInputError(f"{name}: expected an xmlp model file; received a path that is not a file")
    data = p.read_bytes()
    if len(data) < 8:
        raise DataError(f"{name}: expected an xmlp model (safetensors); received {len(data)} bytes (truncated?)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8 or header_len > 100_000_000:
        raise DataError(f"{name}: expected an xmlp model (safetensors); received a file whose header does not fit it (not a model, or truncated)")
    try:
        header = json.loads(data[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"]["xmlp"])
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{name}: expected an xmlp model; received a file without xmlp metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{name}: expected format {FORMAT!r}; received {meta.get('format') if isinstance(meta, dict) else meta!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise DataError(
            f"{name}: expected model format version <= {FORMAT_VERSION}; received {version!r} "
            "(written by a newer xmlp: upgrade xmlp to read it)"
        )
    import safetensors.numpy

    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # SafetensorError has no importable base class
        raise DataError(f"{name}: expected complete safetensors data; received a damaged file ({exc})") from None
    _validate(name, meta, tensors)
    return meta, tensors


def _validate(name: str, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    def bad(what: str) -> DataError:
        return DataError(f"{name}: {what}")

    topo = meta.get("topology") or {}
    layers = topo.get("layers")
    n_in = topo.get("n_features")
    if not isinstance(layers, list) or not layers or not isinstance(n_in, int) or n_in < 1:
        raise bad(f"expected a topology with n_features and layers; received {topo!r}")
    if meta.get("dtype") not in _DTYPES:
        raise bad(f"expected dtype among {', '.join(_DTYPES)}; received {meta.get('dtype')!r}")
    try:
        losses.canonical(str(meta.get("loss")))
    except ValueError as exc:
        raise bad(str(exc)) from None
    expected = set()
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or layer.get("kind") != "Dense":
            raise bad(f"expected layer kind 'Dense' for layers.{i}; received {layer!r}")
        if layer.get("activation") not in activations.ACTIVATIONS:
            raise bad(f"expected an activation among {', '.join(activations.ACTIVATIONS)} for layers.{i}; received {layer.get('activation')!r}")
        if "alpha" in layer and (layer["activation"] != "leakyRelu" or not isinstance(layer["alpha"], float)
                                 or not 0.0 < layer["alpha"] < 1.0):
            raise bad(f"expected alpha in (0, 1) only for leakyRelu in layers.{i}; received {layer['alpha']!r}")
        units = layer.get("units")
        if not isinstance(units, int) or units < 1:
            raise bad(f"expected units >= 1 for layers.{i}; received {units!r}")
        for key in ("kernel_initializer", "bias_initializer"):
            if key in layer:
                try:
                    initializers.canonical(layer[key])
                except ValueError as exc:
                    raise bad(str(exc)) from None
        _check_tensor(name, tensors, f"layers.{i}.weight", (n_in, units), meta["dtype"])
        _check_tensor(name, tensors, f"layers.{i}.bias", (units,), meta["dtype"])
        expected |= {f"layers.{i}.weight", f"layers.{i}.bias"}
        n_in = units
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) != layers[-1]["units"] or len(set(map(str, classes))) != len(classes):
        raise bad(f"expected {layers[-1]['units']} distinct class labels; received {classes!r}")
    if meta.get("preprocess") == "standardize":
        for key in ("preprocess.mean", "preprocess.scale"):
            _check_tensor(name, tensors, key, (topo["n_features"],), "float64")
            expected.add(key)
        if not (tensors["preprocess.scale"] > 0).all():
            raise bad("expected preprocess.scale > 0 everywhere; received a zero or negative scale")
    elif meta.get("preprocess") is not None:
        raise bad(f"expected preprocess 'standardize' or null; received {meta.get('preprocess')!r}")
    extra = set(tensors) - expected
    if extra:
        raise bad(f"expected only the tensors of the topology; received extra {sorted(extra)}")
    t = meta.get("temperature", 1.0)
    if not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise bad(f"expected a finite temperature > 0; received {t!r}")
    names = meta.get("feature_names")
    if names is not None and (not isinstance(names, list) or len(names) != topo["n_features"]):
        raise bad(f"expected {topo['n_features']} feature names; received {names!r}")


def _check_tensor(name: str, tensors: dict[str, np.ndarray], key: str, shape: tuple, dtype: str) -> None:
    if key not in tensors:
        raise DataError(f"{name}: expected a tensor {key}; received a file without it")
    t = tensors[key]
    if tuple(t.shape) != tuple(shape):
        raise DataError(f"{name}: expected {key} of shape {tuple(shape)}; received {tuple(t.shape)}")
    if t.dtype != np.dtype(dtype):
        raise DataError(f"{name}: expected {key} of dtype {dtype}; received {t.dtype}")
    if not np.isfinite(t).all():
        raise DataError(f"{name}: expected finite values in {key}; received NaN or infinity")


def load_model(path: str | os.PathLike, backend: Any = None) -> Any:
    """Rebuild a Sequential from a file, on ``backend`` (any: the file is backend-neutral)."""
    from .layers import Dense
    from .model import Sequential
    from .preprocessing import Standardizer

    meta, tensors = read_model_file(path)
    from .activations import LeakyReLU

    layers = [
        Dense(l["units"], LeakyReLU(l["alpha"]) if "alpha" in l else l["activation"],
              kernel_initializer=l.get("kernel_initializer", "heUniform"),
              bias_initializer=l.get("bias_initializer", "zeros"))
        for l in meta["topology"]["layers"]
    ]
    model = Sequential(layers, loss=meta["loss"], backend=backend, dtype=meta["dtype"],
                       standardize=meta.get("preprocess") == "standardize")
    if model.standardizer is not None:
        model.standardizer = Standardizer(tensors["preprocess.mean"], tensors["preprocess.scale"])
    model.encoder.classes = list(meta["classes"])
    model.positive_class = meta.get("positive_class", model.classes[-1])
    model.feature_names = meta.get("feature_names")
    model.temperature = float(meta.get("temperature", 1.0))
    model.info = {"training": meta.get("training", {}), "metrics": meta.get("metrics", {}),
                  "xmlp_version": meta.get("xmlp_version")}
    model.set_weights([{"weight": tensors[f"layers.{i}.weight"], "bias": tensors[f"layers.{i}.bias"]}
                       for i in range(len(layers))])
    return model
