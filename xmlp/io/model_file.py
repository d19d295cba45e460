"""The model file: safetensors tensors plus one JSON metadata document. No pickle, no code.

This module knows the file, not the classes: it turns (metadata, tensors) into bytes and back,
and validates what a file must hold for any model — format and version, tensor names, shapes,
dtypes and finiteness against the topology, classes, features, preprocessing, temperature.
What the layer descriptions *mean* (kinds, activations, initializers) is checked by the
estimator that rebuilds itself from them (``Sequential.from_file_data``).

Tensors: ``layers.{i}.{name}`` (a Dense layer's ``weight`` and ``bias``, a BatchNorm's ``weight``,
``bias``, ``running_mean`` and ``running_var``, …: the names and shapes the layer declares, checked
by the estimator that rebuilds it; here their names, dtype and finiteness), ``preprocess.mean``,
``preprocess.scale``, ``preprocess.lambdas`` (Yeo-Johnson), and ``members.{k}.layers.{i}.*`` for the
members k ≥ 1 of an ensemble. Metadata key ``xmlp``: format name and version, xmlp version, topology, dtype, classes,
positive class, feature names, loss, preprocess, ensemble size, temperature, training settings and
final metrics.

Training state (``models.state``): tensors ``optimizer.layers.{i}.{name}.{j}`` (and
``members.{k}.optimizer.…``), the optimizer's slot j of each parameter in the model's dtype, and
the metadata key ``resume`` (epochs, seed, optimizer config, slots per parameter, and per member
the step count and the permutation and noise generators' states).

Versions: 1 (standardisation only, one network); 2 adds "yeo-johnson" and ensembles; 3 adds the
training state (a file without it is written as version 2, so older xmlp still reads it); 4 adds
layers other than Dense (Dropout, BatchNorm with its running statistics, LayerNorm, Activation),
written only by models that have them. Older
versions load as what they are (a version 1 file: standardize, one network); a newer version
than this xmlp knows is refused with the hint to upgrade.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import DataError, NoInputError
from .files import atomic_write

FORMAT = "xmlp-model"
FORMAT_VERSION = 5
_MAX_SLOTS = 8  # arrays per parameter an optimizer keeps (Adam: 2)
_PREPROCESS = {"standardize": ("preprocess.mean", "preprocess.scale"),
               "yeo-johnson": ("preprocess.mean", "preprocess.scale", "preprocess.lambdas")}
_MAX_MEMBERS = 1000
MAX_VALUE = 1e10  # the largest |weight|, |bias| or mean a model file may hold
MIN_SCALE = 1e-30  # the smallest standard deviation (x / scale must not overflow)
_DTYPES = ("float32", "float64")
_BOUNDED = ("weight", "bias", "running_mean", "running_var")  # a layer's tensors, bounded by MAX_VALUE
_MAX_HEADER = 8_000_000  # bytes of JSON: tens of thousands of tensors; parsing it stays < ~200 MB


def model_file_bytes(meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> bytes:
    """The bytes of a model file holding ``tensors`` and ``meta`` (format fields added)."""
    import safetensors.numpy  # imported when a model is saved or loaded, not with xmlp

    # the oldest version that holds it, so that older xmlp reads it: 5 with a training fingerprint,
    # 4 for layers other than Dense, 3 with a training state
    topology = meta.get("topology")
    layers = topology.get("layers") if isinstance(topology, dict) else None
    beyond_dense = isinstance(layers, list) and any(isinstance(layer, dict) and layer.get("kind") != "Dense"
                                                    for layer in layers)
    version = (5 if "fingerprint" in meta or meta.get("task", "classification") != "classification"
               else 4 if beyond_dense else 3 if "resume" in meta else 2)
    doc = {"format": FORMAT, "format_version": version, "xmlp_version": __version__, **meta}
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    out: bytes = safetensors.numpy.save(arrays, metadata={"xmlp": json.dumps(doc)})
    return out


def write_model_file(path: str | os.PathLike[str], meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    """Write atomically: a failed or interrupted save leaves a previous file intact."""
    atomic_write(path, model_file_bytes(meta, tensors))


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, tensors) of a file, validated; raises DataError/NoInputError with the reason."""
    name = str(path)
    p = Path(path)
    if not p.is_file():
        raise NoInputError(f"{name}: expected an xmlp model file; received a path that is not a file")
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            if len(head) < 8:
                raise DataError(f"{name}: expected an xmlp model (safetensors); received {len(head)} bytes (truncated?)")
            (header_len,) = struct.unpack("<Q", head)
            # The 8-byte length is checked against the file before anything else is read.
            if header_len > _MAX_HEADER and header_len <= size - 8:
                raise DataError(f"{name}: expected an xmlp model whose JSON header is at most {_MAX_HEADER:,} bytes; "
                                f"received one of {header_len:,} bytes")
            if header_len > size - 8:
                raise DataError(f"{name}: expected an xmlp model (safetensors); received a file whose header "
                                f"does not fit it ({header_len:,} bytes declared in a file of {size:,}: not a model, or truncated)")
            header_bytes = fh.read(header_len)
            header, meta = _metadata(name, header_bytes)
            _check_layout(name, meta, header, size - 8 - header_len)
            data = head + header_bytes + fh.read()
    except OSError as exc:
        raise NoInputError(f"{name}: cannot read: {exc.strerror}") from None
    import safetensors.numpy

    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # SafetensorError has no importable base class
        raise DataError(f"{name}: expected complete safetensors data; received a damaged file ({exc})") from None
    _validate(name, meta, tensors)
    return meta, tensors


