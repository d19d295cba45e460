"""xmlp train with the training toolkit (cli/recipe.py): --dropout, --norm, a config file's
[[layers]], --lr-schedule and its options, --clip-norm/--clip-value; their bad input (one line,
exit 2 or 65, nothing written) and --resume continuing the schedule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xmlp import CosineDecay, StepDecay
from xmlp.io.model_file import read_model_file

QUIET = ("--no-plots", "--quiet", "--epochs", "4")


def _kinds(path):
    meta, _ = read_model_file(path)
    return [layer["kind"] for layer in meta["topology"]["layers"]], meta


def test_dropout_norm_schedule_and_clipping_from_the_command_line(cli, tmp_path):
    code, out, err = cli("train", "--epochs", "6", "--layer", "16", "8", "--activation", "gelu", "--dropout", "0.1",
                         "--norm", "layer", "--lr-schedule", "cosine", "--warmup-epochs", "2", "--min-lr", "0.001",
                         "--clip-norm", "1.0", "--out", "r")
    assert code == 0, err
    kinds, meta = _kinds(tmp_path / "r/model.safetensors")
    assert kinds == ["Dense", "LayerNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert meta["topology"]["layers"][2]["activation"] == "gelu" and meta["topology"]["layers"][3]["rate"] == 0.1
    history = json.loads((tmp_path / "r/history.json").read_text())
    expected = [CosineDecay(6, min_lr=0.001, warmup=2).learning_rate(e, 0.0314) for e in range(6)]
    np.testing.assert_allclose(history["history"]["lr"], expected, rtol=1e-15)  # the same float operations
    assert history["config"]["clip_norm"] == 1.0 and history["config"]["lr_schedule"] == "cosine"
    assert (tmp_path / "r/lr.png").stat().st_size > 1000
    assert (tmp_path / "r/history.csv").read_text().splitlines()[0].endswith(",lr")
    assert f"- lr: {expected[0]:.3g}" in out  # 0.0105, not rounded to four decimals
    # the refit trained the saved model with the same schedule
    assert meta["training"]["refit"] == {"rows": 569, "epochs": 6} and meta["resume"]["lr_schedule"]["name"] == "cosine"


def test_step_schedule_values_are_in_the_history(cli, tmp_path):
    assert cli("train", *QUIET, "--lr-schedule", "step", "--step-size", "2", "--gamma", "0.5", "--out", "s")[0] == 0
    lr = json.loads((tmp_path / "s/history.json").read_text())["history"]["lr"]
    assert lr == [StepDecay(2, 0.5).learning_rate(e, 0.0314) for e in range(4)] == [0.0314, 0.0314, 0.0157, 0.0157]


def test_a_config_files_layers_list(cli, tmp_path):
    (tmp_path / "c.toml").write_text("""
