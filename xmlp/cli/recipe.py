"""What a run's settings say about its network and its training beyond the optimizer: the hidden
layers (``--layer``/``--activation`` with ``--dropout`` and ``--norm``, or a config file's
``[[layers]]`` list), the learning-rate schedule (``--lr-schedule`` and its options) and gradient
clipping (``--clip-norm``/``--clip-value``). Checked once, with the other settings."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import DataError, UsageError
from ..nn import layers as layers_mod
from ..nn import losses
from ..nn.layers import BatchNorm, Layer
from ..optim import clipping
from ..optim.schedules import (
    CosineDecay,
    ExponentialDecay,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)
from ..training import metrics

SCHEDULE_NAMES = ("none", "step", "exponential", "cosine", "plateau")
NORM_NAMES = ("none", "batch", "layer")
#: each schedule option and the schedules that take it
SCHEDULE_OPTIONS = {"step_size": ("step",), "gamma": ("step", "exponential"), "min_lr": ("cosine", "plateau"),
                    "warmup_epochs": ("cosine",), "lr_factor": ("plateau",), "lr_patience": ("plateau",),
                    "lr_monitor": ("plateau",)}
_SHAPE_OPTIONS = ("layer", "activation", "dropout", "norm")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check(s: Any, given: Mapping[str, Any]) -> None:
    """The rules between these settings: options of another schedule, [[layers]] beside the
    options it replaces, a schedule or clipping that cannot be built. ``given``: the options
    set (by the command line or a config file), so that a default is never reported."""
    for key, takers in SCHEDULE_OPTIONS.items():
        if key in given and s.lr_schedule not in takers:
            raise UsageError(f"expected --lr-schedule {' or '.join(takers)} with {flag(key)}; received --lr-schedule "
                             f"{s.lr_schedule} (hint: leave {flag(key)} out, or choose a schedule that takes it)")
    if s.layers is not None:
        clash = [k for k in _SHAPE_OPTIONS if k in given]
        if clash:
            raise UsageError(f"expected either [[layers]] or {', '.join(map(flag, clash))}; received both "
                             "(the [[layers]] list says every hidden layer)")
    if s.lr_schedule == "exponential" and s.gamma is None:
        raise UsageError("expected --gamma with --lr-schedule exponential (lr0 * gamma^epoch); received none")
    if s.lr_schedule == "plateau" and s.refit is not False:
        raise UsageError("expected --no-refit with --lr-schedule plateau; received --refit (the default; the refit trains on the "
                         "validation rows, and has none to watch; hint: add --no-refit)")
    try:
        # a resumed cosine schedule keeps the epochs it was made with (resume.py compares the rest)
        make_schedule(s, epochs=s.warmup_epochs + 1 if s.resume else None)
        clipping.check(s.clip_norm, s.clip_value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def make_schedule(s: Any, epochs: int | None = None) -> Schedule | None:
    """The schedule of the settings (None for ``none``); a cosine one spans ``epochs`` (default:
    the run's --epochs)."""
    name = s.lr_schedule
    if name == "step":
        return StepDecay(s.step_size, 0.1 if s.gamma is None else s.gamma)
    if name == "exponential":
        return ExponentialDecay(s.gamma)
    if name == "cosine":
        return CosineDecay(s.epochs if epochs is None else epochs, min_lr=s.min_lr, warmup=s.warmup_epochs)
    if name == "plateau":
        return ReduceOnPlateau(s.lr_monitor, factor=s.lr_factor, patience=s.lr_patience, min_lr=s.min_lr)
    return None


def fit_options(s: Any) -> dict[str, Any]:
    """The keywords of ``Sequential.fit`` these settings give (a resumed run's schedule is the
    saved one, which continues)."""
    return {"lr_schedule": None if s.resume else make_schedule(s), "clip_norm": s.clip_norm,
            "clip_value": s.clip_value}


def hidden_layers(s: Any) -> list[Layer]:
    """The hidden layers: the [[layers]] list, else ``nn.layers.hidden_stack`` of --layer,
    --activation, --norm and --dropout."""
    if s.layers is not None:
        return [layers_mod.from_config(_with_initializer(dict(c), s.weights_initializer)) for c in s.layers]
    return layers_mod.hidden_stack(s.layer, s.activation, norm=None if s.norm == "none" else s.norm,
                                   dropout=s.dropout, kernel_initializer=s.weights_initializer)


def read_layers(path: str, value: Any) -> tuple[dict[str, Any], ...]:
    """A config file's ``[[layers]]`` list (tables with a ``kind``), each checked by building it."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise DataError(f"{path}: expected [[layers]] tables (kind = \"Dense\", units = 64, …); "
                        f"received layers = {str(value)[:80]!r}")
    out = []
    for i, table in enumerate(value):
        config = dict(table)
        try:
            if "kind" in config:
                config["kind"] = layers_mod.LAYERS.canonical(config["kind"])
            layers_mod.from_config(config)
        except ValueError as exc:
            raise DataError(f"{path}: {exc} (in layers {i + 1})") from None
        out.append(config)
    return tuple(out)


def check_batches(s: Any, layers: Any, n_train: int, n_valid: int) -> None:
    """BatchNorm refuses a batch of one row (as PyTorch): a run whose training rows, or whose
    refit's training + validation rows, would leave one is refused before anything trains,
    with a batch size that leaves none."""
    if not any(isinstance(layer, BatchNorm) for layer in layers):
        return
    counts = [("training rows", n_train)] + ([("training + validation rows (the refit)", n_train + n_valid)]
                                             if refits(s, n_train + n_valid) else [])
    for what, n in counts:
        if n % s.batch_size == 1:
            good = next(b for b in range(s.batch_size + 1, 2 * s.batch_size + 3) if all(m % b != 1 for _, m in counts))
            raise UsageError(f"expected batches of at least 2 rows to train BatchNorm; received {n} {what} in batches "
                             f"of {s.batch_size}, the last of 1 row (PyTorch refuses it too; hint: --batch-size {good})")


def _with_initializer(config: dict[str, Any], initializer: str) -> dict[str, Any]:
    if config.get("kind") == "Dense":
        config.setdefault("kernel_initializer", initializer)
    return config


#: A regression's defaults where its settings do not say: ``xmlp.sklearn.MLPRegressor``'s (chosen on
#: diabetes KFold folds), not the 42 classification recipe: on ten diabetes splits never used to choose
#: them, validation R² median 0.50 against 0.36, better on every split (benchmarks/cli_regression.py)
REGRESSION_DEFAULTS: dict[str, Any] = {"layer": (64, 64), "activation": "relu", "optimizer": "adam",
                                       "weight_decay": 0.1, "epochs": 100, "batch_size": 32,
                                       "preprocess": "standardize", "input_noise": 0.0}


def task_defaults(kwargs: dict[str, Any]) -> None:
    """What the task changes in the settings given (argparse dests), in place: one ``--target``
    stays a name or an index (several, or a multilabel task's: a list, read as numbers); a
    regression reports r2 and a multilabel task its Hamming loss and subset accuracy by default;
    a regression's other defaults are ``REGRESSION_DEFAULTS``."""
    if isinstance(kwargs.get("target"), (list, tuple)):
        many = len(kwargs["target"]) > 1 or kwargs.get("task") == "multilabel"
        kwargs["target"] = list(kwargs["target"]) if many else kwargs["target"][0]
    regression = kwargs.get("task") == "regression" or (kwargs.get("task") is None and kwargs.get("loss") in losses.REGRESSION)
    if "metrics" not in kwargs and (regression or kwargs.get("task") == "multilabel"):
        kwargs["metrics"] = ("r2",) if regression else ("hamming_loss", "subset_accuracy")
    if regression:
        for key, value in REGRESSION_DEFAULTS.items():
            if not (key in ("layer", "activation") and kwargs.get("layers")):  # [[layers]] describe them
                kwargs.setdefault(key, value)


def check_task(s: Any) -> None:
    """The settings of a regression (``--task regression``, or a regression ``--loss``) agree:
    its losses and metrics, and none of what only a classification has."""
    multilabel = s.task == "multilabel"
    if s.loss == "sigmoidCrossentropy" and not multilabel:
        raise UsageError("--loss: expected a classification or regression loss; received sigmoidCrossentropy, the "
                         "multi-label loss (hint: --task multilabel --target LABEL…)")
    if multilabel and s.loss not in (None, "sigmoidCrossentropy"):
        raise UsageError(f"expected --loss sigmoidCrossentropy (or none) with --task multilabel; received --loss {s.loss}")
    if multilabel and not isinstance(s.target, list):
        raise UsageError("expected --target with the 0/1 label columns with --task multilabel; received none "
                         "(hint: --target A B C, by header name or index)")
    if isinstance(s.target, list) and s.task_name == "classification":
        raise UsageError(f"expected one --target column for a classification; received {len(s.target)} (hint: "
                         "--task regression for several outputs, --task multilabel for 0/1 labels)")
    if multilabel and (s.calibrate or s.class_weight is not None):
        raise UsageError("expected --task multilabel without --calibrate and --class-weight; received "
                         + ("--calibrate" if s.calibrate else "--class-weight"))
    if s.task == "regression" and s.loss is not None and s.loss not in losses.REGRESSION:
        raise UsageError(f"expected a regression loss ({', '.join(losses.REGRESSION)}) with --task regression; "
                         f"received --loss {s.loss}")
    if s.task == "classification" and s.loss in losses.REGRESSION:
        raise UsageError(f"expected a classification loss with --task classification; received --loss {s.loss} "
                         "(hint: --task regression)")
    try:
        metrics.check_names(s.metrics, s.task_name)
    except ValueError as exc:
        raise UsageError(f"--metrics: {exc}") from None
    if s.regression and s.class_weight is not None:
        raise UsageError("expected --class-weight with a classification; received a regression (hint: --sample-weight "
                         "COLUMN weighs rows)")
    if s.sample_weight is not None and not (s.data or s.train):
        raise UsageError("expected --data or --train with --sample-weight; received the embedded data (no weight "
                         "column)")
    if s.regression and s.calibrate:
        raise UsageError("expected --calibrate with a classification; received a regression (no probabilities)")


#: Above this many training + validation rows ``xmlp train`` does not refit unless asked
#: (``--refit``): 25 % more rows than the run's no longer change the model's test loss beyond
#: its run-to-run spread, while the refit doubles the training time and holds a second copy of
#: the data (measured: benchmarks/refit_rows.py, table in benchmarks/README.md).
REFIT_MAX_ROWS = 10_000


def refits(s: Any, rows: int) -> bool:
    """Whether a run of ``rows`` training + validation rows refits: as ``--refit`` / ``--no-refit``
    say, else (the default) up to ``REFIT_MAX_ROWS`` rows."""
    return bool(s.refit) if s.refit is not None else rows <= REFIT_MAX_ROWS
