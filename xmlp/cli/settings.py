"""Settings of ``xmlp train``: one typed, validated ``TrainSettings`` per run.

Sources, each overriding the one before: the defaults below, a TOML file (its top level, then
one ``[runs.NAME]`` table per run), the command line. File values go through the same argparse
checks as command-line values, so a bad value in a file is reported like one typed; rules that
involve several settings are checked once, in ``TrainSettings.check``.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import DataError, NoInputError, UsageError
from ..nn import losses
from ..optim import optimizers
from ..training import callbacks
from . import recipe

# The command line's learning rate where it differs from the optimizer's own default: the
# 42 subject's 0.0314 for plain SGD (the default recipe was chosen with it; benchmarks/README.md).
CLI_LEARNING_RATES = {"sgd": 0.0314}
MAX_CONFIG = 1 << 20  # bytes
# argparse bookkeeping that is not a setting
_NOT_SETTINGS = ("func", "command", "debug", "config")


@dataclass(frozen=True)
class TrainSettings:
    """Everything one ``xmlp train`` run needs to know; see ``xmlp train --help``."""

    data: str | None = None
    train: str | None = None
    valid: str | None = None
    valid_size: float | int = 0.2
    layer: tuple[int, ...] = (24, 24)
    activation: str = "tanh"
    weights_initializer: str = "heUniform"
    loss: str | None = None
    preprocess: str = "yeo-johnson"  # or "standardize", "none"
    epochs: int = 150
    batch_size: int = 8
    #: None: 0.0314 for sgd (see SGD_LEARNING_RATE), the optimizer's own for the others
    learning_rate: float | None = None
    optimizer: str = "sgd"
    #: the optimizer's own options (--momentum, --beta1, …: see ``optimizers.Optimizer.options``)
    optimizer_options: dict[str, float] = field(default_factory=dict)
    weight_decay: float = 0.007
    decoupled_weight_decay: bool = False
    decay_bias: bool = True
    input_noise: float = 0.2
    refit: bool | None = None  # None: refit up to recipe.REFIT_MAX_ROWS rows (recipe.refits)
    ensemble: int = 1
    early_stopping: bool = False
    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best_weights: bool = True
    calibrate: bool = False
    metrics: tuple[str, ...] = ("accuracy",)
    seed: int = 42
    device: str | None = None
    backend: str | None = None
    dtype: str = "float32"
    out: str | None = None
    quiet: bool = False
    show: bool = False
    plots: bool = True
    force: bool = False  # replace an existing --out folder
    config: str | None = None
    #: data parallelism over MPI: "exact" (the default under mpiexec) or "sharded"
    distributed: str | None = None
    #: a saved model (file or run folder) whose training continues for ``epochs`` more epochs
    resume: str | None = None
    #: read --data/--train in chunks: None decides from the file's size and the available memory
    stream: bool | None = None
    chunk_rows: int | None = None  # rows per chunk (streamed, or sent to the device); None: 65536 when needed
    shuffle_buffer: int = 1 << 18  # rows shuffled together when streaming
    # The network beyond Dense and the training beyond the optimizer (see ``recipe``):
    dropout: float = 0.0  # Dropout(rate) after each hidden layer; 0: none
    norm: str = "none"  # "batch" or "layer": Dense(linear), the normalisation, then the activation
    #: a config file's [[layers]] (layer descriptions: the hidden layers), instead of the four above
    layers: tuple[dict[str, Any], ...] | None = None
    lr_schedule: str = "none"  # or "step", "exponential", "cosine", "plateau"
    step_size: int = 30  # step: epochs between decays
    gamma: float | None = None  # step (default 0.1) and exponential (required): the decay factor
    min_lr: float = 0.0  # cosine and plateau: the floor
    warmup_epochs: int = 0  # cosine: epochs of linear warm-up
    lr_factor: float = 0.1  # plateau: lr *= factor
    lr_patience: int = 10  # plateau: epochs without improvement before a decay
    lr_monitor: str = "val_loss"  # plateau: the watched value
    clip_norm: float | None = None  # clip the global L2 norm of the gradients
    clip_value: float | None = None  # clip each gradient value to [-v, v]
    task: str | None = None  # classification, regression or multilabel; None: what --loss implies
    target: str | int | list[str | int] | None = None  # label/target column(s); a list: numeric targets
    id: str | int | None = None  # the column holding the row ids (any text), carried to predictions
    sample_weight: str | int | None = None  # the column of row weights (the training loss is sum w l / sum w)
    class_weight: str | dict[str, float] | None = None  # "balanced" or {label: weight}, times the row weights
    huber_delta: float = 1.0  # --loss huber: its delta (in standardised target units)

    @property
    def regression(self) -> bool:
        return self.task == "regression" or (self.task is None and self.loss in losses.REGRESSION)

    task_name = property(lambda self: "multilabel" if self.task == "multilabel" else
                         "regression" if self.regression else "classification")

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> "TrainSettings":
        """Settings from parsed options (argparse dests); cross-setting rules checked."""
        names = {f.name for f in fields(cls)}
        opt_names = optimizers.all_options()
        kwargs = {k: v for k, v in values.items() if k in names and k != "optimizer_options"}
        for key in ("layer", "metrics"):
            if key in kwargs:
                kwargs[key] = tuple(dict.fromkeys(kwargs[key]) if key == "metrics" else kwargs[key])
        kwargs["optimizer_options"] = {k: v for k, v in values.items() if k in opt_names and v is not None}
        if kwargs.get("resume") and "refit" not in kwargs:
            kwargs["refit"] = False  # a resumed run continues the saved model itself
        recipe.task_defaults(kwargs)
        settings = cls(**kwargs)
        settings.check()
        recipe.check(settings, values)
        return settings

    def check(self) -> None:
        """The rules between settings (each value alone was checked by the parser)."""
        if self.data and (self.train or self.valid):
            raise UsageError("expected either --data or --train/--valid; received both")
        if self.valid and not self.train:
            raise UsageError("expected --train with --valid; received --valid alone")
        if self.resume and self.refit:
            raise UsageError("expected --resume without --refit; received both (a resumed run continues the saved "
                             "model on its training rows; hint: leave --refit out)")
        if self.resume and self.distributed == "sharded":
            raise UsageError("expected --resume without --distributed sharded; received both (each shard's "
                             "permutation stream is not saved; hint: --distributed exact)")
        if self.stream and not (self.data or self.train):
            raise UsageError("expected --data or --train with --stream; received the embedded data (always in memory)")
        if self.resume and self.stream:
            raise UsageError("expected --resume on data read whole; received --stream (continuing a streamed "
                             "training is not offered yet; hint: leave --stream out)")
        recipe.check_task(self)
        if self.calibrate and (self.refit is not False or self.ensemble > 1):
            raise UsageError("expected --calibrate with --no-refit and --ensemble 1; received --calibrate with "
                             + ("--refit (the refit model has seen the validation rows the temperature is fitted on)"
                                if self.refit is not False else f"--ensemble {self.ensemble} (averaged members are not rescaled)"))
        try:
            optimizers.check_options(self.optimizer, self.optimizer_options, flag="--")
            self.make_early_stopping()
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def make_optimizer(self) -> optimizers.Optimizer:
        lr = self.learning_rate if self.learning_rate is not None else CLI_LEARNING_RATES.get(self.optimizer)
        try:
            return optimizers.get(self.optimizer, learning_rate=lr, weight_decay=self.weight_decay,
                                  decoupled=True if self.decoupled_weight_decay else None,
                                  decay_bias=self.decay_bias, **self.optimizer_options)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def make_early_stopping(self) -> callbacks.EarlyStopping | None:
        """The early-stopping callback (None unless asked for); a training run always has a
        validation part (--valid, or the split of --data/--train)."""
        if not self.early_stopping:
            return None
        stopper = callbacks.EarlyStopping(self.monitor, self.patience, self.min_delta, self.restore_best_weights)
        try:
            callbacks.check_monitor(self.monitor, self.metrics, validation=True)
        except ValueError as exc:
            raise ValueError(f"--monitor: {exc}") from None
        return stopper

    def record(self) -> dict[str, Any]:
        """The settings as JSON values, for the history file and the model file."""
        out = asdict(self)
        for key in ("quiet", "show", "plots", "force"):
            out.pop(key)
        return {**out, "layer": list(self.layer), "metrics": list(self.metrics),
                "layers": None if self.layers is None else [dict(c) for c in self.layers]}


def defaults() -> dict[str, Any]:
    """Each setting's default (shown by ``xmlp train --help``)."""
    return {f.name: f.default_factory() if f.default is MISSING else f.default  # type: ignore[operator]
            for f in fields(TrainSettings)}


