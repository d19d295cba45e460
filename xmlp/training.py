"""Pieces of the training loop that are not array compute: history and the epoch report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# The subject's report names; keys are Keras's ("accuracy"), the line prints "acc".
_SHORT = {"accuracy": "acc", "val_accuracy": "val_acc"}


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


def epoch_line(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """``epoch 07/70 - loss: 0.0750 - val_loss: 0.0406 - acc: 0.9780 - val_acc: 0.9825``."""
    width = len(str(epochs))
    order = ["loss", "val_loss"] + [k for k in logs if k not in ("loss", "val_loss")]
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