def _metadata(name: str, header_bytes: bytes) -> tuple[Any, dict[str, Any]]:
    """(the safetensors header, its xmlp document), the format and version checked."""
    try:
        header = json.loads(header_bytes)
        meta = json.loads(header["__metadata__"]["xmlp"])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise DataError(f"{name}: expected an xmlp model; received a file without xmlp metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else meta
        raise DataError(f"{name}: expected format {FORMAT!r}; received {_short(got)}")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise DataError(
            f"{name}: expected model format version <= {FORMAT_VERSION}; received {_short(version)} "
            "(written by a newer xmlp: upgrade xmlp to read it)"
        )
    return header, meta


def _check_layout(name: str, meta: dict[str, Any], header: Any, data_size: int) -> None:
    """The tensors the header declares must fill the rest of the file exactly (a truncated or
    padded file is refused before its data are read)."""
    try:
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (TypeError, KeyError, ValueError, IndexError, AttributeError):
        raise DataError(f"{name}: expected complete safetensors data; received a damaged header") from None
    if max(ends, default=0) != data_size:
        raise DataError(f"{name}: expected complete safetensors data; received a damaged file "
                        f"({data_size:,} bytes of tensors where the header declares {max(ends, default=0):,})")


def _validate(name: str, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
    version = meta["format_version"]
    def bad(what: str) -> DataError:
        return DataError(f"{name}: {what}")

    topo = meta.get("topology")
    layers = topo.get("layers") if isinstance(topo, dict) else None
    n_in = topo.get("n_features") if isinstance(topo, dict) else None
    if not isinstance(layers, list) or not layers or not isinstance(n_in, int) or isinstance(n_in, bool) or n_in < 1:
        raise bad(f"expected a topology with n_features and layers; received {_short(topo)}")
    n_features: int = n_in
    if meta.get("dtype") not in _DTYPES:
        raise bad(f"expected dtype among {', '.join(_DTYPES)}; received {_short(meta.get('dtype'))}")
    members = meta.get("ensemble", 1)
    if not isinstance(members, int) or isinstance(members, bool) or not 1 <= members <= _MAX_MEMBERS:
        raise bad(f"expected an ensemble size in [1, {_MAX_MEMBERS}]; received {_short(members)}")
    expected = set()
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise bad(f"expected a description (a JSON object) for layers.{i}; received {_short(layer)}")
    task = meta.get("task", "classification")
    if task not in ("classification", "regression", "multilabel") or (task != "classification" and version < 5):
        raise bad(f"expected task 'classification', 'regression' or 'multilabel' (format 5); received {_short(task)}")
    classes = meta.get("classes")
    if task == "regression":
        n_out = layers[-1].get("units") if isinstance(layers[-1], dict) else None
        if classes != [] or not isinstance(n_out, int) or isinstance(n_out, bool) or not 1 <= n_out <= 1_000_000:
            raise bad(f"expected a regression without classes and with a Dense output layer; received classes "
                      f"{_short(classes)} and output {_short(layers[-1])}")
        for key in ("target.mean", "target.scale"):
            _check_tensor(name, tensors, key, (n_out,), "float64")
            expected.add(key)
        if not (tensors["target.scale"] > 0).all() or float(np.abs(tensors["target.mean"]).max()) > 1e300:
            raise bad("expected target.scale > 0 and a finite target.mean; received other values")
        classes = ["-"]  # nothing more to check of them
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes)
            or len(set(map(str, classes))) != len(classes)):
        raise bad(f"expected {len(classes) if isinstance(classes, list) else 'the'} distinct class labels; received "
                  f"{_short(classes)}")
    if not isinstance(meta.get("loss"), str):
        raise bad(f"expected a loss name; received {_short(meta.get('loss'))}")
    method = meta.get("preprocess")
    if isinstance(method, str) and method in _PREPROCESS and (method == "standardize" or version >= 2):
        for key in _PREPROCESS[method]:
            _check_tensor(name, tensors, key, (n_features,), "float64")
            expected.add(key)
        if not (tensors["preprocess.scale"] > 0).all():
            raise bad("expected preprocess.scale > 0 everywhere; received a zero or negative scale")
    elif method is not None:
        known = ["standardize"] + (["yeo-johnson"] if version >= 2 else [])
        raise bad(f"expected preprocess among {', '.join(map(repr, known))} or null; received {_short(method)}")
    slots = _check_resume(name, meta, members) if "resume" in meta and version >= 3 else None
    if "fingerprint" in meta and version >= 5:  # its content is checked when it is rebuilt
        fp = tensors.get("fingerprint")
        if fp is None or fp.dtype != np.uint64 or fp.ndim != 1:
            raise bad("expected a fingerprint tensor of uint64 words; received "
                      + ("none" if fp is None else f"{fp.dtype} of shape {tuple(fp.shape)}"))
        expected.add("fingerprint")
        expected.update(k for k in ("fingerprint.low", "fingerprint.high") if k in tensors)
    for key, tensor in tensors.items():
        if key in expected:
            continue
        if not _layer_tensor(key, len(layers), members, slots):
            raise bad(f"expected only the tensors of the topology; received extra {_short(sorted(set(tensors) - expected))}")
        # the shapes follow from the layers, which the estimator rebuilds: it checks them
        if tensor.dtype != np.dtype(meta["dtype"]):
            raise bad(f"expected {key} of dtype {meta['dtype']}; received {tensor.dtype}")
        if not np.isfinite(tensor).all():
            raise bad(f"expected finite values in {key}; received NaN or infinity")
    t = meta.get("temperature", 1.0)
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or not 1e-3 <= t <= 1e3:
        raise bad(f"expected a temperature in [0.001, 1000] (calibration finds one in [0.05, 20]); received {_short(t)}")
    for key, tensor in tensors.items():
        # Far beyond any trained network, and large enough to overflow float32 logits.
        if key.rsplit(".", 1)[-1] in _BOUNDED or key == "preprocess.mean":
            if tensor.size and float(np.abs(tensor).max()) > MAX_VALUE:
                raise bad(f"expected |values| <= {MAX_VALUE:g} in {key} (a trained model's); received "
                          f"{float(np.abs(tensor).max()):.3g}")
    if "preprocess.scale" in tensors and float(tensors["preprocess.scale"].min()) < MIN_SCALE:
        raise bad(f"expected preprocess.scale >= {MIN_SCALE:g} (standardisation would overflow); received "
                  f"{float(tensors['preprocess.scale'].min()):.3g}")
    names = meta.get("feature_names")
    if names is not None and (not isinstance(names, list) or len(names) != n_features
                              or not all(isinstance(n, str) for n in names)):
        raise bad(f"expected {n_features} feature names; received {_short(names)}")


