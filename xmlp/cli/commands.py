"""The commands of ``xmlp`` other than ``train`` (``runs``) and ``predict`` (``predict``): split, plot, data (the embedded
data as a file), devices (what runs here, and what would enable the rest), export (a model for
another stack). Each takes the parsed options and returns an exit status; errors are raised as
``XmlpError``s."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends
from ..data.csv.exact import read_exact, rows_text
from ..data.split import split_indices
from ..errors import CantCreateError, UnavailableError, UsageError
from ..io.files import atomic_write, check_dir_writable, check_output_file, write_all
from ..io.history import read_history, run_labels
from ..io.through import STDOUT, writes_stdout
from .preflight import check_two_classes


def cmd_split(args: argparse.Namespace) -> int:
    table = read_exact(args.data, labels="required" if args.stratify else "optional", keep_lines=True)
    if table.labels is not None and args.stratify:
        check_two_classes(table.path, table.labels)
    try:
        train, valid = split_indices(
            table.labels if table.labels is not None else np.zeros(table.n_rows),
            args.valid_size, np.random.default_rng(args.seed), stratify=args.stratify,
        )
    except ValueError as exc:
        raise UsageError(f"--valid-size: {exc} ({table.n_rows} rows in {table.path})") from None
    if not len(train) or not len(valid):
        raise UsageError(f"--valid-size: expected two non-empty parts; received {len(train)} training and "
                         f"{len(valid)} validation rows from {table.n_rows} (every class keeps a training row; "
                         "use more rows or another --valid-size)")
    if STDOUT in args.names or args.out_dir == STDOUT:
        raise UsageError("--names/--out-dir: expected two file names; received '-' (split writes two files, "
                         "and standard output holds one stream: name both parts, e.g. --names train.csv valid.csv)")
    out_dir = Path(args.out_dir)
    check_dir_writable(out_dir)
    targets = [out_dir / args.names[0], out_dir / args.names[1]]
    if targets[0].resolve() == targets[1].resolve():
        raise UsageError(f"--names: expected two different files; received {args.names[0]!r} twice")
    for target in targets:
        check_output_file(target, [args.data])
        if target.exists() and not args.force:
            raise CantCreateError(f"{target}: expected a new file; received an existing one (hint: --force overwrites)")
    # both parts or neither
    write_all([(target, rows_text(table, rows.tolist())) for target, rows in zip(targets, (train, valid))])
    for target, rows in zip(targets, (train, valid)):
        counts = ""
        if table.labels is not None:
            labels, n = np.unique(table.labels[rows], return_counts=True)
            counts = " (" + ", ".join(f"{l}: {c}" for l, c in zip(labels.tolist(), n.tolist())) + ")"
        print(f"> wrote '{target}': {len(rows)} rows{counts}")
    return 0


def _say(to_stderr: bool) -> Callable[[str], None]:
    """``print`` for a command's messages: onto standard error when its data go to standard output."""
    stream = sys.stderr if to_stderr else sys.stdout
    return lambda line: print(line, file=stream)


def cmd_plot(args: argparse.Namespace) -> int:
    from .plots import plot_runs

    names: list[str] = []
    configs: list[dict[str, Any]] = []
    histories: list[dict[str, list[float]]] = []
    paths = [Path(f) / "history.json" if Path(f).is_dir() else Path(f) for f in args.runs]
    check_output_file(args.out, paths, force=args.force, binary=True)
    for path in paths:
        history, config = read_history(path)
        names.append(path.parent.name if path.name == "history.json" else path.stem)
        configs.append(config)
        histories.append(history)
    runs = list(zip(run_labels(names, configs), histories))
    if args.metrics:
        missing = [m for m in args.metrics if not all(m in h for _, h in runs)]
        if missing:
            raise UsageError(f"--metrics: expected metrics every run has; received {', '.join(missing)}")
    firsts = [int(c.get("initial_epoch") or 0) + 1 for c in configs]  # a resumed run goes on from its epochs
    out = plot_runs(runs, args.out, metrics=args.metrics, show=args.show, first_epochs=firsts)
    where = "standard output" if args.out == STDOUT else repr(str(out))
    _say(writes_stdout(args.out))(f"> wrote {where} ({len(runs)} runs)")
    return 0


def wdbc_rows() -> str:
    """The embedded data as the subject's data.csv text, ids 1 … 569."""
    from importlib import resources

    text = (resources.files("xmlp.datasets") / "wdbc.csv").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()[1:] if line]
    return "".join(f"{i},{row}\n" for i, row in enumerate(rows, start=1))


def cmd_data(args: argparse.Namespace) -> int:
    text = wdbc_rows()
    if not args.out or args.out == STDOUT:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    check_output_file(out)
    if out.exists() and not args.force:
        raise CantCreateError(f"{out}: expected a new file; received an existing one (hint: --force overwrites)")
    atomic_write(out, text)
    print(f"> wrote '{out}': 569 rows (id, diagnosis, 30 features; the ids are row numbers)")
    return 0


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cmd_devices(args: argparse.Namespace) -> int:
    names = {"numpy": "NumPy", "torch": "PyTorch", "cuda": "CuPy", "strict": "array-api-strict"}
    dists = {"numpy": "numpy", "torch": "torch", "cuda": "cupy", "strict": "array-api-strict"}
    for spec in backends.available():
        library = spec.split(":")[0]
        if library == "strict" and not args.all:
            continue
        if library == "cuda":
            dists["cuda"] = next((d for d in ("cupy-cuda12x", "cupy-cuda13x", "cupy") if _version(d) != "?"), "cupy")
        note = " (the default)" if spec == "numpy" else " (test-only: the Array API standard and nothing else)" \
            if library == "strict" else ""
        print(f"{spec:<18} runs here: {names[library]} {_version(dists[library])}{note}")
    for item in backends.missing():
        print(f"{item.spec:<18} missing: {item.reason}")
        print(f"{'':<18} enable: {item.command}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..models.sequential import load_model

    try:
        import onnx  # noqa: F401

        from ..export import onnx_bytes
    except ImportError:
        hint = backends.install_hint("onnx", "onnx")
        raise UnavailableError(f"expected the onnx package for --to onnx; received an environment without it "
                               f"(hint: {hint})") from None
    path = Path(args.model) / "model.safetensors" if Path(args.model).is_dir() else Path(args.model)
    check_output_file(args.out, [path], binary=True)
    model = load_model(path, backend="cpu")
    atomic_write(args.out, onnx_bytes(model))
    sizes = " -> ".join([str(model.n_features)] + [str(l.units) for l in model.layers if l.kind == "Dense"])
    where = "standard output" if args.out == STDOUT else repr(args.out)
    _say(writes_stdout(args.out))(f"> wrote {where} (ONNX opset 17; {sizes}; input x: float rows of {model.n_features} features; "
          + (f"output predictions of {model.network.n_outputs} target(s))" if model.task == "regression" else
             f"output probabilities of {', '.join(map(str, model.classes))})"))
    return 0
