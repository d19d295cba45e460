"""Settings of ``xmlp train``: defaults, a TOML file (optionally with [runs.NAME] tables), and
the command line, merged in that order. File values go through the same argparse checks as
command-line values, so a bad value in a file is reported like one typed."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any, Sequence

from .errors import DataError, NoInputError, UsageError


# Defaults of `xmlp train` (a --config file and then the command line override them).
TRAIN_DEFAULTS: dict[str, Any] = {
    "config": None, "data": None, "train": None, "valid": None, "valid_size": 0.2,
    "layer": [24, 24], "activation": "tanh", "weights_initializer": "heUniform", "loss": None,
    "epochs": 70, "batch_size": 8, "learning_rate": None, "optimizer": "sgd",
    "momentum": None, "beta1": None, "beta2": None, "rho": None, "weight_decay": 0.01,
    "decoupled_weight_decay": False, "early_stopping": False, "patience": 10, "min_delta": 0.0,
    "monitor": "val_loss", "restore_best_weights": True, "calibrate": False,
    "metrics": ["accuracy"], "seed": 42, "device": None, "backend": None, "dtype": "float32",
    "out": None, "quiet": False, "show": False, "plots": True,
}


def read_config(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise NoInputError(f"{path}: expected a TOML config file; received a path that is not a file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: expected TOML; received invalid text ({exc})") from None
    return doc.get("train", doc)


def config_words(parser: argparse.ArgumentParser, path: str, doc: dict[str, Any]) -> list[str]:
    """A config table's keys as command-line words for ``parser`` (so they get the same checks)."""
    options = {a.dest: a for a in parser._actions if a.option_strings}
    argv: list[str] = []
    for key, value in doc.items():
        dest = key.replace("-", "_")
        action = options.get(dest)
        if action is None or dest in ("config", "debug"):
            known = ", ".join(sorted(d for d in options if d not in ("config", "debug", "help")))
            raise DataError(f"{path}: expected keys among {known}, or [runs.NAME] tables; received unknown key {key!r}")
        flag = action.option_strings[0]
        if isinstance(action, (argparse.BooleanOptionalAction, argparse._StoreTrueAction)):
            if not isinstance(value, bool):
                raise DataError(f"{path}: expected true or false for {key!r}; received {value!r}")
            if value:
                argv.append(flag)
            elif isinstance(action, argparse.BooleanOptionalAction):
                argv.append("--no-" + flag[2:])
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def train_settings(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[tuple[str | None, dict[str, Any]]]:
    """[(run name, settings)]: defaults, overridden by --config (its top level, then each
    [runs.NAME] table, one run per table), overridden by the command line."""
    cli = vars(parser.parse_args(argv))
    if not cli.get("config"):
        return [(None, _merge(TRAIN_DEFAULTS, cli))]
    path = cli["config"]
    doc = dict(read_config(path))
    runs = doc.pop("runs", None)
    if runs is not None and (not isinstance(runs, dict) or not runs or
                             not all(isinstance(v, dict) for v in runs.values())):
        raise DataError(f"{path}: expected [runs.NAME] tables of settings; received runs = {runs!r}")
    out = []
    for name, table in (runs or {None: {}}).items():
        words = config_words(parser, path, doc) + config_words(parser, path, table)
        try:
            from_file = vars(parser.parse_args(words))
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None
        out.append((name, _merge(_merge(TRAIN_DEFAULTS, from_file), cli)))
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    return {**base, **{k: v for k, v in over.items() if k != "func"}}
