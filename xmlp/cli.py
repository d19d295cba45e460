"""The ``xmlp`` command line: split, train, predict, plot, devices."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Sequence

import numpy as np

import backends

from . import __version__, activations, initializers, optimizers
from .config import TRAIN_DEFAULTS, train_settings
from .csvdata import read_table, rows_text
from .data import split_indices
from .errors import (CantCreateError, DataError, DivergedError, NoInputError, UnavailableError,
                     UsageError, XmlpError)
from .fileio import atomic_write, check_dir_writable
from .runs import check_two_classes, resolve_backend, run_labels, train_all
from .training import TrainingDiverged


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
def _train_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


# ----------------------------------------------------------------------------- commands
def cmd_split(args: argparse.Namespace) -> int:
    table = read_table(args.data, labels="required" if args.stratify else "optional")
    if table.labels is not None and args.stratify:
        check_two_classes(table.path, table.labels)
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


def _model_path(path: str) -> Path:
    p = Path(path)
    return p / "model.safetensors" if p.is_dir() else p


def cmd_train(args: argparse.Namespace) -> int:
    return train_all(args.settings)


def cmd_predict(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_probabilities
    from .serialization import load_model

    backend = resolve_backend(args.device, args.backend)
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
    runs = list(zip(run_labels(names, configs), histories))
    if args.metrics:
        missing = [m for m in args.metrics if not all(m in h for _, h in runs)]
        if missing:
            raise UsageError(f"--metrics: expected metrics every run has; received {', '.join(missing)}")
    check_dir_writable(Path(args.out).parent)
    out = plot_runs(runs, args.out, metrics=args.metrics, show=args.show)
    print(f"> wrote '{out}' ({len(runs)} runs)")
    return 0


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
            args.settings = train_settings(_train_parser(parser), words)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("xmlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`xmlp predict … | head`): stop quietly, as a SIGPIPE'd tool does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
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
