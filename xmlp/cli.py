"""The ``xmlp`` command line: split, train, predict, plot, devices."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
import tomllib
import traceback
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import backends

from . import __version__, activations, initializers, optimizers
from .csvdata import read_table, rows_text
from .data import split_indices
from .datasets import load_wdbc
from .errors import (CantCreateError, DataError, DivergedError, NoInputError, UnavailableError,
                     UsageError, XmlpError)
from .fileio import atomic_write, check_dir_writable
from .layers import Dense
from .model import Sequential
from .progress import ProgressBar
from .training import EarlyStopping, TrainingDiverged

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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``xmlp: error:`` line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ----------------------------------------------------------------------------- value parsers
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; received {text!r}")
        return value

    return parse


def _float_in(low: float, high: float | None = None, *, strict_low: bool = True):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = (value > low if strict_low else value >= low) and (high is None or value < high)
        if not ok or value == float("inf"):
            bound = f"{'>' if strict_low else '>='} {low}" + (f" and < {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"expected a number {bound}; received {text!r}")
        return value

    return parse


def _valid_size(text: str) -> float | int:
    """A fraction in (0, 1) ("0.2"), or a whole number of rows ("100")."""
    text = text.strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if 0.0 < value < 1.0:
        return value
    raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1) or a row count >= 1; received {text!r}")


def _choice(names: Sequence[str], canonical=None):
    def parse(text: str) -> str:
        if canonical is not None:
            try:
                return canonical(text)
            except ValueError:
                pass
        elif text in names:
            return text
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(names)}; received {text!r}")

    return parse


def _activation_name(text: str) -> str:
    return activations.get(text).name


def _loss_name(text: str) -> str:
    from . import losses

    return losses.canonical(text)


# ----------------------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")


def _backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: $XMLP_DEVICE, else cpu); with --backend, "
                   "that library's device (e.g. --backend torch --device cuda:1)")
    p.add_argument("--backend", help="array library: numpy, cupy, torch or strict")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xmlp", description="Multilayer perceptrons on NumPy, CuPy, PyTorch, …")
    parser.add_argument("--version", action="version", version=f"xmlp {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("split", help="split a CSV file into training and validation files")
    s.add_argument("data", help="CSV file (the subject's layout: id, label, features)")
    s.add_argument("--valid-size", "--valid_size", dest="valid_size", type=_valid_size, default=0.2,
                   help="fraction in (0, 1) or row count of the validation part (default 0.2)")
    s.add_argument("--seed", type=_int_at_least(0), default=42)
    s.add_argument("--no-stratify", dest="stratify", action="store_false", help="plain random split")
    s.add_argument("--out-dir", "--out_dir", dest="out_dir", default=".")
    s.add_argument("--names", nargs=2, default=["data_train.csv", "data_valid.csv"], metavar=("TRAIN", "VALID"))
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    _common(s)
    s.set_defaults(func=cmd_split)

    t = sub.add_parser("train", help="train a network (default: the embedded WDBC data)",
                       argument_default=argparse.SUPPRESS)
    t.add_argument("--config", help="TOML file with the same keys as these options")
    t.add_argument("--data", help="one CSV file, split internally (--valid-size, --seed)")
    t.add_argument("--train", help="training CSV file (the subject's layout)")
    t.add_argument("--valid", help="validation CSV file")
    t.add_argument("--valid-size", "--valid_size", dest="valid_size", type=_valid_size)
    t.add_argument("--layer", nargs="+", type=_int_at_least(1), metavar="UNITS", help="hidden layer widths")
    t.add_argument("--activation", type=_activation_name, help=f"hidden activation: {', '.join(activations.ACTIVATIONS)}")
    t.add_argument("--weights_initializer", "--weights-initializer", "--init", dest="weights_initializer",
                   type=_choice(list(initializers.INITIALIZERS), initializers.canonical))
    t.add_argument("--loss", type=_choice(["binaryCrossentropy", "categoricalCrossentropy"], _loss_name),
                   help="both are softmax cross-entropy (default: binaryCrossentropy for two classes)")
    t.add_argument("--epochs", type=_int_at_least(1))
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=_int_at_least(1))
    t.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=_float_in(0.0),
                   help="(default: the optimizer's own: 0.01 for sgd/momentum/nesterov, 0.001 for rmsprop/adam/adamw)")
    t.add_argument("--optimizer", type=_choice(list(optimizers.OPTIMIZERS)))
    t.add_argument("--momentum", type=_float_in(0.0, 1.0, strict_low=False))
    t.add_argument("--beta1", type=_float_in(0.0, 1.0, strict_low=False))
    t.add_argument("--beta2", type=_float_in(0.0, 1.0, strict_low=False))
    t.add_argument("--rho", type=_float_in(0.0, 1.0, strict_low=False))
    t.add_argument("--weight-decay", "--weight_decay", dest="weight_decay", type=_float_in(0.0, strict_low=False))
    t.add_argument("--decoupled-weight-decay", dest="decoupled_weight_decay", action=argparse.BooleanOptionalAction,
                   help="AdamW-style decay (p -= lr*wd*p) instead of L2 added to the gradient")
    t.add_argument("--early-stopping", dest="early_stopping", action=argparse.BooleanOptionalAction)
    t.add_argument("--patience", type=_int_at_least(0))
    t.add_argument("--min-delta", "--min_delta", dest="min_delta", type=_float_in(0.0, strict_low=False))
    t.add_argument("--monitor", help="validation metric for early stopping (default val_loss)")
    t.add_argument("--restore-best-weights", dest="restore_best_weights", action=argparse.BooleanOptionalAction)
    t.add_argument("--calibrate", action=argparse.BooleanOptionalAction,
                   help="fit a softmax temperature on the validation part")
    t.add_argument("--metrics", nargs="+", type=_choice(["accuracy", "precision", "recall", "f1", "bce"]))
    t.add_argument("--seed", type=_int_at_least(0))
    _backend_options(t)
    t.add_argument("--dtype", type=_choice(["float32", "float64"]))
    t.add_argument("--out", help="run folder (default: runs/<date-time>)")
    t.add_argument("--quiet", action="store_true", help="print only the summary")
    t.add_argument("--show", action="store_true", help="also open the plots (where a display exists)")
    t.add_argument("--plots", action=argparse.BooleanOptionalAction, help="write learning-curve PNGs")
    _common(t)
    _show_defaults(t)
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict with a saved model; score it when the file has labels")
    p.add_argument("model", help="model file (model.safetensors), or a run folder holding one")
    p.add_argument("data", help="CSV file: id, [label,] features")
    p.add_argument("--out", help="write predictions here (id, predicted label, probability per class)")
    _backend_options(p)
    _common(p)
    p.set_defaults(func=cmd_predict)

    g = sub.add_parser("plot", help="draw the learning curves of one or more runs on the same graphs")
    g.add_argument("runs", nargs="+", help="run folders (holding history.json)")
    g.add_argument("--out", default="comparison.png", help="PNG file (default comparison.png)")
    g.add_argument("--metrics", nargs="+", help="metrics to draw (default: all the runs share)")
    g.add_argument("--show", action="store_true")
    _common(g)
    g.set_defaults(func=cmd_plot)

    d = sub.add_parser("devices", help="list the backends usable on this machine")
    _common(d)
    d.set_defaults(func=cmd_devices)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append TRAIN_DEFAULTS to the help (the options themselves default to 'not given', so
    that a --config file can tell given values from defaults)."""
    metavars = {"optimizer": "{" + ",".join(optimizers.OPTIMIZERS) + "}", "dtype": "{float32,float64}",
                "loss": "{binaryCrossentropy,categoricalCrossentropy}", "metrics": "METRIC",
                "weights_initializer": "{" + ",".join(initializers.INITIALIZERS) + "}"}
    for action in parser._actions:
        default = TRAIN_DEFAULTS.get(action.dest)
        if action.dest in metavars:
            action.metavar = metavars[action.dest]
        if default not in (None, False, "") and action.dest not in ("config",):
            shown = " ".join(map(str, default)) if isinstance(default, list) else default
            action.help = f"{action.help + ' ' if action.help else ''}(default: {shown})"


