"""The options of ``xmlp train`` (one flag per setting of ``settings.TrainSettings``; choices and
optimizer flags from the registries) and the value parsers the command line shares."""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from .._registry import Registry
from ..nn import activations, initializers, losses
from ..optim import optimizers
from ..training import metrics
from . import recipe
from .settings import defaults


def int_at_least(low: int) -> Callable[[str], int]:
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


def column(text: str) -> str | int:
    """A column named on the command line: digits are a 0-based index (a header never holds a
    number: a line with one is data), anything else a header name."""
    return int(text) if text.isascii() and text.isdigit() else text


def class_weight(text: str) -> str | dict[str, float]:
    """``balanced``, or ``LABEL=WEIGHT,…`` (labels as the file writes them; others weigh 1)."""
    if text == "balanced":
        return text
    out: dict[str, float] = {}
    for part in text.split(","):
        label, sep, weight = part.rpartition("=")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or not label or not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"expected 'balanced' or LABEL=WEIGHT,… with weights >= 0; received {text!r}")
        out[label] = value
    return out


def valid_size(text: str) -> float | int:
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


def backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", help="cpu, cuda, cuda:N (default: $XMLP_DEVICE, else cpu); with --backend, "
                   "that library's device (e.g. --backend torch --device cuda:1)")
    p.add_argument("--backend", help="array library: numpy, cupy, torch or strict")


