"""The ``xmlp`` command line: the parser and the entry point. Choices (activations, losses,
optimizers and their options, initializers, metrics) come from the registries; the commands
themselves are in ``commands.py``."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import traceback
from typing import Any, Callable, NoReturn, Sequence

from . import activations, commands_tools, distributed, initializers, losses, metrics, optimizers
from ._version import __version__
from .commands import cmd_plot, cmd_predict, cmd_split, cmd_train
from .config import defaults, train_settings
from .errors import UsageError, as_user_error, one_line
from .registry import Registry


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``xmlp: error:`` line with exit code 2."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required: "):
            message = f"expected {message.split(': ', 1)[1]}; received none ({message})"
        elif "invalid choice: " in message or message.startswith("unrecognized arguments: "):
            message = f"expected {self.prog}'s commands and options; received {message.removeprefix('argument ')}"
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """A command's parser reports its unknown options itself: its own --help, the closest option."""
        ns, extra = super().parse_known_args(args, namespace)
        if extra and self._subparsers is None:
            close = difflib.get_close_matches(extra[0].split("=")[0], self._option_string_actions, n=1, cutoff=0.75)
            self.error(f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {close[0]}?)" if close else ""))
        return ns, extra


# ----------------------------------------------------------------------------- value parsers
def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        digits = text.strip().lstrip("+-")
        if not (digits.isascii() and digits.isdigit() and int(text) >= low):
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}; received {text!r}")
        return int(text)

    return parse