# ----------------------------------------------------------------------------- helpers
def _backend(device: str | None, library: str | None) -> backends.Backend:
    try:
        if library is None:
            return backends.get_backend(device)
        return backends.get_backend(device, library=library)
    except backends.UnknownBackendError as exc:
        raise UsageError(str(exc)) from exc
    except backends.BackendError as exc:
        raise UnavailableError(str(exc)) from exc


def _config_doc(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise NoInputError(f"{path}: expected a TOML config file; received a path that is not a file")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: expected TOML; received invalid text ({exc})") from None
    return doc.get("train", doc)


def _config_argv(parser: argparse.ArgumentParser, path: str, doc: dict[str, Any]) -> list[str]:
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


def _train_settings(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[tuple[str | None, dict[str, Any]]]:
    """[(run name, settings)]: defaults, overridden by --config (its top level, then each
    [runs.NAME] table, one run per table), overridden by the command line."""
    cli = vars(parser.parse_args(argv))
    if not cli.get("config"):
        return [(None, _merge(TRAIN_DEFAULTS, cli))]
    path = cli["config"]
    doc = dict(_config_doc(path))
    runs = doc.pop("runs", None)
    if runs is not None and (not isinstance(runs, dict) or not runs or
                             not all(isinstance(v, dict) for v in runs.values())):
        raise DataError(f"{path}: expected [runs.NAME] tables of settings; received runs = {runs!r}")
    out = []
    for name, table in (runs or {None: {}}).items():
        words = _config_argv(parser, path, doc) + _config_argv(parser, path, table)
        try:
            from_file = vars(parser.parse_args(words))
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None
        out.append((name, _merge(_merge(TRAIN_DEFAULTS, from_file), cli)))
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    return {**base, **{k: v for k, v in over.items() if k != "func"}}


def _train_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def _default_run_dir() -> Path:
    base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    path, k = base, 1
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def _single_class_check(table_name: str, labels: np.ndarray) -> None:
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(
            f"{table_name}: expected at least two classes in the training data; received only "
            f"{str(classes[0])!r} ({len(labels)} rows)"
        )


# ----------------------------------------------------------------------------- commands
def cmd_split(args: argparse.Namespace) -> int:
    table = read_table(args.data, labels="required" if args.stratify else "optional")
    if table.labels is not None and args.stratify:
        _single_class_check(table.path, table.labels)
    try:
        train, valid = split_indices(
            table.labels if table.labels is not None else np.zeros(table.n_rows),
            args.valid_size, np.random.default_rng(args.seed), stratify=args.stratify,
        )
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc} ({table.n_rows} rows in {table.path})") from None
    out_dir = Path(args.out_dir)
    check_dir_writable(out_dir)
    targets = [out_dir / args.names[0], out_dir / args.names[1]]
    if targets[0].resolve() == targets[1].resolve():
        raise UsageError(f"--names: expected two different files; received {args.names[0]!r} twice")
    for target in targets:
        if target.resolve() == Path(args.data).resolve():
            raise UsageError(f"{target}: expected an output other than the input file")
        if target.exists() and not args.force:
            raise CantCreateError(f"{target}: expected a new file; received an existing one (hint: --force overwrites)")
    for target, rows in zip(targets, (train, valid)):
        atomic_write(target, rows_text(table, rows))
    for target, rows in zip(targets, (train, valid)):
        counts = ""
        if table.labels is not None:
            labels, n = np.unique(table.labels[rows], return_counts=True)
            counts = " (" + ", ".join(f"{l}: {c}" for l, c in zip(labels.tolist(), n.tolist())) + ")"
        print(f"> wrote '{target}': {len(rows)} rows{counts}")
    return 0


def _training_data(s: dict[str, Any], dtype: str):
    """(x_train, y_train, x_valid, y_valid, feature names, description) from the settings."""
    if s["data"] and (s["train"] or s["valid"]):
        raise UsageError("expected either --data or --train/--valid; received both")
    if s["valid"] and not s["train"]:
        raise UsageError("expected --train with --valid; received --valid alone")
    if s["train"]:
        train = read_table(s["train"], labels="required", dtype=dtype)
        _single_class_check(train.path, train.labels)
        if s["valid"]:
            classes = sorted(set(train.labels.tolist()))
            valid = read_table(s["valid"], n_features=train.x.shape[1], labels="required", classes=classes, dtype=dtype)
            return train.x, train.labels, valid.x, valid.labels, train.feature_names, f"{train.path} + {valid.path}"
        x, y, names, what = train.x, train.labels, train.feature_names, train.path
    elif s["data"]:
        table = read_table(s["data"], labels="required", dtype=dtype)
        _single_class_check(table.path, table.labels)
        x, y, names, what = table.x, table.labels, table.feature_names, table.path
    else:
        x, y, names = load_wdbc()
        what = "embedded WDBC data"
    try:
        tr, va = split_indices(y, s["valid_size"], np.random.default_rng(s["seed"]))
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc}") from None
    if len(np.unique(y[tr])) < 2:
        raise DataError(f"{what}: expected at least two classes in the training part; received one")
    return x[tr], y[tr], x[va], y[va], names, f"{what}, split {len(tr)}/{len(va)} (seed {s['seed']})"


