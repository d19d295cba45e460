"""A run folder's history files: ``history.csv`` written from a History, ``history.json`` read
back (validated) for ``xmlp plot``, and runs labelled by the settings that tell them apart."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError, NoInputError, short_repr

MAX_HISTORY = 8_000_000  # bytes: ~40 000 epochs of 10 metrics; plotting more is not readable anyway
MAX_METRICS, MAX_NAME, MAX_VALUE = 100, 64, 1e100  # metrics per history, characters of a name, |value|


def read_history(path: Path) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """(per-epoch metrics, settings) of a run's history.json, checked: every metric a list of
    numbers of the same length as ``loss``."""
    if not path.is_file():
        raise NoInputError(f"{path}: expected a run's history.json; received a path that is not a file")
    try:
        if path.stat().st_size > MAX_HISTORY:
            raise DataError(f"{path}: expected an xmlp history (at most {MAX_HISTORY:,} bytes); received a larger file")
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise NoInputError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, RecursionError):
        doc = None
    history = doc.get("history") if isinstance(doc, dict) else None
    if not isinstance(history, dict) or not isinstance(history.get("loss"), list) or not history["loss"]:
        raise DataError(f"{path}: expected an xmlp history (JSON with history.loss); received something else")
    n = len(history["loss"])
    if len(history) > MAX_METRICS or any(len(k) > MAX_NAME for k in history):
        raise DataError(f"{path}: expected at most {MAX_METRICS} metrics with names of at most {MAX_NAME} characters; "
                        f"received {len(history)} (the longest name {max(len(k) for k in history)} characters)")
    for key, values in history.items():
        if not (isinstance(values, list) and len(values) == n
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= MAX_VALUE for v in values)):
            raise DataError(f"{path}: expected history.{key} to be {n} finite numbers (one per epoch, |x| <= "
                            f"{MAX_VALUE:g}); received something else")
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    _check_config(path, config)
    return history, config


_NUMBERS: dict[str, type] = {"initial_epoch": int, "batch_size": int}
_OPTIMIZER: dict[str, type] = {"learning_rate": float, "momentum": float, "weight_decay": float, "nesterov": bool, "decoupled": bool}


def _check_config(path: Path, config: dict[str, Any]) -> None:
    """The settings ``xmlp plot`` reads from a history (the labels, a resumed run's first epoch):
    each of the type xmlp writes, else one line naming it (a hand-edited file must not draw a
    plot whose labels or epochs are wrong)."""
    def bad(key: str, expected: str, value: Any) -> DataError:
        return DataError(f"{path}: expected config.{key} to be {expected}; received {short_repr(value)}")

    def fits(value: Any, kind: type) -> bool:
        if kind is bool:
            return isinstance(value, bool)
        if kind is int:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    for key, kind in _NUMBERS.items():
        if config.get(key) is not None and not fits(config[key], kind):
            raise bad(key, "an integer >= 0", config[key])
    if config.get("activation") is not None and not isinstance(config["activation"], str):
        raise bad("activation", "a name", config["activation"])
    layer = config.get("layer")
    if layer is not None and not (isinstance(layer, list) and all(fits(w, int) for w in layer)):
        raise bad("layer", "a list of layer widths", layer)
    opt = config.get("optimizer")
    if opt is None:
        return
    if not isinstance(opt, dict) or not isinstance(opt.get("name", ""), str):
        raise bad("optimizer", "an optimizer's settings (name, learning_rate, …)", opt)
    for key, kind in _OPTIMIZER.items():
        if opt.get(key) is not None and not fits(opt[key], kind):
            raise bad(f"optimizer.{key}", "true or false" if kind is bool else "a number", opt[key])


def history_csv(history: dict[str, list[float]], first_epoch: int = 1) -> str:
    """One row per epoch, numbered from ``first_epoch`` (a resumed run's first)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history["loss"])):
        writer.writerow([first_epoch + i, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def run_settings(config: dict[str, Any]) -> dict[str, str]:
    """The settings that tell runs apart, as short text (a malformed record gives "?")."""
    try:
        return _settings(config)
    except (TypeError, ValueError, AttributeError):
        return {"optimizer": "?"}


def _settings(config: dict[str, Any]) -> dict[str, str]:
    opt: dict[str, Any] = config["optimizer"] if isinstance(config.get("optimizer"), dict) else {}
    name = opt.get("name", "?")
    if opt.get("nesterov"):
        name = f"nesterov {opt.get('momentum'):g}"
    elif opt.get("momentum"):
        name = f"momentum {opt['momentum']:g}"
    out = {"optimizer": name}
    if opt.get("learning_rate") is not None:
        out["lr"] = f"lr {opt['learning_rate']:g}"
    out["wd"] = f"wd {opt.get('weight_decay', 0):g}" + (" decoupled" if opt.get("decoupled") else "")
    for key, fmt in (("batch_size", "batch {}"), ("activation", "{}")):
        if config.get(key) is not None:
            out[key] = fmt.format(config[key])
    if config.get("layer"):
        out["layer"] = "-".join(map(str, config["layer"]))
    return out


def run_labels(names: Sequence[str], configs: Sequence[dict[str, Any]]) -> list[str]:
    """``name (settings)``, listing only the settings that differ between the runs."""
    settings = [run_settings(c) for c in configs]
    keys = [k for k in settings[0] if len(configs) == 1 or len({s.get(k) for s in settings}) > 1]
    return [f"{n} ({', '.join(s[k] for k in keys if k in s)})" if keys else n for n, s in zip(names, settings)]