def _number(option: optimizers.Option) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return option.check("value", float(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {option.bounds()}; received {text!r}") from None

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


def _one_of(registry: Registry[Any]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return registry.canonical(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _choices(registry: Registry[Any]) -> str:
    return "{" + ",".join(registry.names) + "}"


# ----------------------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")


def _backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: $XMLP_DEVICE, else cpu); with --backend, "
                   "that library's device (e.g. --backend torch --device cuda:1)")
    p.add_argument("--backend", help="array library: numpy, cupy, torch or strict")


def _train_options(t: argparse.ArgumentParser) -> None:
    dtypes = Registry[str]("a dtype")
    for name in ("float32", "float64"):
        dtypes.register(name, name)
    preprocessing = Registry[str]("a preprocessing")
    for name in ("yeo-johnson", "standardize", "none"):
        preprocessing.register(name, name)
    t.add_argument("--config", help="TOML file with the same keys as these options")
    t.add_argument("--data", help="one CSV file, split internally (--valid-size, --seed)")
    t.add_argument("--train", help="training CSV file (the subject's layout)")
    t.add_argument("--valid", help="validation CSV file")
    t.add_argument("--valid-size", "--valid_size", dest="valid_size", type=_valid_size)
    t.add_argument("--layer", nargs="+", type=_int_at_least(1), metavar="UNITS", help="hidden layer widths")
    t.add_argument("--activation", type=_one_of(activations.ACTIVATIONS), metavar=_choices(activations.ACTIVATIONS),
                   help="hidden activation")
    t.add_argument("--weights_initializer", "--weights-initializer", "--init", dest="weights_initializer",
                   type=_one_of(initializers.INITIALIZERS), metavar=_choices(initializers.INITIALIZERS))
    t.add_argument("--loss", type=_one_of(losses.LOSSES), metavar=_choices(losses.LOSSES),
                   help="both are softmax cross-entropy (default: binaryCrossentropy for two classes)")
    t.add_argument("--preprocess", type=_one_of(preprocessing), metavar=_choices(preprocessing),
                   help="per-feature transform fitted on the training rows: yeo-johnson (power transform, then "
                        "standardisation), standardize, or none")
    t.add_argument("--input-noise", "--input_noise", dest="input_noise", type=_number(optimizers.Option(0.0)),
                   help="std of Gaussian noise added to the (preprocessed) training inputs")
    t.add_argument("--refit", action=argparse.BooleanOptionalAction,
                   help="after the run that draws the validation curves, train the saved model again on "
                        "training + validation rows with the same settings")
    t.add_argument("--ensemble", type=_int_at_least(1), metavar="K",
                   help="train K networks with different seeds and average their probabilities")
    t.add_argument("--epochs", type=_int_at_least(1))
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=_int_at_least(1))
    t.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=_number(optimizers.LEARNING_RATE),
                   help="(default: 0.0314 for sgd; the optimizer's own for the others: 0.01 for momentum/nesterov, "
                        "0.001 for rmsprop/adam/adamw)")
    t.add_argument("--optimizer", type=_one_of(optimizers.OPTIMIZERS), metavar=_choices(optimizers.OPTIMIZERS))
    for name, option in optimizers.all_options().items():
        takers = [n for n, p in optimizers.OPTIMIZERS.items() if name in p.cls.options]
        t.add_argument(f"--{name}", type=_number(option), help=f"{option.help} ({', '.join(takers)})")
    t.add_argument("--weight-decay", "--weight_decay", dest="weight_decay", type=_number(optimizers.WEIGHT_DECAY))
    t.add_argument("--decoupled-weight-decay", dest="decoupled_weight_decay", action=argparse.BooleanOptionalAction,
                   help="AdamW-style decay (p -= lr*wd*p) instead of L2 added to the gradient")
    t.add_argument("--decay-bias", dest="decay_bias", action=argparse.BooleanOptionalAction,
                   help="apply weight decay to the biases too (--no-decay-bias: weights only)")
    t.add_argument("--early-stopping", dest="early_stopping", action=argparse.BooleanOptionalAction)
    t.add_argument("--patience", type=_int_at_least(0))
    t.add_argument("--min-delta", "--min_delta", dest="min_delta", type=_number(optimizers.Option(0.0)))
    t.add_argument("--monitor", help="validation metric for early stopping")
    t.add_argument("--restore-best-weights", dest="restore_best_weights", action=argparse.BooleanOptionalAction)
    t.add_argument("--calibrate", action=argparse.BooleanOptionalAction,
                   help="fit a softmax temperature on the validation part")
    t.add_argument("--metrics", nargs="+", type=_one_of(metrics.METRICS), metavar=_choices(metrics.METRICS))
    t.add_argument("--seed", type=_int_at_least(0))
    _backend_options(t)
    t.add_argument("--dtype", type=_one_of(dtypes), metavar=_choices(dtypes))
    t.add_argument("--out", help="run folder (default: runs/<date-time>)")
    t.add_argument("--force", action="store_true", help="replace the --out folder if it exists")
    t.add_argument("--quiet", action="store_true", help="print only the summary")
    t.add_argument("--show", action="store_true", help="also open the plots (where a display exists)")
    t.add_argument("--plots", action=argparse.BooleanOptionalAction, help="write learning-curve PNGs")
    t.add_argument("--distributed", nargs="?", const="exact", choices=("exact", "sharded"),
                   help="data parallelism over MPI processes (started by mpiexec -n W, which alone implies exact): "
                        "exact (every process holds all rows; the single-process result) or sharded (each "
                        "reads only its rows); needs pip install 'xmlp[mpi]'")
    # The options default to 'not given' (so that a --config file can tell given values from
    # defaults); the help shows the settings' defaults.
    shown = defaults()
    for action in t._actions:
        default = shown.get(action.dest)
        if default not in (None, False, "", {}) and action.dest != "config":
            text = " ".join(map(str, default)) if isinstance(default, tuple) else default
            action.help = f"{action.help + ' ' if action.help else ''}(default: {text})"


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
    _train_options(t)
    _common(t)
    t.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict with a saved model; score it when the file has labels")
    p.add_argument("model", help="model file (model.safetensors), or a run folder holding one")
    p.add_argument("data", help="CSV file: id, [label,] features")
    p.add_argument("--out", help="write predictions here (id, predicted label, probability per class)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    _backend_options(p)
    _common(p)
    p.set_defaults(func=cmd_predict)

    g = sub.add_parser("plot", help="draw the learning curves of one or more runs on the same graphs")
    g.add_argument("runs", nargs="+", help="run folders (holding history.json)")
    g.add_argument("--out", default="comparison.png", help="PNG file (default comparison.png)")
    g.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    g.add_argument("--metrics", nargs="+", help="metrics to draw (default: all the runs share)")
    g.add_argument("--show", action="store_true")
    _common(g)
    g.set_defaults(func=cmd_plot)

    commands_tools.add_parsers(sub, _common)
    return parser


def _train_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- entry point
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    world = None  # the processes of an MPI job (xmlp train under mpiexec), else this one alone
    try:
        world = distributed.start(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "train":
            words = argv[argv.index("train") + 1 :]
            args.settings = train_settings(_train_parser(parser), words)
            args.world = world
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        if world is not None and world.comm.size > 1:
            return distributed.fail(world, exc, 130, "xmlp: interrupted")
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
        err = as_user_error(exc)
        code, line = ((70, f"xmlp: error: internal error: {type(exc).__name__}: {one_line(str(exc))} (rerun with --debug)")
                      if err is None else (err.exit_code, f"xmlp: error: {one_line(str(err))}"))
        if world is not None and world.comm.size > 1:
            return distributed.fail(world, exc, code, line)  # printed once; every process ends
        if world is None and distributed.quiet_rank():
            return code  # under a launcher, before MPI: rank 0 reports it
        print(line, file=sys.stderr)
        return code