def _build_model(s: dict[str, Any], n_classes: int, backend: backends.Backend) -> Sequential:
    layers = [Dense(u, s["activation"], kernel_initializer=s["weights_initializer"]) for u in s["layer"]]
    layers.append(Dense(n_classes, "softmax", kernel_initializer=s["weights_initializer"]))
    loss = s["loss"] or ("binaryCrossentropy" if n_classes == 2 else "categoricalCrossentropy")
    if loss == "binaryCrossentropy" and n_classes != 2:
        raise DataError(f"expected two classes for binaryCrossentropy; received {n_classes} (hint: --loss categoricalCrossentropy)")
    return Sequential(layers, loss=loss, backend=backend, dtype=s["dtype"])


def _optimizer(s: dict[str, Any]) -> optimizers.Optimizer:
    kwargs: dict[str, Any] = {"learning_rate": s["learning_rate"]}
    name = s["optimizer"]
    for key in ("momentum", "beta1", "beta2", "rho"):
        if s[key] is not None:
            kwargs[key] = s[key]
    if s["weight_decay"] is not None:
        kwargs["weight_decay"] = s["weight_decay"]
    if s["decoupled_weight_decay"]:
        kwargs["decoupled"] = True
    try:
        return optimizers.get(name, **kwargs)
    except TypeError as exc:
        import inspect

        cls = {"sgd": optimizers.SGD, "momentum": optimizers.SGD, "nesterov": optimizers.SGD,
               "rmsprop": optimizers.RMSprop, "adam": optimizers.Adam, "adamw": optimizers.Adam}[name]
        takes = inspect.signature(cls.__init__).parameters
        bad = [k for k in ("momentum", "beta1", "beta2", "rho") if k in kwargs and k not in takes]
        ok = [k for k in ("momentum", "beta1", "beta2", "rho") if k in takes]
        raise UsageError(f"expected options that {name} takes; received {', '.join('--' + b for b in bad)} "
                         f"(hint: {name} takes {', '.join('--' + k for k in ok) or 'none of them'})") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_train(args: argparse.Namespace) -> int:
    runs = args.settings
    if len(runs) == 1:
        _run(_prepare(runs[0][1]))
        return 0
    base = Path(runs[0][1]["out"]) if runs[0][1]["out"] else _default_run_dir()
    # Every run is checked (data, options, device, output) before the first one trains.
    prepared = [(name, _prepare({**s, "out": str(base / name)})) for name, s in runs]
    histories = []
    for name, job in prepared:
        print(f"== run '{name}'")
        histories.append(_run(job).history)
    from .plots import plot_runs

    labels = _run_labels([n for n, _ in prepared], [job["record"] for _, job in prepared])
    out = plot_runs(list(zip(labels, histories)), base / "comparison.png", show=any(s["show"] for _, s in runs))
    print(f"> compared {len(runs)} runs in '{out}'")
    return 0


