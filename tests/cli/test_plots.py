"""Learning curves and run comparison plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plot_compares_runs(cli, tmp_path):
    for name, opt in (("sgd", "sgd"), ("adam", "adam")):
        assert cli("train", "--epochs", "5", "--optimizer", opt, "--out", name, "--quiet", "--no-plots")[0] == 0
    code, out, err = cli("plot", "sgd", "adam", "--out", "cmp.png")
    assert code == 0, err
    assert "> wrote 'cmp.png' (2 runs)" in out
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from xmlp.cli.plots import comparison_figure
    from xmlp.cli.runs import run_labels

    docs = [json.loads((tmp_path / n / "history.json").read_text()) for n in ("sgd", "adam")]
    labels = run_labels(["sgd", "adam"], [d["config"] for d in docs])
    # Only what differs between the runs is named: optimizer and learning rate.
    assert labels == ["sgd (sgd, lr 0.0314)", "adam (adam, lr 0.001)"]
    fig = comparison_figure(list(zip(labels, [d["history"] for d in docs])))
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in fig.legends[0].get_texts()] == labels + ["training", "validation"]
    styles = [(l.get_color(), l.get_linestyle()) for l in loss_ax.get_lines()]
    assert styles == [("C0", "-"), ("C0", "--"), ("C1", "-"), ("C1", "--")]
    assert loss_ax.get_lines()[2].get_ydata().tolist() == docs[1]["history"]["loss"]
    assert acc_ax.get_lines()[3].get_ydata().tolist() == docs[1]["history"]["val_accuracy"]


def test_plot_bad_input(cli, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk/history.json").write_text("[1, 2]")
    code, _, err = cli("plot", "junk")
    assert code == 65 and "expected an xmlp history (JSON with history.loss)" in err
    code, _, err = cli("plot", "nowhere")
    assert code == 66 and "nowhere: expected a run's history.json" in err
    assert not (tmp_path / "comparison.png").exists()


def test_an_mplbackend_that_names_no_backend_draws_with_agg(tmp_path):
    """matplotlib itself refuses to import under MPLBACKEND=nonsense: one warning line, then Agg."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r/history.json").write_text(json.dumps({"history": {"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]},
                                                         "config": {}}))
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "MPLBACKEND": "nonsense"}
    out = subprocess.run([sys.executable, "-m", "xmlp", "plot", "r", "--out", "c.png"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ("xmlp: warning: MPLBACKEND='nonsense' is not a matplotlib backend (expected e.g. agg, "
                          "qtagg, tkagg); drawing with Agg\n")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
