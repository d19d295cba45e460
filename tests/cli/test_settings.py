"""Settings of xmlp train: TOML files, command-line overrides, cross-setting rules."""

from __future__ import annotations

import json

import pytest


def test_config_file_and_command_line_override(cli, tmp_path):
    (tmp_path / "c.toml").write_text('layer = [12, 6]\nepochs = 4\nbatch_size = 16\noptimizer = "adam"\n'
                                     'learning_rate = 0.002\nplots = false\nearly-stopping = true\npatience = 50\n')
    code, out, _ = cli("train", "--config", "c.toml", "--epochs", "2", "--out", "r")
    assert code == 0, out
    cfg = json.loads((tmp_path / "r/history.json").read_text())["config"]
    assert cfg["layer"] == [12, 6] and cfg["epochs"] == 2 and cfg["batch_size"] == 16
    assert cfg["optimizer"] == {"name": "adam", "learning_rate": 0.002, "weight_decay": 0.007,
                                "decoupled": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08}
    assert cfg["early_stopping"] is True and not (tmp_path / "r/loss.png").exists()


@pytest.mark.parametrize(
    "text, code, message",
    [
        ("epochs = 0\n", 2, "c.toml: argument --epochs: expected an integer >= 1; received '0'"),
        # A wrong key or value is a usage error (2), as the same mistake on the command line; a file
        # that is not TOML is bad data (65).
        ("colour = 'red'\n", 2, "c.toml: expected known keys or [runs.NAME] tables; received unknown key 'colour' (expected keys among "),
        ("epoch = 3\n", 2, "c.toml: expected known keys or [runs.NAME] tables; received unknown key 'epoch' (did you mean 'epochs'?)"),
        ("epochs = [\n", 65, "c.toml: expected TOML; received invalid text"),
        ("epochs = true\n", 2, "c.toml: expected a number, a string or a list for 'epochs'; received True"),
        ("quiet = 'yes'\n", 2, "c.toml: expected true or false for 'quiet'; received 'yes'"),
    ],
)
def test_bad_config_files(cli, tmp_path, text, code, message):
    (tmp_path / "c.toml").write_text(text)
    got, out, err = cli("train", "--config", "c.toml")
    assert (got, err.count("\n")) == (code, 1) and message in err
    assert not (tmp_path / "runs").exists()


def test_multi_run_config_checks_every_run_before_training(cli, tmp_path):
    (tmp_path / "c.toml").write_text('epochs = 2\n[runs.good]\noptimizer = "sgd"\n[runs.bad]\noptimizer = "adam"\nmomentum = 0.9\n')
    code, out, err = cli("train", "--config", "c.toml", "--out", "r")
    assert code == 2 and "expected options that adam takes; received --momentum" in err
    assert out == "" and not (tmp_path / "r").exists()


def test_settings_are_typed_and_checked_once():
    from xmlp.cli.settings import TrainSettings, defaults
    from xmlp.errors import UsageError

    s = TrainSettings.from_options({"layer": [8, 4], "metrics": ["f1", "f1", "bce"], "optimizer": "adam",
                                    "beta1": 0.8, "momentum": None, "epochs": 3})
    assert s.layer == (8, 4) and s.metrics == ("f1", "bce") and s.optimizer_options == {"beta1": 0.8}
    assert s.make_optimizer().config()["beta1"] == 0.8
    assert s.record()["layer"] == [8, 4] and "quiet" not in s.record()
    assert defaults()["epochs"] == 150 and defaults()["layer"] == (24, 24) and defaults()["preprocess"] == "yeo-johnson"
    # The subject's learning rate for plain SGD; the others keep their own defaults.
    assert TrainSettings().make_optimizer().learning_rate == 0.0314
    assert TrainSettings(optimizer="adam").make_optimizer().learning_rate == 0.001
    for values, message in (({"data": "a", "valid": "b"}, "expected either --data or --train/--valid; received both"),
                            ({"optimizer": "sgd", "rho": 0.9}, "expected options that sgd takes; received --rho"),
                            ({"early_stopping": True, "monitor": "val_f1"}, "--monitor: expected early stopping to monitor one of val_loss, val_accuracy"),
                            ({"calibrate": True}, "expected --calibrate with --no-refit and --ensemble 1; received --calibrate with --refit"),
                            ({"calibrate": True, "refit": False, "ensemble": 3}, "received --calibrate with --ensemble 3")):
        with pytest.raises(UsageError, match=message):
            TrainSettings.from_options(values)
