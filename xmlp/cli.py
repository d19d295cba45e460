"""The ``xmlp`` command line: ``xmlp train``, ``xmlp devices``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import numpy as np

import backends

from . import __version__
from .data import split_indices
from .datasets import load_wdbc
from .errors import DivergedError, UnavailableError, UsageError, XmlpError
from .layers import Dense
from .model import Sequential
from .training import TrainingDiverged


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``xmlp: error:`` line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; received {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; received {text!r}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0; received {text!r}")
    return value


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        help="cpu, cuda, cuda:N (default: $XMLP_DEVICE, else cpu); with --backend, that "
        "library's device (e.g. --backend torch --device cuda:1)",
    )
    p.add_argument("--backend", help="array library: numpy, cupy, torch or strict")


def _backend(args: argparse.Namespace) -> backends.Backend:
    try:
        if args.backend is None:
            return backends.get_backend(args.device)
        return backends.get_backend(args.device, library=args.backend)
    except backends.UnknownBackendError as exc:
        raise UsageError(str(exc)) from exc
    except backends.BackendError as exc:
        raise UnavailableError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xmlp", description="Multilayer perceptrons on NumPy, CuPy, PyTorch, …")
    parser.add_argument("--version", action="version", version=f"xmlp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a network (default: the embedded WDBC data)")
    _add_backend_options(t)
    t.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    t.add_argument("--seed", type=_int_at_least(0), default=42)
    t.add_argument("--epochs", type=_int_at_least(1), default=70)
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=_int_at_least(1), default=8)
    t.add_argument(
        "--learning-rate", "--learning_rate", dest="learning_rate", type=_positive_float, default=0.01
    )
    t.add_argument(
        "--layer", nargs="+", type=_int_at_least(1), default=[24, 24], metavar="UNITS",
        help="hidden layer widths (default: 24 24)",
    )
    t.add_argument("--quiet", action="store_true", help="print only the summary")
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("devices", help="list the backends usable on this machine")
    d.set_defaults(func=cmd_devices)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    backend = _backend(args)
    x, y, names = load_wdbc()
    train, valid = split_indices(y, 0.2, np.random.default_rng(args.seed))
    print(f"x_train shape : {x[train].shape}")
    print(f"x_valid shape : {x[valid].shape}")
    layers = [Dense(u, "relu") for u in args.layer] + [Dense(2, "softmax")]
    model = Sequential(layers, backend=backend, dtype=args.dtype)
    history = model.fit(
        x[train], y[train], validation_data=(x[valid], y[valid]), epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
        verbose=not args.quiet, feature_names=names,
    )
    last = {k: v[-1] for k, v in history.history.items()}
    print(
        f"trained on {backend} ({args.dtype}) - val_loss: {last['val_loss']:.4f} - "
        f"validation accuracy: {last['val_accuracy']:.4f}"
    )
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    for spec in backends.available():
        print(spec)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except Exception as exc:
        if debug:
            raise
        err = _as_user_error(exc)
        if err is None:
            print(f"xmlp: error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
                  file=sys.stderr)
            return 70
        print(f"xmlp: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("xmlp: interrupted", file=sys.stderr)
        return 130


def _as_user_error(exc: BaseException) -> XmlpError | None:
    if isinstance(exc, XmlpError):
        return exc
    if isinstance(exc, TrainingDiverged):
        return DivergedError(str(exc))
    if isinstance(exc, backends.BackendError):
        return UnavailableError(str(exc))
    return None