def read_config(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise NoInputError(f"{path}: expected a TOML config file; received a path that is not a file")
    try:
        if p.stat().st_size > MAX_CONFIG:
            raise DataError(f"{path}: expected a TOML config of at most {MAX_CONFIG:,} bytes; received a larger file")
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise NoInputError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise DataError(f"{path}: expected TOML; received invalid text ({reason[:200]})") from None
    if "train" not in doc:
        return doc
    train, others = doc["train"], sorted(k for k in doc if k != "train")
    if not isinstance(train, dict):
        raise DataError(f"{path}: expected a [train] table of settings; received train = {str(train)[:80]!r}")
    if others:
        raise DataError(f"{path}: expected the settings either at the top level or in [train]; received both "
                        f"({others[0]!r} at the top level would be ignored)")
    return dict(train)


def config_words(parser: argparse.ArgumentParser, path: str, doc: dict[str, Any]) -> list[str]:
    """A config table's keys as command-line words for ``parser`` (so they get the same checks)."""
    options = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("config", "debug", "help")}
    argv: list[str] = []
    for key, value in doc.items():
        dest = key.replace("-", "_")
        action = options.get(dest)
        if action is None:
            close = difflib.get_close_matches(dest, options, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (expected keys among {', '.join(sorted(options))})"
            raise UsageError(f"{path}: expected known keys or [runs.NAME] tables; received unknown key {key!r}{hint}")
        flag = action.option_strings[0]
        if isinstance(action, (argparse.BooleanOptionalAction, argparse._StoreTrueAction)):
            if not isinstance(value, bool):
                raise UsageError(f"{path}: expected true or false for {key!r}; received {value!r}")
            if value:
                argv.append(flag)
            elif isinstance(action, argparse.BooleanOptionalAction):
                argv.append("--no-" + flag[2:])
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            argv += [flag, *(_word(path, key, v) for v in value)]
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            argv += [flag, _word(path, key, value)]
        else:
            raise UsageError(f"{path}: expected a number, a string or a list for {key!r}; received {value!r}")
    return argv


def train_settings(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[tuple[str | None, TrainSettings]]:
    """[(run name, settings)]: defaults, overridden by --config (its top level, then each
    [runs.NAME] table, one run per table), overridden by the command line."""
    cli = _given(parser.parse_args(argv))
    if not cli.get("config"):
        return [(None, TrainSettings.from_options(cli))]
    path = cli["config"]
    doc = read_config(path)
    runs = doc.pop("runs", None)
    layers = recipe.read_layers(path, doc.pop("layers")) if "layers" in doc else None
    if runs is not None and (not isinstance(runs, dict) or not runs or
                             not all(isinstance(v, dict) for v in runs.values())):
        raise DataError(f"{path}: expected [runs.NAME] tables of settings; received runs = {runs!r}")
    out = []
    for name, table in (runs or {None: {}}).items():
        if name is not None and not _plain_name(name):
            raise DataError(f"{path}: expected a plain run name (a folder name of at most 100 printable characters, "
                            f"without / or \\); received {name[:100]!r}")
        table = dict(table)
        run_layers = recipe.read_layers(path, table.pop("layers")) if "layers" in table else layers
        words = config_words(parser, path, doc) + config_words(parser, path, table)
        try:
            from_file = _given(parser.parse_args(words))
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None
        if run_layers is not None:
            from_file["layers"] = run_layers
        out.append((name, TrainSettings.from_options({**from_file, **cli})))
    return out


def _plain_name(name: str) -> bool:
    return (0 < len(name) <= 100 and name.isprintable() and name not in (".", "..") and "/" not in name
            and "\\" not in name and not name.startswith("."))


def _word(path: str, key: str, value: Any) -> str:
    """A config value as a command-line word; one that would read as an option is refused."""
    text = str(value)
    if text.startswith("-") and not _looks_numeric(text):
        raise UsageError(f"{path}: expected a value for {key!r}; received {text[:60]!r}, which reads as an option")
    return text


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _given(ns: argparse.Namespace) -> dict[str, Any]:
    """The options given (the train parser's defaults are 'not given': SUPPRESS)."""
    return {k: v for k, v in vars(ns).items() if k not in _NOT_SETTINGS or k == "config"}
