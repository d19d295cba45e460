"""Early stopping, metrics, history, progress and comparison plots."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from xmlp import Dense, Sequential, load_model
from xmlp.training.callbacks import EarlyStopping, ProgressBar


def overfitting_model(backend="numpy"):
    return Sequential([Dense(128, "relu"), Dense(128, "relu"), Dense(2, "softmax")], backend=backend)


def test_early_stopping_stops_and_restores_the_best_weights(backend, split):
    xt, yt, xv, yv = split
    model = overfitting_model(backend)
    stopper = EarlyStopping(patience=5)
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=200, learning_rate=0.1, seed=0,
                        early_stopping=stopper)
    val = history.history["val_loss"]
    assert history.stopped_epoch is not None and history.stopped_epoch < 200
    assert len(val) == history.stopped_epoch == history.best_epoch + 5
    assert history.best_epoch == int(np.argmin(val)) + 1
    # The kept weights are the best epoch's: their validation loss is the best in the history.
    # History: float32 log-sum-exp on the device; evaluate: float32 probabilities read back and
    # scored in float64 — the two differ by float32 rounding, ~1e-7 relative.
    np.testing.assert_allclose(model.evaluate(xv, yv)["loss"], min(val), rtol=1e-5)


def test_without_restore_the_last_weights_stay(split):
    xt, yt, xv, yv = split
    model = overfitting_model()
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=200, learning_rate=0.1, seed=0,
                        early_stopping=EarlyStopping(patience=5, restore_best_weights=False))
    np.testing.assert_allclose(model.evaluate(xv, yv)["loss"], history.history["val_loss"][-1], rtol=1e-5)
    assert history.history["val_loss"][-1] > min(history.history["val_loss"])


def test_early_stopping_on_a_maximized_metric_with_min_delta(split):
    xt, yt, xv, yv = split
    stopper = EarlyStopping(monitor="val_f1", patience=3, min_delta=0.5)  # nothing beats +0.5
    history = Sequential([Dense(8, "tanh"), Dense(2, "softmax")]).fit(
        xt, yt, validation_data=(xv, yv), epochs=50, seed=0, metrics=["f1"], early_stopping=stopper)
    assert (history.best_epoch, history.stopped_epoch) == (1, 4)  # 3 epochs without improvement


def test_early_stopping_misconfiguration_is_an_error(split):
    xt, yt, xv, yv = split
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")])
    with pytest.raises(ValueError, match="expected validation data for early stopping; received none"):
        model.fit(xt, yt, epochs=3, early_stopping=EarlyStopping())
    with pytest.raises(ValueError, match="expected early stopping to monitor one of val_loss, val_accuracy; received 'val_f1'"):
        model.fit(xt, yt, validation_data=(xv, yv), epochs=3, early_stopping=EarlyStopping("val_f1"))
    with pytest.raises(ValueError, match="expected early stopping to monitor a validation metric"):
        EarlyStopping("loss")
    with pytest.raises(ValueError, match="expected patience to be an integer >= 0; received -1"):
        EarlyStopping(patience=-1)


def test_cli_early_stopping_saves_the_best_epoch(cli, tmp_path):
    code, out, err = cli("train", "--layer", "128", "128", "--activation", "relu", "--weight-decay", "0",
                         "--learning-rate", "0.1", "--epochs", "200", "--early-stopping", "--patience", "5",
                         "--out", "r", "--quiet", "--no-plots")
    assert code == 0, err
    m = re.search(r"early stopping at epoch (\d+): no val_loss improvement for 5 epochs; keeping the weights of epoch (\d+)", out)
    stopped, best = int(m.group(1)), int(m.group(2))
    assert stopped < 200 and best == stopped - 5
    doc = json.loads((tmp_path / "r/history.json").read_text())
    val = doc["history"]["val_loss"]
    assert (doc["stopped_epoch"], doc["best_epoch"]) == (stopped, best) and int(np.argmin(val)) + 1 == best
    model = load_model(tmp_path / "r/model.safetensors")
    assert model.metadata["training"]["best_epoch"] == best
    # The saved model's validation loss (its metadata, from evaluate) is the history's best.
    np.testing.assert_allclose(model.metadata["metrics"]["val_loss"], min(val), rtol=1e-5)  # as above


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(split):
    xt, yt, _, _ = split
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        model = Sequential([Dense(4, "tanh"), Dense(2, "softmax")])
        model.fit(xt, yt, epochs=1, batch_size=2, seed=0, callbacks=[ProgressBar(stream)])  # 228 batches
        assert ("epoch 1/1" in stream.getvalue() and "/228 [" in stream.getvalue()) == shown