def _prepare(s: dict[str, Any]) -> dict[str, Any]:
    """Everything a training run needs, checked: nothing is written here."""
    backend = _backend(s["device"], s["backend"])
    if not backend.supports(s["dtype"]):
        raise UnavailableError(f"expected a dtype {backend} supports; received {s['dtype']} (hint: use --dtype float32)")
    x_tr, y_tr, x_va, y_va, names, source = _training_data(s, s["dtype"])
    out_dir = Path(s["out"]) if s["out"] else _default_run_dir()
    check_dir_writable(out_dir)
    opt = _optimizer(s)
    model = _build_model(s, len(np.unique(y_tr)), backend)
    stopper = None
    if s["early_stopping"]:
        try:
            stopper = EarlyStopping(s["monitor"], s["patience"], s["min_delta"], s["restore_best_weights"])
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    metrics = list(dict.fromkeys(s["metrics"]))
    if stopper is not None and stopper.monitor not in ["val_loss"] + [f"val_{m}" for m in metrics]:
        raise UsageError(f"--monitor: expected val_loss or val_<one of --metrics {' '.join(metrics)}>; received {s['monitor']!r}")
    record = {**{k: v for k, v in s.items() if k not in ("quiet", "show", "plots", "debug")},
              "optimizer": opt.config(), "backend": backend.spec, "source": source}
    return dict(s=s, backend=backend, data=(x_tr, y_tr, x_va, y_va), names=names, out_dir=out_dir,
                opt=opt, model=model, stopper=stopper, metrics=metrics, record=record)


