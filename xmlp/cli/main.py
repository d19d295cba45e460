"""The ``xmlp`` command line: every command's parser, and the entry point that runs one and turns
errors into one line and an exit code. ``xmlp train``'s options and the value parsers are in
``options.py`` (choices from the registries); ``train`` runs through ``runs.train_all`` (under
MPI, ``distributed.train``); the other commands are in ``commands.py``."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
import threading
import traceback
from typing import Any, Iterator, NoReturn, Sequence

from .._version import __version__
from ..errors import UsageError, as_user_error, one_line
from . import distributed
from .commands import (
    cmd_data,
    cmd_devices,
    cmd_export,
    cmd_plot,
    cmd_split,
)
from .options import add_train_options, backend_options, int_at_least, valid_size
from .predict import cmd_predict
from .runs import train_all
from .settings import train_settings

DATA_HELP = """\
Write an embedded data set in the 42 subject's layout: one row per sample, no header, the
columns id, diagnosis (M or B), then the 30 features, values exactly as in the subject's
data.csv and in its order. The embedded copy has no UCI ids: the id column holds the row
numbers 1 … 569, the same on every run (so they are not the subject's ids).

  xmlp data wdbc --out data.csv && xmlp split data.csv
"""


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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks of errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xmlp", description="Multilayer perceptrons on NumPy, CuPy, PyTorch, …")
    parser.add_argument("--version", action="version", version=f"xmlp {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("split", help="split a CSV file into training and validation files")
    s.add_argument("data", help="CSV file (the subject's layout: id, label, features)")
    s.add_argument("--valid-size", "--valid_size", dest="valid_size", type=valid_size, default=0.2,
                   help="fraction in (0, 1) or row count of the validation part (default 0.2)")
    s.add_argument("--seed", type=int_at_least(0), default=42)
    s.add_argument("--no-stratify", dest="stratify", action="store_false", help="plain random split")
    s.add_argument("--out-dir", "--out_dir", dest="out_dir", default=".")
    s.add_argument("--names", nargs=2, default=["data_train.csv", "data_valid.csv"], metavar=("TRAIN", "VALID"))
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    _common(s)
    s.set_defaults(func=cmd_split)

    t = sub.add_parser("train", help="train a network (default: the embedded WDBC data)",
                       argument_default=argparse.SUPPRESS)
    add_train_options(t)
    _common(t)

    p = sub.add_parser("predict", help="predict with a saved model; score it when the file has labels")
    p.add_argument("model", help="model file (model.safetensors), or a run folder holding one")
    p.add_argument("data", help="CSV file: id, [label,] features ('-': standard input)")
    p.add_argument("--out", help="write predictions here (id, predicted label, probability per class; "
                                 "'-': standard output)")
    p.add_argument("--metrics-json", metavar="FILE",
                   help="write the scores as JSON here (rows, trained_rows: how many were training rows, bce, …)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out or --metrics-json file")
    backend_options(p)
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

    d = sub.add_parser("data", help="write the embedded WDBC data as a CSV file (the subject's layout)",
                       description=DATA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("name", choices=["wdbc"], help="the data set (wdbc: Breast Cancer Wisconsin, Diagnostic)")
    d.add_argument("--out", help="CSV file to write (default: standard output)")
    d.add_argument("--force", action="store_true", help="overwrite an existing file")
    _common(d)
    d.set_defaults(func=cmd_data)

    v = sub.add_parser("devices", help="what runs on this machine, and what would enable the rest")
    v.add_argument("--all", action="store_true", help="also list the test-only array-api-strict devices")
    _common(v)
    v.set_defaults(func=cmd_devices)

    e = sub.add_parser("export", help="write a model for another stack (ONNX: pip install 'xmlp[onnx]')")
    e.add_argument("model", help="model file (model.safetensors), or a run folder holding one")
    e.add_argument("out", help="file to write (e.g. model.onnx)")
    e.add_argument("--to", choices=["onnx"], default="onnx", help="the format (default onnx)")
    _common(e)
    e.set_defaults(func=cmd_export)
    return parser


def _train_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- entry point
class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it unwinds as Ctrl-C does: staged run folders
    and temporary files removed, nothing half-written left."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Install the SIGTERM handler for the command's duration (only from the main thread, and
    restored after: ``main`` is also called in-process by tests and scripts)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``xmlp`` command. Exit codes: 0 done; 1 other error; 2 usage (bad options or config
    values); 65 bad input data or model file; 66 input missing or unreadable; 69 backend or
    device unavailable; 70 internal error or diverged training; 73 output cannot be written (a
    full disk, ``ulimit -f``); 78 ``--resume`` mismatch; 130 interrupted (Ctrl-C, SIGINT); 141 the
    reader of standard output went away (SIGPIPE, as coreutils); 143 terminated (SIGTERM)."""
    with _sigterm_as_interrupt():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    world = None  # the processes of an MPI job (xmlp train under mpiexec), else this one alone
    try:
        world = distributed.start(argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "train":
            runs = train_settings(_train_parser(parser), argv[argv.index("train") + 1 :])
            if world is not None and world.comm.size > 1:
                return distributed.train(runs, world)  # data parallel, or a sweep of several runs
            return train_all(runs)
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        code, line = (143, "xmlp: terminated") if isinstance(exc, Terminated) else (130, "xmlp: interrupted")
        if world is not None and world.comm.size > 1:
            return distributed.fail(world, exc, code, line)
        print(line, file=sys.stderr)
        return code
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
