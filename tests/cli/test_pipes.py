"""Unix manners: ``-`` as standard output and input, FIFOs and ``/dev/stdout`` written through, a
closed pipe ending quietly, messages on standard error when the data go to standard output."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder with data.csv (the embedded WDBC, subject layout) and run/ (a 2-epoch model)."""
    from xmlp.cli import main

    folder = tmp_path_factory.mktemp("pipes")
    assert main(["data", "wdbc", "--out", str(folder / "data.csv")]) == 0
    assert main(["train", "--data", str(folder / "data.csv"), "--epochs", "2", "--out", str(folder / "run"),
                 "--no-plots", "--quiet"]) == 0
    return folder


def xmlp(folder: Path, *argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "xmlp", *argv], cwd=folder, env=ENV, input=stdin,
                          capture_output=True, timeout=120)


def test_predict_out_dash_writes_the_csv_to_stdout_and_the_messages_to_stderr(trained):
    out = xmlp(trained, "predict", "run", "data.csv", "--out", "-")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0] == "id,prediction,p_B,p_M" and len(lines) == 570
    err = out.stderr.decode()
    assert "> wrote predictions to standard output" in err and "binary cross-entropy" in err
    assert not (trained / "-").exists()  # not a file named '-'


def test_predict_reads_dash_as_stdin(trained):
    data = (trained / "data.csv").read_bytes()
    piped = xmlp(trained, "predict", "run", "-", "--out", "-", stdin=data)
    named = xmlp(trained, "predict", "run", "data.csv", "--out", "-")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == named.stdout  # the same rows, the same digits
    bad = xmlp(trained, "predict", "run", "-", stdin=b"1,M,2\n")
    assert bad.returncode == 65
    assert bad.stderr.decode().startswith("xmlp: error: standard input:1: expected")


def test_out_dev_stdout_onto_a_pipe_is_written_through(trained):
    out = xmlp(trained, "predict", "run", "data.csv", "--out", "/dev/stdout")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().startswith("id,prediction,p_B,p_M\n") and out.stdout.count(b"\n") == 570
    assert b"wrote predictions" in out.stderr and b"loaded model" not in out.stdout


def test_an_existing_fifo_is_written_through_never_replaced(trained, tmp_path):
    import stat

    fifo = tmp_path / "p.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    out = xmlp(trained, "predict", "run", "data.csv", "--out", str(fifo))
    reader.join(timeout=60)
    assert out.returncode == 0, out.stderr
    assert got and got[0].startswith(b"id,prediction,p_B,p_M\n") and got[0].count(b"\n") == 570
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO


def test_a_closed_pipe_ends_with_141_and_no_traceback(trained):
    """`xmlp predict … --out - | head -1`: the reader is gone before xmlp writes; the SIGPIPE status."""
    big = trained / "big.csv"
    big.write_bytes((trained / "data.csv").read_bytes() * 20)
    proc = subprocess.Popen([sys.executable, "-m", "xmlp", "predict", "run", "big.csv", "--out", "-"], cwd=trained,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `head` exits
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "Exception ignored" not in err and "error" not in err


def test_data_and_export_and_plot_write_dash_to_stdout(trained):
    pytest.importorskip("onnx")
    data = xmlp(trained, "data", "wdbc", "--out", "-")
    assert data.returncode == 0 and data.stdout == (trained / "data.csv").read_bytes()
    onnx = xmlp(trained, "export", "run", "-")
    assert onnx.returncode == 0, onnx.stderr
    import onnx as onnx_lib

    assert onnx_lib.load_model_from_string(onnx.stdout).graph.input[0].name == "x"
    assert b"> wrote standard output (ONNX" in onnx.stderr
    png = xmlp(trained, "plot", "run", "--out", "-")
    assert png.returncode == 0 and png.stdout.startswith(b"\x89PNG\r\n") and b"> wrote standard output" in png.stderr


def test_split_refuses_dash(cli, tmp_path):
    from xmlp.cli.commands import wdbc_rows

    (tmp_path / "d.csv").write_text(wdbc_rows())
    code, out, err = cli("split", "d.csv", "--names", "-", "v.csv")
    assert code == 2 and "split writes two files" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]


def test_binary_data_is_refused_on_a_terminal(monkeypatch, tmp_path):
    from xmlp.errors import CantCreateError
    from xmlp.io.files import check_output_file

    monkeypatch.setattr(os, "isatty", lambda fd: True)
    with pytest.raises(CantCreateError, match="expected a file or a pipe for binary data; received a terminal"):
        check_output_file("-", binary=True)
    check_output_file("-")  # text is fine on a terminal


def test_predicted_probabilities_round_trip_their_dtype():
    from xmlp.cli.predict import probability_text

    p32 = np.array([[3e-9, 1 - 3e-9], [0.1, 0.9], [1.4e-45, 1.0]], dtype=np.float32)
    back = np.array([[float(t) for t in row] for row in probability_text(p32)], dtype=np.float32)
    np.testing.assert_array_equal(back, p32)  # bit for bit, the smallest subnormal included
    assert probability_text(p32)[1] == ["0.1", "0.9"]  # the shortest text, not 0.100000001
    p64 = np.array([[2.5e-300, 1.0], [1 / 3, 2 / 3]])
    back64 = np.array([[float(t) for t in row] for row in probability_text(p64)])
    np.testing.assert_array_equal(back64, p64)
