"""Callbacks: hooks into the training loop, the per-epoch history, early stopping, the epoch
report and the progress bar."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import metrics as metrics_mod

# The subject's report names; keys are Keras's ("accuracy"), the line prints "acc".
_SHORT = {"accuracy": "acc", "val_accuracy": "val_acc"}


@dataclass
class History:
    """Per-epoch metrics (``history["val_loss"][i]`` is epoch i+1's) and the run's settings."""

    history: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    stopped_epoch: int | None = None
    best_epoch: int | None = None
    restored_epoch: int | None = None  # the epoch whose weights early stopping restored

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", ()))

    @property
    def kept_epochs(self) -> int:
        """How many epochs produced the weights the model ended with."""
        start = self.params.get("initial_epoch", 0)  # epochs are numbered from a warm start's
        return self.restored_epoch - start if self.restored_epoch is not None else self.epochs

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            # None: a metric undefined this epoch (R² of a constant target), never NaN
            self.history.setdefault(key, []).append(None if value is None else float(value))

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, "params": self.params,
                "stopped_epoch": self.stopped_epoch, "best_epoch": self.best_epoch}


class Callback:
    """Hooks called by the trainer; ``on_epoch_end`` returning True stops training.

    ``model`` is the estimator being fitted (``copy_params``/``restore_params`` on its network
    are what early stopping uses); ``params`` holds epochs, batch_size, optimizer, metrics,
    validation and seed.
    """

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


def check_monitor(monitor: str, metrics: Sequence[str], validation: bool) -> None:
    """The rule of early stopping: it watches a validation metric that the run computes."""
    if not validation:
        raise ValueError("expected validation data for early stopping; received none "
                         "(hint: pass validation_data, or --valid/--data)")
    known = ["val_loss"] + [f"val_{m}" for m in metrics]
    if monitor not in known:
        raise ValueError(f"expected early stopping to monitor one of {', '.join(known)}; received {monitor!r}")


class EarlyStopping(Callback):
    """Stop when ``monitor`` (a validation metric) has not improved by more than ``min_delta``
    for ``patience`` epochs; with ``restore_best_weights``, end with the best epoch's weights.

    Best weights are copied on the device (no host transfer); improvement is judged once per
    epoch from the values the host reads anyway.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 0.0,
                 restore_best_weights: bool = True):
        if not isinstance(monitor, str) or not monitor.startswith("val_"):
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
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.best_weights: Any = None
        self._carried: dict[str, Any] | None = None

    def state(self) -> dict[str, Any]:
        """What a continued training needs to go on counting: the best value, its epoch, and the
        epochs since (JSON-able; ``carry`` takes it back)."""
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def carry(self, state: dict[str, Any]) -> None:
        """Go on from a previous training's ``state()`` (``xmlp train --resume``): the next fit
        starts with its best value and its count of epochs without improvement instead of afresh;
        the weights it starts from stand for the best (the saved run ended on them, restored or not)."""
        if state.get("monitor") != self.monitor:
            raise ValueError(f"expected early stopping state of {self.monitor}; received one of {state.get('monitor')!r}")
        best, epoch, wait = state.get("best"), state.get("best_epoch"), state.get("wait")
        if not (best is None or (isinstance(best, (int, float)) and not isinstance(best, bool) and math.isfinite(best))) \
                or not (epoch is None or (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0)) \
                or not (isinstance(wait, int) and not isinstance(wait, bool) and wait >= 0):
            raise ValueError(f"expected an early stopping state (best, best_epoch, wait); received {state!r}"[:300])
        self._carried = {"best": best, "best_epoch": epoch, "wait": wait}

    def on_train_begin(self, model: Any, params: dict[str, Any]) -> None:
        check_monitor(self.monitor, params.get("metrics", ()), bool(params.get("validation")))
        self.maximize = metrics_mod.get(self.monitor).larger_is_better
        self.network = model.network
        self.best, self.best_epoch, self.wait, self.best_weights = None, None, 0, None
        if self._carried is not None and self._carried["best"] is not None:
            c, self._carried = self._carried, None
            self.best, self.best_epoch, self.wait = float(c["best"]), c["best_epoch"], c["wait"]
            if self.restore_best_weights:
                self.best_weights = self.network.copy_params()

    def _improved(self, value: float | None) -> bool:
        if value is None:  # undefined (R² of a constant target): no improvement
            return False
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.network.copy_params()
            return False
        self.wait += 1
        return self.wait >= self.patience  # as Keras: patience epochs without improvement

    def on_train_end(self, history: History) -> None:
        history.best_epoch = self.best_epoch
        if self.restore_best_weights and self.best_weights is not None:
            self.network.restore_params(self.best_weights)
            history.restored_epoch = self.best_epoch


class EpochPrinter(Callback):
    """Prints the subject's per-epoch line."""

    def __init__(self, stream: Any = None):
        self.stream = stream

    def on_train_begin(self, model: Any, params: dict[str, Any]) -> None:
        self.epochs = params.get("initial_epoch", 0) + params["epochs"]  # the last epoch's number

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        print(epoch_line(epoch, self.epochs, logs), file=self.stream, flush=True)


def epoch_line(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch 07/70 - loss: 0.0750 - val_loss: 0.0406 - acc: 0.9780 - val_acc: 0.9825`` (and
    ``- lr: 0.000314`` with a learning-rate schedule)."""
    width = len(str(epochs))
    order = ["loss", "val_loss"]
    for k in logs:
        if not k.startswith("val_") and k != "loss":
            order += [k, f"val_{k}"]
    parts = [f"epoch {epoch:0{width}d}/{epochs}"]
    parts += [f"{_SHORT.get(k, k)}: n/a" if logs[k] is None else
              f"{_SHORT.get(k, k)}: {logs[k]:.3g}" if k == "lr" else f"{_SHORT.get(k, k)}: {logs[k]:.4f}"
              for k in order if k in logs]  # a learning rate of 1e-5 is not 0.0000
    return " - ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar within long epochs (>= ``MIN_BATCHES`` batches), only on a terminal. It counts
    batches as the host queues them: no device synchronization is added."""

    MIN_BATCHES = 200  # shorter epochs finish before a bar would be useful

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self.bar: Any = None
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def on_train_begin(self, model: Any, params: dict[str, Any]) -> None:
        self.epochs = params.get("initial_epoch", 0) + params["epochs"]  # the last epoch's number

    def on_epoch_begin(self, epoch: int, n_batches: int) -> None:
        if self.enabled and n_batches >= self.MIN_BATCHES:
            from tqdm import tqdm

            self.bar = tqdm(total=n_batches, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                            file=self.stream, unit="batch")

    def on_batch_end(self, batch: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
