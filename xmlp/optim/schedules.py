"""Learning-rate schedules, one learning rate per epoch (as ``torch.optim.lr_scheduler`` stepped
once per epoch, and Keras's ``LearningRateScheduler``). Each states its formula for epoch
e = 0, 1, … (the epochs already run before it) and base learning rate lr0 (the optimizer's):

- ``StepDecay(step_size, gamma=0.1)``: lr0 * gamma^floor(e / step_size)  (``StepLR``)
- ``ExponentialDecay(gamma)``: lr0 * gamma^e  (``ExponentialLR``)
- ``CosineDecay(epochs, min_lr=0, warmup=0)``: for e < warmup, lr0 * (e + 1) / (warmup + 1) (a linear
  warm-up: ``LinearLR(start_factor=1/(warmup+1), total_iters=warmup)``); then, with
  T = epochs - warmup and t = e - warmup, min_lr + (lr0 - min_lr) (1 + cos(pi t / T)) / 2
  (``CosineAnnealingLR(T_max=T, eta_min=min_lr)``; the two joined as ``SequentialLR`` does), and
  min_lr after the last of its ``epochs``
- ``ReduceOnPlateau(monitor="val_loss", factor=0.1, patience=10, min_lr=0, threshold=1e-4,
  cooldown=0)``: ``ReduceLROnPlateau`` in its default relative-threshold mode: after an epoch whose
  monitored value did not improve on the best by more than the relative threshold, for more than
  ``patience`` epochs (and outside a cooldown), lr becomes max(lr * factor, min_lr).

``learning_rate(e, lr0)`` is the rate of epoch e; ``observe(logs)`` (after each epoch; only the
plateau schedule listens) may change the next. ``state()``/``load_state`` carry what a continued
training needs (the plateau's counters; the others are functions of e). Compute-free: plain
Python floats, read by the trainer once per epoch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .._registry import Registry


def _number(what: str, value: Any, low: float, high: float | None = None, low_open: bool = False,
            high_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (
        high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low:g}" + (f" and {'<' if high_open else '<='} {high:g}"
                                                            if high is not None else "")
        raise ValueError(f"expected {what} {bounds}; received {value!r}")
    return float(value)


def _count(what: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"expected {what} to be an integer >= {low}; received {value!r}")
    return value


class Schedule:
    """The protocol: ``learning_rate(epoch, base)``, ``observe(logs)``, ``config()``, state."""

    name: ClassVar[str] = ""

    def learning_rate(self, epoch: int, base: float) -> float:
        raise NotImplementedError

    def observe(self, logs: dict[str, float]) -> None:
        """The epoch's logs (``ReduceOnPlateau`` watches its monitor; the others need nothing)."""

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue where ``state()`` was taken."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """lr0 * gamma^floor(e / step_size)."""

    name = "step"

    def __init__(self, step_size: int, gamma: float = 0.1):
        self.step_size = _count("step_size", step_size, 1)
        self.gamma = _number("gamma", gamma, 0.0, low_open=True)

    def learning_rate(self, epoch: int, base: float) -> float:
        return base * self.gamma ** (epoch // self.step_size)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    """lr0 * gamma^e."""

    name = "exponential"

    def __init__(self, gamma: float):
        self.gamma = _number("gamma", gamma, 0.0, low_open=True)

    def learning_rate(self, epoch: int, base: float) -> float:
        return base * self.gamma**epoch

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "gamma": self.gamma}


class CosineDecay(Schedule):
    """Linear warm-up over ``warmup`` epochs, then a cosine from lr0 to ``min_lr`` over the rest
    of ``epochs``; ``min_lr`` after them."""

    name = "cosine"

    def __init__(self, epochs: int, min_lr: float = 0.0, warmup: int = 0):
        self.epochs = _count("epochs", epochs, 1)
        self.min_lr = _number("min_lr", min_lr, 0.0)
        self.warmup = _count("warmup", warmup, 0)
        if self.warmup >= self.epochs:
            raise ValueError(f"expected fewer warm-up epochs than epochs ({self.epochs}); received {warmup}")

    def learning_rate(self, epoch: int, base: float) -> float:
        if epoch < self.warmup:
            return base * (epoch + 1) / (self.warmup + 1)
        t, span = epoch - self.warmup, self.epochs - self.warmup
        if t >= span:
            return self.min_lr
        return self.min_lr + (base - self.min_lr) * (1.0 + math.cos(math.pi * t / span)) / 2.0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "epochs": self.epochs, "min_lr": self.min_lr, "warmup": self.warmup}


class ReduceOnPlateau(Schedule):
    """lr <- max(lr * factor, min_lr) after more than ``patience`` epochs without an improvement
    of the monitored value by more than ``threshold`` (relative), then ``cooldown`` epochs of rest."""

    name = "plateau"

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_lr: float = 0.0,
                 threshold: float = 1e-4, cooldown: int = 0):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"expected a metric name to monitor (val_loss, …); received {monitor!r}")
        self.monitor = monitor
        self.factor = _number("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
        self.patience = _count("patience", patience, 0)
        self.min_lr = _number("min_lr", min_lr, 0.0)
        self.threshold = _number("threshold", threshold, 0.0)
        self.cooldown = _count("cooldown", cooldown, 0)
        self.mode = "min"  # the trainer sets "max" for a metric that grows (accuracy, …)
        self.lr: float | None = None  # the current rate (None: the base)
        self.best: float | None = None
        self.bad_epochs = self.cooldown_left = 0

    def learning_rate(self, epoch: int, base: float) -> float:
        return base if self.lr is None else self.lr

    def start(self, base: float, maximize: bool) -> None:
        self.mode = "max" if maximize else "min"
        if self.lr is None:
            self.lr = base

    def observe(self, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise ValueError(f"expected ReduceOnPlateau to monitor one of {', '.join(sorted(logs))}; "
                             f"received {self.monitor!r}")
        if logs[self.monitor] is None:  # undefined this epoch: not better
            self.bad_epochs += 1
            return
        value = float(logs[self.monitor])
        better = self.best is None or (value < self.best * (1.0 - self.threshold) if self.mode == "min"
                                       else value > self.best * (1.0 + self.threshold))
        if better:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience and self.lr is not None:
            new = max(self.lr * self.factor, self.min_lr)
            if self.lr - new > 1e-8:  # torch's eps: a change below it is not made
                self.lr = new
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "monitor": self.monitor, "factor": self.factor, "patience": self.patience,
                "min_lr": self.min_lr, "threshold": self.threshold, "cooldown": self.cooldown}

    def state(self) -> dict[str, Any]:
        return {"lr": self.lr, "best": self.best, "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left,
                "mode": self.mode}

    def load_state(self, state: dict[str, Any]) -> None:
        lr, best = state.get("lr"), state.get("best")
        for what, value in (("lr", lr), ("best", best)):
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and math.isfinite(value)):
                raise ValueError(f"expected a number or null for the plateau schedule's {what}; received {value!r}")
        self.lr, self.best = (None if lr is None else float(lr)), (None if best is None else float(best))
        self.bad_epochs = _count("bad_epochs", state.get("bad_epochs", 0), 0)
        self.cooldown_left = _count("cooldown_left", state.get("cooldown_left", 0), 0)
        if state.get("mode", "min") not in ("min", "max"):
            raise ValueError(f"expected mode min or max; received {state.get('mode')!r}")
        self.mode = state.get("mode", "min")


SCHEDULES: Registry[type[Schedule]] = Registry("a learning-rate schedule")
for _cls in (StepDecay, ExponentialDecay, CosineDecay, ReduceOnPlateau):
    SCHEDULES.register(_cls.name, _cls)


def from_config(config: Any) -> Schedule:
    """The schedule a ``config()`` describes (a ValueError naming the fault otherwise)."""
    if not isinstance(config, dict):
        raise ValueError(f"expected a schedule description (a JSON object with a name); received {config!r}"[:200])
    args = {k: v for k, v in config.items() if k != "name"}
    cls = SCHEDULES.get(config.get("name"))
    try:
        return cls(**args)
    except TypeError:
        raise ValueError(f"expected the arguments of the {cls.name} schedule; received {sorted(args)}") from None


def checked(lr: float, epoch: int, schedule: Schedule) -> float:
    """The schedule's rate for an epoch, refused unless positive and finite."""
    if not (isinstance(lr, float) and math.isfinite(lr) and lr > 0.0):
        hint = (" (hint: min_lr > 0, or a CosineDecay(epochs) that covers the whole training)"
                if isinstance(schedule, (CosineDecay, ReduceOnPlateau)) else "")
        raise ValueError(f"expected a positive, finite learning rate from {schedule!r}; received {lr!r} at epoch "
                         f"{epoch + 1}{hint}")
    return lr


def check_span(schedule: Schedule, first: int, epochs: int, base: float) -> None:
    """Every rate of epochs ``first`` … ``first + epochs - 1`` checked before training starts
    (a plateau schedule's later rates depend on the run; its present one is checked)."""
    for epoch in range(first, first + epochs):
        checked(schedule.learning_rate(epoch, base), epoch, schedule)
