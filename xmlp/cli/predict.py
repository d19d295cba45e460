"""``xmlp predict``: a saved model's predictions for a data file — probabilities and labels, or a
regression's values — scored when the file has labels or targets, with the warnings that
keep a score honest (rows the model was trained on, values far outside its training range)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..data.csv import read_table
from ..data.preprocessing import RowValueError
from ..errors import DataError, UsageError
from ..io.files import atomic_write, check_output_file
from ..io.through import STDOUT, writes_stdout
from .commands import _say
from .runs import resolve_backend


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


def _column(recorded: Any) -> str | int | None:
    """A column the training record names (``--target``/``--id``), or None (a model's record is data)."""
    return recorded if isinstance(recorded, (str, int)) and not isinstance(recorded, bool) else None


def cmd_predict(args: argparse.Namespace) -> int:
    from ..models.sequential import load_model
    from .row_checks import numeric_targets

    if args.out is not None and args.out == args.metrics_json == STDOUT:
        raise UsageError("--out/--metrics-json: expected at most one of them on standard output; received '-' twice")
    say = _say(writes_stdout(args.out) or writes_stdout(args.metrics_json))
    backend = resolve_backend(args.device, args.backend)
    path = Path(args.model) / "model.safetensors" if Path(args.model).is_dir() else Path(args.model)
    model = load_model(path, backend=backend)
    regression, multilabel = model.task == "regression", model.task == "multilabel"
    classes = [str(c) for c in model.classes]
    for out in (args.out, args.metrics_json):
        if out:
            check_output_file(out, [args.data, path], force=args.force)
    training = model.metadata.get("training") or {}
    # the columns the model learned from; a weight column is never a feature (scores stay unweighted)
    target, id_column, weight = training.get("target"), training.get("id"), training.get("sample_weight")
    targets = [t for t in target if _column(t) is not None] if isinstance(target, list) else None  # numeric targets
    table = read_table(args.data, n_features=model.n_features, labels="optional",
                       classes=classes if model.task == "classification" else None, dtype=model.dtype_name,
                       feature_names=model.feature_names, label_name=targets or _column(target),
                       id_name=_column(id_column), weight_name=_column(weight))
    if table.targets is not None:
        table.labels = table.targets
    elif regression and table.labels is not None:
        table.labels = numeric_targets(table)
    try:
        native = model.predict(table.x) if regression else model.predict_proba(table.x)
    except RowValueError as exc:
        line = table.line_numbers[exc.row] if exc.row < len(table.line_numbers) else exc.row
        raise DataError(f"{table.path}:{line}: {exc}") from None
    sizes = " -> ".join([str(model.n_features)] + [str(l.units) for l in model.layers if l.kind == "Dense"])
    say(f"> loaded model '{path}' ({sizes}, {model.dtype_name}); predicting {table.n_rows} rows on {backend}")
    trained = model.training_overlap(table.x)
    for note in (overlap_warning(model, trained, table.n_rows, table.labels is not None),
                 range_warning(model, np.asarray(table.x, dtype=np.float64))):
        if note:
            print(note, file=sys.stderr)
    rows = _rows(native, classes, model.task)
    names = [str(t) for t in targets] if targets and len(targets) == model.network.n_outputs else \
        [f"prediction_{j}" for j in range(model.network.n_outputs)] if regression else classes
    if args.out:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        columns = (["prediction"] if model.network.n_outputs == 1 else names) if regression else \
            names + [f"p_{c}" for c in names] if multilabel else ["prediction"] + [f"p_{c}" for c in classes]
        writer.writerow((["id"] if table.ids is not None else []) + columns)
        for i in range(table.n_rows):
            writer.writerow(([table.ids[i]] if table.ids is not None else []) + rows[i])
        atomic_write(args.out, buf.getvalue())
        say(f"> wrote predictions to {'standard output' if args.out == STDOUT else repr(args.out)}")
    if table.labels is None:
        if args.metrics_json:
            raise UsageError(f"--metrics-json: expected a data file with labels to score; received {table.path}, "
                             "which has none")
        if not args.out:
            for i in range(min(table.n_rows, 10)):
                name = table.ids[i] if table.ids is not None else str(i)
                if multilabel:  # the labels predicted (probability > 0.5), with their probabilities
                    print(f"{name}: " + (" ".join(f"{n} ({p:.4f})" for n, p in zip(names, native[i]) if p > 0.5)
                                         or "(no label)"))
                else:
                    shown = rows[i] if regression else rows[i][:1]  # every target, or the predicted label
                    print(f"{name}: {', '.join(shown)}" + ("" if regression else f" ({np.max(native[i]):.4f})"))
            if table.n_rows > 10:
                print(f"… {table.n_rows - 10} more (use --out FILE for all)")
        return 0
    from ..models.scoring import evaluate_model

    # the outputs already computed, as the model scores them (a regression's: in its scaled units)
    out = ((np.asarray(native, dtype=np.float64).reshape(len(native), -1) - model.encoder.mean) / model.encoder.scale
           if regression else native)
    scores = evaluate_model(model, out, table.labels)
    if args.metrics_json:
        doc = {"model": str(path), "data": table.path, "rows": table.n_rows, "trained_rows": trained, **scores}
        atomic_write(args.metrics_json, json.dumps(doc, indent=2) + "\n")
    for text in (_regression_lines(scores) if regression else _multilabel_lines(scores) if multilabel else
                 _classification_lines(scores, classes, model)):
        say(text)
    return 0


def _rows(native: Any, classes: list[str], task: str) -> list[list[str]]:
    """Each row's prediction(s) (and, classifying, the probabilities), as the text --out writes;
    multi-label: 0/1 per label (probability > 0.5), then each label's probability."""
    if task == "regression":
        values = np.asarray(native, dtype=np.float64).reshape(len(native), -1)
        return [[repr(float(v)) for v in row] for row in values]
    if task == "multilabel":
        return [[str(int(p > 0.5)) for p in row] + texts for row, texts in zip(native, probability_text(native))]
    predicted = [classes[i] for i in np.asarray(native).argmax(axis=1)]
    return [[p, *texts] for p, texts in zip(predicted, probability_text(native))]


def _regression_lines(scores: dict[str, Any]) -> list[str]:
    r2 = "n/a" if scores["r2"] is None else f"{scores['r2']:.4f}"
    return [f"mse: {scores['mse']:.6g} - rmse: {scores['rmse']:.6g} - mae: {scores['mae']:.6g} - r2: {r2}"]


def _multilabel_lines(scores: dict[str, Any]) -> list[str]:
    return [f"binary cross-entropy (mean over labels): {scores['loss']:.4f}",
            f"hamming loss: {scores['hamming_loss']:.4f} - subset accuracy: {scores['subset_accuracy']:.4f} - "
            f"f1 (micro): {scores['f1_micro']:.4f} - f1 (macro): {scores['f1_macro']:.4f}"]


def _classification_lines(scores: dict[str, Any], classes: list[str], model: Any) -> list[str]:
    pos = classes.index(str(model.positive_class)) if str(model.positive_class) in classes else None
    lines = [f"binary cross-entropy (p = P({classes[pos if pos is not None else -1]})): {scores['bce']:.4f}"
             if "bce" in scores else f"cross-entropy: {scores['loss']:.4f}",
             f"accuracy: {scores['accuracy']:.4f} - precision: {scores['precision']:.4f} - "
             f"recall: {scores['recall']:.4f} - f1: {scores['f1']:.4f}"]
    width = max(6, *(len(c) + 2 for c in classes))
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines.append(" " * width + "".join(f"{label:>{width}}" for label in classes))
    lines += [f"{label:>{width}}" + "".join(f"{v:>{width}}" for v in row) for label, row in zip(classes, scores["confusion"])]
    return lines
