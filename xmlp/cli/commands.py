"""The commands of ``xmlp`` other than ``train`` (``runs``): split, predict, plot, data (the embedded
data as a file), devices (what runs here, and what would enable the rest), export (a model for
another stack). Each takes the parsed options and returns an exit status; errors are raised as
``XmlpError``s."""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends
from ..data.csv import read_table
from ..data.csv.exact import read_exact, rows_text
from ..data.preprocessing import RowValueError
from ..data.split import split_indices
from ..errors import CantCreateError, DataError, UnavailableError, UsageError
from ..io.files import atomic_write, check_dir_writable, check_output_file, write_all
from ..io.history import read_history, run_labels
from ..io.through import STDOUT, writes_stdout
from .preflight import check_two_classes
from .runs import resolve_backend


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


def probability_text(p: np.ndarray) -> list[list[str]]:
    """Each probability as the shortest text that reads back as the same value of its dtype
    (float32: at most 9 significant digits; float64: 17): a true-class probability of 3e-9 stays
    3e-9, never 0 and an infinite log-loss for whoever scores the file."""
    return [[str(v) for v in row] for row in p]


def overlap_warning(model: Any, n_trained: int | None, n_rows: int, scored: bool) -> str | None:
    """The line ``xmlp predict`` prints when some of its rows were training rows, else None."""
    if not n_trained:
        return None
    fp = model.fingerprint
    how = "about " if fp.bloom is not None else ""
    refit = model.metadata.get("training", {}).get("refit") if isinstance(model.metadata.get("training"), dict) else None
    why = [" (refit on training + validation)"] if refit else []
    if fp.bloom is not None:
        why.append(f" (a Bloom filter of {fp.rows:,} training rows: false-positive rate {fp.false_positive_rate:.2g})")
    what = "these scores are not a test estimate" if scored else "their predictions are not a test estimate"
    return f"xmlp: warning: {how}{n_trained} of {n_rows} rows were used to train this model{''.join(why)}; {what}"


def range_warning(model: Any, x: np.ndarray) -> str | None:
    """The line ``xmlp predict`` prints once per file when some values lie beyond the training
    range by more than its width (a 1e38, a unit mix-up): the farthest column, how far, how many rows."""
    fp = model.fingerprint
    far = fp.far_outside(x) if fp is not None else []
    if not far:
        return None
    col, _, value, widths = far[0]
    rows = int(np.count_nonzero(np.any(
        np.maximum(fp.low - x, x - fp.high) > np.maximum(fp.high - fp.low, np.finfo(np.float64).tiny), axis=1)))
    name = repr(model.feature_names[col]) if model.feature_names else f"feature {col + 1} of {len(fp.low)}"
    others = f"; {len(far)} columns in all" if len(far) > 1 else ""
    return (f"xmlp: warning: {rows} of {len(x)} rows hold values far outside the training range (the farthest: "
            f"{name} = {value:.6g}, {widths:.3g} range widths beyond its {fp.low[col]:.6g} … {fp.high[col]:.6g}{others}); "
            "their predictions extrapolate")


def cmd_predict(args: argparse.Namespace) -> int:
    from ..models.scoring import evaluate_probabilities
    from ..models.sequential import load_model

    if args.out is not None and args.out == args.metrics_json == STDOUT:
        raise UsageError("--out/--metrics-json: expected at most one of them on standard output; received '-' twice")
    say = _say(writes_stdout(args.out) or writes_stdout(args.metrics_json))
    backend = resolve_backend(args.device, args.backend)
    path = Path(args.model) / "model.safetensors" if Path(args.model).is_dir() else Path(args.model)
    model = load_model(path, backend=backend)
    classes = [str(c) for c in model.classes]
    if args.out:
        check_output_file(args.out, [args.data, path], force=args.force)
    if args.metrics_json:
        check_output_file(args.metrics_json, [args.data, path], force=args.force)
    table = read_table(args.data, n_features=model.n_features, labels="optional", classes=classes,
                               dtype=model.dtype_name, feature_names=model.feature_names)
    try:
        native = model.predict_proba(table.x)
    except RowValueError as exc:
        line = table.line_numbers[exc.row] if exc.row < len(table.line_numbers) else exc.row
        raise DataError(f"{table.path}:{line}: {exc}") from None
    proba = native.astype(np.float64)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    sizes = " -> ".join([str(model.n_features)] + [str(l.units) for l in model.layers if l.kind == "Dense"])
    say(f"> loaded model '{path}' ({sizes}, {model.dtype_name}); predicting {table.n_rows} rows on {backend}")
    trained = model.training_overlap(table.x)
    warning = overlap_warning(model, trained, table.n_rows, table.labels is not None)
    for note in (warning, range_warning(model, np.asarray(table.x, dtype=np.float64))):
        if note:
            print(note, file=sys.stderr)
    if args.out:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow((["id"] if table.ids is not None else []) + ["prediction"] + [f"p_{c}" for c in classes])
        texts = probability_text(native)
        for i in range(table.n_rows):
            ident = [table.ids[i]] if table.ids is not None else []
            writer.writerow(ident + [predicted[i]] + texts[i])
        atomic_write(args.out, buf.getvalue())
        say(f"> wrote predictions to {'standard output' if args.out == STDOUT else repr(args.out)}")
    if table.labels is None:
        if args.metrics_json:
            raise UsageError(f"--metrics-json: expected a data file with labels to score; received {table.path}, "
                             "which has none")
        if not args.out:
            for i in range(min(table.n_rows, 10)):
                name = table.ids[i] if table.ids is not None else str(i)
                print(f"{name}: {predicted[i]} ({proba[i].max():.4f})")
            if table.n_rows > 10:
                print(f"… {table.n_rows - 10} more (use --out FILE for all)")
        return 0
    true = np.array([classes.index(l) for l in table.labels.tolist()])
    pos = classes.index(str(model.positive_class)) if str(model.positive_class) in classes else None
    scores = evaluate_probabilities(proba, true, classes, pos)
    if args.metrics_json:
        doc = {"model": str(path), "data": table.path, "rows": table.n_rows, "trained_rows": trained,
               **{k: v for k, v in scores.items()}}
        atomic_write(args.metrics_json, json.dumps(doc, indent=2) + "\n")
    if "bce" in scores:
        say(f"binary cross-entropy (p = P({classes[pos if pos is not None else -1]})): {scores['bce']:.4f}")
    else:
        say(f"cross-entropy: {scores['loss']:.4f}")
    say(f"accuracy: {scores['accuracy']:.4f} - precision: {scores['precision']:.4f} - "
        f"recall: {scores['recall']:.4f} - f1: {scores['f1']:.4f}")
    width = max(6, *(len(c) + 2 for c in classes))
    say("confusion matrix (rows: true, columns: predicted):")
    say(" " * width + "".join(f"{label:>{width}}" for label in classes))
    for label, row in zip(classes, scores["confusion"]):
        say(f"{label:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    return 0


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
          f"output probabilities of {', '.join(map(str, model.classes))})")
    return 0