def _check_resume(name: str, meta: dict[str, Any], members: int) -> int:
    """The training state's document; returns its slots per parameter. (What the optimizer config
    and the generator states mean, and the slot tensors' shapes, are checked when they are rebuilt.)"""
    doc = meta["resume"]

    def count(value: Any, low: int = 0, high: int = 1 << 62) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    entries = doc.get("members") if isinstance(doc, dict) else None
    if not (isinstance(doc, dict) and count(doc.get("epochs")) and count(doc.get("slots"), 0, _MAX_SLOTS)
            and isinstance(doc.get("optimizer"), dict) and isinstance(doc["optimizer"].get("name"), str)
            and (doc.get("seed") is None or count(doc.get("seed"), 0, 1 << 256))
            and isinstance(entries, list) and len(entries) == members
            and all(isinstance(e, dict) and count(e.get("iterations")) and isinstance(e.get("shuffle"), dict)
                    and isinstance(e.get("noise"), dict) for e in entries)):
        raise DataError(f"{name}: expected a training state (resume) with epochs, seed, optimizer, slots <= "
                        f"{_MAX_SLOTS} and {members} member entries (iterations, shuffle, noise); received {_short(doc)}")
    return int(doc["slots"])


_LAYER_TENSOR = re.compile(r"(?:members\.(\d+)\.)?(optimizer\.)?layers\.(\d+)\.([A-Za-z_]+)(?:\.(\d+))?")


def _layer_tensor(key: str, n_layers: int, members: int, slots: int | None) -> bool:
    """Whether ``key`` names a tensor of a layer (``layers.{i}.{name}``), of an ensemble member
    k >= 1 (``members.{k}.…``), or an optimizer slot j (``optimizer.layers.{i}.{name}.{j}``)."""
    m = _LAYER_TENSOR.fullmatch(key)
    if m is None:
        return False
    member, optimizer, layer, _, slot = m.groups()
    if member is not None and not (member == str(int(member)) and 1 <= int(member) < members):
        return False
    if layer != str(int(layer)) or int(layer) >= n_layers:
        return False
    if optimizer:
        return slots is not None and slot is not None and slot == str(int(slot)) and int(slot) < slots
    return slot is None


def _check_tensor(name: str, tensors: dict[str, np.ndarray], key: str, shape: tuple[int, ...], dtype: str) -> None:
    if key not in tensors:
        raise DataError(f"{name}: expected a tensor {key}; received a file without it")
    t = tensors[key]
    if tuple(t.shape) != tuple(shape):
        raise DataError(f"{name}: expected {key} of shape {tuple(shape)}; received {tuple(t.shape)}")
    if t.dtype != np.dtype(dtype):
        raise DataError(f"{name}: expected {key} of dtype {dtype}; received {t.dtype}")
    if not np.isfinite(t).all():
        raise DataError(f"{name}: expected finite values in {key}; received NaN or infinity")


def _short(value: Any, limit: int = 120) -> str:
    """repr(value), cut to ``limit`` characters: a hostile file must not flood the error line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