def _run(job: dict[str, Any]) -> Any:
    s, model, out_dir = job["s"], job["model"], job["out_dir"]
    x_tr, y_tr, x_va, y_va = job["data"]
    print(f"x_train shape : {x_tr.shape}")
    print(f"x_valid shape : {x_va.shape}")
    callbacks = [] if s["quiet"] else [ProgressBar()]
    try:
        history = model.fit(
            x_tr, y_tr, validation_data=(x_va, y_va), epochs=s["epochs"], batch_size=s["batch_size"],
            optimizer=job["opt"], seed=s["seed"], metrics=job["metrics"], early_stopping=job["stopper"],
            callbacks=callbacks, verbose=not s["quiet"], feature_names=job["names"],
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if history.stopped_epoch is not None:
        print(f"early stopping at epoch {history.stopped_epoch}: no {s['monitor']} improvement for "
              f"{s['patience']} epochs; keeping the weights of epoch {history.best_epoch}")
    if s["calibrate"]:
        t = model.calibrate(x_va, y_va)
        print(f"calibrated on the validation part: softmax temperature {t:.4g}")
    final = model.evaluate(x_va, y_va)
    model.info = {
        "training": {**job["record"], "seed": model.seed, "epochs_run": history.epochs,
                     "stopped_epoch": history.stopped_epoch, "best_epoch": history.best_epoch},
        "metrics": {f"val_{k}": v for k, v in final.items() if k != "confusion"},
    }
    model_path = out_dir / "model.safetensors"
    print(f"> saving model '{model_path}' to disk...")
    model.save(model_path)
    record = {**history.to_dict(), "config": model.info["training"], "final": model.info["metrics"],
              "name": out_dir.name}
    atomic_write(out_dir / "history.json", json.dumps(record, indent=2, default=str))
    atomic_write(out_dir / "history.csv", _history_csv(history.history))
    if s["plots"]:
        paths = _plot_history(history.history, out_dir, s["show"], history.best_epoch)
        print(f"> learning curves: {', '.join(str(p) for p in paths)}")
    loss_name = "binary cross-entropy" if "bce" in final else "cross-entropy"
    print(f"trained on {job['backend']} ({s['dtype']}) in {history.epochs} epochs - validation {loss_name}: "
          f"{final.get('bce', final['loss']):.4f} - validation accuracy: {final['accuracy']:.4f}")
    return history


def _plot_history(history, out_dir, show, best_epoch=None):
    from .plots import plot_history

    return plot_history(history, out_dir, show=show, best_epoch=best_epoch)


def _history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for i in range(len(history["loss"])):
        writer.writerow([i + 1, *(repr(history[k][i]) for k in keys)])
    return buf.getvalue()


def _model_path(path: str) -> Path:
    p = Path(path)
    return p / "model.safetensors" if p.is_dir() else p


def cmd_predict(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_probabilities
    from .serialization import load_model

    backend = _backend(args.device, args.backend)
    path = _model_path(args.model)
    model = load_model(path, backend=backend)
    classes = [str(c) for c in model.classes]
    table = read_table(args.data, n_features=model.n_features, labels="optional", classes=classes,
                       dtype=model.dtype_name)
    if args.out:
        check_dir_writable(Path(args.out).parent)
    proba = model.predict_proba(table.x).astype(np.float64)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    sizes = " -> ".join([str(model.n_features)] + [str(l.units) for l in model.layers])
    print(f"> loaded model '{path}' ({sizes}, {model.dtype_name}); predicting {table.n_rows} rows on {backend}")
    if args.out:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow((["id"] if table.ids is not None else []) + ["prediction"] + [f"p_{c}" for c in classes])
        for i in range(table.n_rows):
            ident = [table.ids[i]] if table.ids is not None else []
            writer.writerow(ident + [predicted[i]] + [f"{p:.6f}" for p in proba[i]])
        atomic_write(args.out, buf.getvalue())
        print(f"> wrote predictions to '{args.out}'")
    if table.labels is None:
        if not args.out:
            for i in range(min(table.n_rows, 10)):
                ident = table.ids[i] if table.ids is not None else i
                print(f"{ident}: {predicted[i]} ({proba[i].max():.4f})")
            if table.n_rows > 10:
                print(f"… {table.n_rows - 10} more (use --out FILE for all)")
        return 0
    true = np.array([classes.index(l) for l in table.labels.tolist()])
    pos = classes.index(str(model.positive_class)) if str(model.positive_class) in classes else None
    scores = evaluate_probabilities(proba, true, classes, pos)
    if "bce" in scores:
        print(f"binary cross-entropy (p = P({classes[pos if pos is not None else -1]})): {scores['bce']:.4f}")
    else:
        print(f"cross-entropy: {scores['loss']:.4f}")
    print(f"accuracy: {scores['accuracy']:.4f} - precision: {scores['precision']:.4f} - "
          f"recall: {scores['recall']:.4f} - f1: {scores['f1']:.4f}")
    width = max(6, *(len(c) + 2 for c in classes))
    print("confusion matrix (rows: true, columns: predicted):")
    print(" " * width + "".join(f"{c:>{width}}" for c in classes))
    for c, row in zip(classes, scores["confusion"]):
        print(f"{c:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_runs

    names, configs, histories = [], [], []
    for folder in args.runs:
        path = Path(folder) / "history.json" if Path(folder).is_dir() else Path(folder)
        if not path.is_file():
            raise NoInputError(f"{path}: expected a run's history.json; received a path that is not a file")
        try:
            doc = json.loads(path.read_text())
            history = doc["history"]
            if not isinstance(history, dict) or "loss" not in history:
                raise KeyError("loss")
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{path}: expected an xmlp history (JSON with history.loss); received something else") from None
        names.append(path.parent.name if path.name == "history.json" else path.stem)
        configs.append(doc.get("config") or {})
        histories.append(history)
    runs = list(zip(_run_labels(names, configs), histories))
    if args.metrics:
        missing = [m for m in args.metrics if not all(m in h for _, h in runs)]
        if missing:
            raise UsageError(f"--metrics: expected metrics every run has; received {', '.join(missing)}")
    check_dir_writable(Path(args.out).parent)
    out = plot_runs(runs, args.out, metrics=args.metrics, show=args.show)
    print(f"> wrote '{out}' ({len(runs)} runs)")
    return 0


def _run_settings(config: dict[str, Any]) -> dict[str, str]:
    """The settings that tell runs apart, as short text."""
    opt = config.get("optimizer") or {}
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


def _run_labels(names: Sequence[str], configs: Sequence[dict[str, Any]]) -> list[str]:
    """``name (settings)``, listing only the settings that differ between the runs."""
    settings = [_run_settings(c) for c in configs]
    keys = [k for k in settings[0] if len(configs) == 1 or len({s.get(k) for s in settings}) > 1]
    return [f"{n} ({', '.join(s[k] for k in keys if k in s)})" if keys else n for n, s in zip(names, settings)]


def cmd_devices(args: argparse.Namespace) -> int:
    for spec in backends.available():
        print(spec)
    return 0


# ----------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "train":
            words = argv[argv.index("train") + 1 :]
            args.settings = _train_settings(_train_parser(parser), words)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("xmlp: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        err = _as_user_error(exc)
        if err is None:
            print(f"xmlp: error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
            return 70
        print(f"xmlp: error: {err}", file=sys.stderr)
        return err.exit_code


def _as_user_error(exc: BaseException) -> XmlpError | None:
    if isinstance(exc, XmlpError):
        return exc
    if isinstance(exc, TrainingDiverged):
        return DivergedError(str(exc))
    if isinstance(exc, backends.BackendError):
        return UnavailableError(str(exc))
    if isinstance(exc, OSError):
        return CantCreateError(f"{exc.filename or ''}: {exc.strerror or exc}")
    return None