def add_train_options(t: argparse.ArgumentParser) -> None:
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
    t.add_argument("--valid-size", "--valid_size", dest="valid_size", type=valid_size)
    t.add_argument("--stream", action=argparse.BooleanOptionalAction,
                   help="read --data/--train in chunks, never whole (default: when the file would not fit "
                        "comfortably in memory); --no-stream reads it whole")
    t.add_argument("--chunk-rows", "--chunk_rows", dest="chunk_rows", type=int_at_least(1), metavar="ROWS",
                   help="rows per chunk when streaming, and per copy to the device (default: 65536 when needed)")
    t.add_argument("--shuffle-buffer", "--shuffle_buffer", dest="shuffle_buffer", type=int_at_least(1),
                   metavar="ROWS", help="rows shuffled together when streaming (chunk order is shuffled too)")
    t.add_argument("--layer", nargs="+", type=int_at_least(1), metavar="UNITS", help="hidden layer widths")
    t.add_argument("--activation", type=_one_of(activations.ACTIVATIONS), metavar=_choices(activations.ACTIVATIONS),
                   help="hidden activation")
    t.add_argument("--dropout", type=_number(optimizers.Option(0.0, 1.0)), metavar="RATE",
                   help="Dropout(RATE) after each hidden layer, active in training only (0: none)")
    t.add_argument("--norm", choices=recipe.NORM_NAMES,
                   help="normalise each hidden layer: Dense(linear), BatchNorm or LayerNorm, then the activation")
    t.add_argument("--weights_initializer", "--weights-initializer", "--init", dest="weights_initializer",
                   type=_one_of(initializers.INITIALIZERS), metavar=_choices(initializers.INITIALIZERS))
    t.add_argument("--loss", type=_one_of(losses.LOSSES), metavar=_choices(losses.LOSSES),
                   help="the cross-entropies are softmax cross-entropy (default: binaryCrossentropy for two "
                        "classes); mse, mae, huber: a regression (default mse)")
    t.add_argument("--task", choices=["classification", "regression", "multilabel"],
                   help="classification (labels; the default), regression (numeric targets; --loss mse|mae|huber "
                        "implies it) or multilabel (0/1 columns named by --target, one sigmoid each)")
    t.add_argument("--target", metavar="NAME|INDEX", type=column, nargs="+",
                   help="the column(s) that hold the labels or targets: header names, or indices counted from 0 "
                        "(default: diagnosis/label/class/target/y, or column 2 of a file without a header); several: "
                        "a regression's outputs or the labels of a multilabel task")
    t.add_argument("--id", metavar="NAME|INDEX", type=column,
                   help="the column that holds the row ids (any text; never a feature), carried to xmlp predict's "
                        "output (default: a column named id, pandas' unnamed index, or column 1 without a header)")
    t.add_argument("--sample-weight", "--sample_weight", dest="sample_weight", metavar="NAME|INDEX", type=column,
                   help="the column of row weights (>= 0; never a feature): the training loss is sum w l / sum w "
                        "(validation scores stay unweighted)")
    t.add_argument("--class-weight", "--class_weight", dest="class_weight", metavar="balanced|LABEL=W,…",
                   type=class_weight, help="weigh each class's rows: balanced (n / (classes x rows of the class), "
                                           "scikit-learn's) or LABEL=W pairs; times --sample-weight")
    t.add_argument("--huber-delta", "--huber_delta", dest="huber_delta", type=_number(optimizers.Option(0.0, strict=True)),
                   help="--loss huber: its delta, in standardised target units (default 1.0)")
    t.add_argument("--preprocess", type=_one_of(preprocessing), metavar=_choices(preprocessing),
                   help="per-feature transform fitted on the training rows: yeo-johnson (power transform, then "
                        "standardisation), standardize, or none")
    t.add_argument("--input-noise", "--input_noise", dest="input_noise", type=_number(optimizers.Option(0.0)),
                   help="std of Gaussian noise added to the (preprocessed) training inputs")
    t.add_argument("--refit", action=argparse.BooleanOptionalAction,
                   help="after the run that draws the validation curves, train the saved model again on "
                        "training + validation rows with the same settings (default: on up to 10,000 rows, "
                        "where 25%% more rows still improve the model)")
    t.add_argument("--ensemble", type=int_at_least(1), metavar="K",
                   help="train K networks with different seeds and average their probabilities")
    t.add_argument("--epochs", type=int_at_least(1))
    t.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int_at_least(1))
    t.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=_number(optimizers.LEARNING_RATE),
                   help="(default: 0.0314 for sgd; the optimizer's own for the others: 0.01 for momentum/nesterov, "
                        "0.001 for rmsprop/adam/adamw)")
    t.add_argument("--optimizer", type=_one_of(optimizers.OPTIMIZERS), metavar=_choices(optimizers.OPTIMIZERS))
    for name, option in optimizers.all_options().items():
        takers = [n for n, p in optimizers.OPTIMIZERS.items() if name in p.cls.options]
        t.add_argument(f"--{name}", type=_number(option), help=f"{option.help} ({', '.join(takers)})")
    t.add_argument("--lr-schedule", "--lr_schedule", dest="lr_schedule", choices=recipe.SCHEDULE_NAMES,
                   help="learning rate per epoch: step (lr0 gamma^floor(e/step)), exponential (lr0 gamma^e), cosine "
                        "(to --min-lr over --epochs, after --warmup-epochs of linear warm-up), plateau (x --lr-factor "
                        "after --lr-patience epochs without a better --lr-monitor)")
    t.add_argument("--step-size", "--step_size", dest="step_size", type=int_at_least(1), metavar="EPOCHS",
                   help="step: epochs between decays")
    t.add_argument("--gamma", type=_number(optimizers.Option(0.0, strict=True)),
                   help="step (default 0.1) and exponential (required): the decay factor")
    t.add_argument("--min-lr", "--min_lr", dest="min_lr", type=_number(optimizers.Option(0.0)),
                   help="cosine and plateau: the lowest learning rate")
    t.add_argument("--warmup-epochs", "--warmup_epochs", dest="warmup_epochs", type=int_at_least(0),
                   metavar="EPOCHS", help="cosine: epochs of linear warm-up to the learning rate")
    t.add_argument("--lr-factor", "--lr_factor", dest="lr_factor",
                   type=_number(optimizers.Option(0.0, 1.0, strict=True)),
                   help="plateau: the factor of each decay")
    t.add_argument("--lr-patience", "--lr_patience", dest="lr_patience", type=int_at_least(0), metavar="EPOCHS",
                   help="plateau: epochs without improvement before a decay")
    t.add_argument("--lr-monitor", "--lr_monitor", dest="lr_monitor", help="plateau: the validation value watched")
    t.add_argument("--clip-norm", "--clip_norm", dest="clip_norm",
                   type=_number(optimizers.Option(0.0, strict=True)),
                   help="clip the global L2 norm of the gradients (torch's clip_grad_norm_)")
    t.add_argument("--clip-value", "--clip_value", dest="clip_value",
                   type=_number(optimizers.Option(0.0, strict=True)),
                   help="clip every gradient value to [-V, V] (torch's clip_grad_value_)")
    t.add_argument("--weight-decay", "--weight_decay", dest="weight_decay", type=_number(optimizers.WEIGHT_DECAY))
    t.add_argument("--decoupled-weight-decay", dest="decoupled_weight_decay", action=argparse.BooleanOptionalAction,
                   help="AdamW-style decay (p -= lr*wd*p) instead of L2 added to the gradient")
    t.add_argument("--decay-bias", dest="decay_bias", action=argparse.BooleanOptionalAction,
                   help="apply weight decay to the biases too (--no-decay-bias: weights only)")
    t.add_argument("--early-stopping", dest="early_stopping", action=argparse.BooleanOptionalAction)
    t.add_argument("--patience", type=int_at_least(0))
    t.add_argument("--min-delta", "--min_delta", dest="min_delta", type=_number(optimizers.Option(0.0)))
    t.add_argument("--monitor", help="validation metric for early stopping")
    t.add_argument("--restore-best-weights", dest="restore_best_weights", action=argparse.BooleanOptionalAction)
    t.add_argument("--calibrate", action=argparse.BooleanOptionalAction,
                   help="fit a softmax temperature on the validation part")
    t.add_argument("--metrics", nargs="+", type=_one_of(metrics.METRICS), metavar=_choices(metrics.METRICS))
    t.add_argument("--seed", type=int_at_least(0))
    backend_options(t)
    t.add_argument("--dtype", type=_one_of(dtypes), metavar=_choices(dtypes))
    t.add_argument("--resume", metavar="MODEL",
                   help="continue training a saved model (model file, or run folder holding one) with its optimizer "
                        "state for --epochs more epochs, on the same data and settings (a run saved with --no-refit)")
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


