"""Pieces of the training loop that are not array compute: history, callbacks, early stopping,
and the epoch report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# The subject's report names; keys are Keras's ("accuracy"), the line prints "acc".
_SHORT = {"accuracy": "acc", "val_accuracy": "val_acc"}
# Metrics where larger is better; everything else (losses, bce) is minimized.
_MAXIMIZE = ("accuracy", "precision", "recall", "f1")


class TrainingDiverged(ArithmeticError):
    """The loss became NaN or infinite: training stops instead of carrying NaN weights."""


@dataclass
class History:
    """Per-epoch metrics (``history["val_loss"][i]`` is epoch i+1's) and the run's settings."""

    history: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    stopped_epoch: int | None = None
    best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", ()))

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, "params": self.params,
                "stopped_epoch": self.stopped_epoch, "best_epoch": self.best_epoch}


class Callback:
    """Hooks called by ``Sequential.fit``; ``on_epoch_end`` returning True stops training."""

    def on_train_begin(self, model: Any, params: dict[str, Any]) -> None:
        pass

    def on_epoch_begin(self, epoch: int, n_batches: int) -> None:
        pass

    def on_batch_end(self, batch: int) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None:
        return None

    def on_train_end(self, history: History) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` (a validation metric) has not improved by more than ``min_delta``
    for ``patience`` epochs; with ``restore_best_weights``, end with the best epoch's weights.

    Best weights are copied on the device (no host transfer); improvement is judged once per
    epoch from the values the host reads anyway.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 restore_best_weights: bool = True):
        if not monitor.startswith("val_"):
            raise ValueError(
                f"expected early stopping to monitor a validation metric (val_loss, val_accuracy, …); "
                f"received {monitor!r}"
            )
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"expected patience to be an integer >= 0; received {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"expected min_delta >= 0; received {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.maximize = monitor.removeprefix("val_") in _MAXIMIZE

    def on_train_begin(self, model, params):
        if not params.get("validation"):
            raise ValueError("expected validation data for early stopping; received none "
                             "(hint: pass validation_data, or --valid/--data)")
        known = ["val_loss"] + [f"val_{m}" for m in params.get("metrics", ())]
        if self.monitor not in known:
            raise ValueError(f"expected early stopping to monitor one of {', '.join(known)}; received {self.monitor!r}")
        self.model, self.best, self.best_epoch, self.wait, self.best_weights = model, None, None, 0, None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs):
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.copy_params()
            return False
        self.wait += 1
        return self.wait >= self.patience  # as Keras: patience epochs without improvement

    def on_train_end(self, history):
        history.best_epoch = self.best_epoch
        if self.restore_best_weights and self.best_weights is not None:
            self.model.restore_params(self.best_weights)


class EpochPrinter(Callback):
    """Prints the subject's per-epoch line."""

    def __init__(self, stream: Any = None):
        self.stream = stream

    def on_train_begin(self, model, params):
        self.epochs = params["epochs"]

    def on_epoch_end(self, epoch, logs):
        print(epoch_line(epoch, self.epochs, logs), file=self.stream, flush=True)


def epoch_line(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch 07/70 - loss: 0.0750 - val_loss: 0.0406 - acc: 0.9780 - val_acc: 0.9825``."""
    width = len(str(epochs))
    order = ["loss", "val_loss"]
    names = [k for k in logs if not k.startswith("val_") and k != "loss"]
    for k in names:
        order += [k, f"val_{k}"]
    parts = [f"epoch {epoch:0{width}d}/{epochs}"]
    parts += [f"{_SHORT.get(k, k)}: {logs[k]:.4f}" for k in order if k in logs]
    return " - ".join(parts)


def check_finite(epoch: int, logs: dict[str, float]) -> None:
    for key in ("loss", "val_loss"):
        if key in logs and not math.isfinite(logs[key]):
            raise TrainingDiverged(
                f"expected a finite {key}; received {logs[key]} at epoch {epoch} "
                "(hint: lower the learning rate, or use --dtype float64)"
            )