epochs = 3
batch_size = 16
[[layers]]
kind = "Dense"
units = 12
activation = "linear"
[[layers]]
kind = "BatchNormalization"   # Keras's name is an alias
momentum = 0.2
[[layers]]
kind = "Activation"
activation = "silu"
""")
    code, _, err = cli("train", "--config", "c.toml", *QUIET[:2], "--out", "t")
    assert code == 0, err
    kinds, meta = _kinds(tmp_path / "t/model.safetensors")
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dense"] and meta["topology"]["layers"][1]["momentum"] == 0.2
    assert meta["topology"]["layers"][0]["kernel_initializer"] == "heUniform"  # --weights-initializer's default


@pytest.mark.parametrize("layers, message", [
    ('[[layers]]\nkind = "Conv2d"\n', "c.toml: expected a layer kind among Dense, Dropout, BatchNorm, LayerNorm, "
                                      "Activation; received 'Conv2d' (in layers 1)"),
    ('[[layers]]\nkind = "Dropout"\nrate = 1.0\n', "c.toml: expected a dropout rate in [0, 1); received 1.0 (in layers 1)"),
    ('layers = [1, 2]\n', "c.toml: expected [[layers]] tables"),
])
def test_a_bad_layers_list_is_a_data_error(cli, tmp_path, layers, message):
    (tmp_path / "c.toml").write_text(layers)
    code, out, err = cli("train", "--config", "c.toml", "--out", "t")
    assert code == 65 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("options, message", [
    (["--dropout", "1"], "argument --dropout: expected a number >= 0.0 and < 1.0; received '1'"),
    (["--dropout", "-0.1"], "argument --dropout: expected a number >= 0.0 and < 1.0; received '-0.1'"),
    (["--clip-norm", "0"], "argument --clip-norm/--clip_norm: expected a number > 0.0; received '0'"),
    (["--clip-value", "nan"], "argument --clip-value/--clip_value: expected a number > 0.0; received 'nan'"),
    (["--clip-norm", "1", "--clip-value", "1"], "expected one of clip_norm and clip_value; received both"),
    (["--norm", "group"], "--norm: invalid choice: 'group' (choose from 'none', 'batch', 'layer')"),
    (["--warmup-epochs", "3"], "expected --lr-schedule cosine with --warmup-epochs; received --lr-schedule none"),
    (["--lr-schedule", "step", "--lr-factor", "0.5"], "expected --lr-schedule plateau with --lr-factor; received "
                                                      "--lr-schedule step"),
    (["--lr-schedule", "exponential"], "expected --gamma with --lr-schedule exponential"),
    (["--lr-schedule", "cosine", "--warmup-epochs", "4"], "expected fewer warm-up epochs than epochs (4); received 4"),
    (["--lr-schedule", "plateau"], "expected --no-refit with --lr-schedule plateau"),
    (["--lr-schedule", "step", "--gamma", "0"], "argument --gamma: expected a number > 0.0; received '0'"),
    (["--norm", "batch"], "expected batches of at least 2 rows to train BatchNorm; received 569 training + validation "
                          "rows (the refit) in batches of 8, the last of 1 row (PyTorch refuses it too; hint: "
                          "--batch-size 9)"),
])
def test_bad_toolkit_options_are_one_line_and_write_nothing(cli, tmp_path, options, message):
    code, out, err = cli("train", *QUIET, *options, "--out", "r")
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_layers_beside_the_options_they_replace_is_a_usage_error(cli, tmp_path):
    (tmp_path / "c.toml").write_text('[[layers]]\nkind = "Dense"\nunits = 4\nactivation = "relu"\n')
    code, _, err = cli("train", "--config", "c.toml", "--norm", "layer", "--out", "r")
    assert code == 2 and "expected either [[layers]] or --norm; received both" in err
    assert not (tmp_path / "r").exists()


RESUMED = ("--no-plots", "--quiet", "--dtype", "float64", "--no-refit", "--dropout", "0.2", "--norm", "batch",
           "--batch-size", "16", "--optimizer", "adam", "--lr-schedule", "step", "--step-size", "1", "--gamma", "0.5",
           "--clip-norm", "1")


def test_resume_continues_the_schedule_dropout_and_batchnorm_bitwise(cli, tmp_path):
    assert cli("train", "--epochs", "4", "--out", "whole", *RESUMED)[0] == 0
    assert cli("train", "--epochs", "2", "--out", "half", *RESUMED)[0] == 0
    code, _, err = cli("train", "--epochs", "2", "--resume", "half", "--out", "resumed", *RESUMED)
    assert code == 0, err
    _, whole = read_model_file(tmp_path / "whole/model.safetensors")
    _, resumed = read_model_file(tmp_path / "resumed/model.safetensors")
    assert "layers.1.running_var" in whole and sorted(whole) == sorted(resumed)
    assert all(whole[k].tobytes() == resumed[k].tobytes() for k in whole)  # weights, statistics, Adam's slots
    lrs = [json.loads((tmp_path / f"{r}/history.json").read_text())["history"]["lr"] for r in ("whole", "half", "resumed")]
    assert lrs[0] == lrs[1] + lrs[2] == [0.001, 0.0005, 0.00025, 0.000125]


def test_resume_refuses_another_schedule_clipping_or_layers(cli, tmp_path):
    cosine = ("--no-plots", "--quiet", "--no-refit", "--lr-schedule", "cosine", "--warmup-epochs", "1", "--dropout", "0.2")
    assert cli("train", "--epochs", "3", "--out", "c", *cosine)[0] == 0
    code, _, err = cli("train", "--epochs", "1", "--resume", "c", "--out", "more", *cosine)
    # CosineDecay(3) is over: its min_lr 0 after epoch 3, refused before anything trains
    assert code == 2 and "--epochs 1: expected a positive, finite learning rate" in err and "at epoch 4" in err
    code, _, err = cli("train", "--epochs", "1", "--resume", "c", "--out", "more", *cosine[:3], *cosine[-2:])
    assert code == 78 and "expected --lr-schedule name=cosine, epochs=3, min_lr=0.0, warmup=1 (the model's); received none" in err
    code, _, err = cli("train", "--epochs", "1", "--resume", "c", "--out", "more", *cosine, "--clip-value", "2")
    assert code == 78 and "expected --clip-value None (the model's); received 2.0" in err
    code, _, err = cli("train", "--epochs", "1", "--resume", "c", "--out", "more", *cosine[:-1], "0.3")
    assert code == 78 and ("expected the hidden layers Dense(units=24, activation=tanh) Dropout(rate=0.2) Dense(units=24, "
                           "activation=tanh) Dropout(rate=0.2) (the model's); received Dense(units=24, activation=tanh) "
                           "Dropout(rate=0.3)") in err
    assert not (tmp_path / "more").exists()


def test_the_refit_rule_follows_the_row_count_unless_asked():
    from types import SimpleNamespace

    from xmlp.cli import recipe

    auto, on, off = (SimpleNamespace(refit=v) for v in (None, True, False))
    n = recipe.REFIT_MAX_ROWS
    assert recipe.refits(auto, n) and not recipe.refits(auto, n + 1)
    assert recipe.refits(on, 10 * n) and not recipe.refits(off, 10)


def test_a_large_data_set_is_not_refit_by_default_and_says_so(cli, tmp_path, monkeypatch):
    from xmlp.cli import recipe

    monkeypatch.setattr(recipe, "REFIT_MAX_ROWS", 500)  # the embedded 569 rows stand for a large file
    code, out, err = cli("train", *QUIET, "--out", "big")
    assert code == 0, err
    assert "> no refit: 569 rows (above 500, 25 % more rows do not change the model measurably; --refit forces one)" in out
    assert _kinds(tmp_path / "big/model.safetensors")[1]["training"]["refit"] is False
    code, out, err = cli("train", *QUIET, "--refit", "--out", "forced")
    assert code == 0, err
    assert _kinds(tmp_path / "forced/model.safetensors")[1]["training"]["refit"] == {"rows": 569, "epochs": 4}
