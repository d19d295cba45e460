"""A progress bar within long epochs (tqdm), only on a terminal. It counts batches as the host
queues them: no device synchronization is added."""

from __future__ import annotations

import sys
from typing import Any

from .training import Callback

MIN_BATCHES = 200  # shorter epochs finish before a bar would be useful


class ProgressBar(Callback):
    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self.bar = None
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def on_train_begin(self, model, params):
        self.epochs = params["epochs"]
        self.epoch = 0

    def on_epoch_begin(self, epoch, n_batches):
        self.epoch += 1
        if self.enabled and n_batches >= MIN_BATCHES:
            from tqdm import tqdm

            self.bar = tqdm(total=n_batches, desc=f"epoch {self.epoch}/{self.epochs}", leave=False,
                            file=self.stream, unit="batch")

    def on_batch_end(self, batch):
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
