"""xmlp train on a streamed file: --stream, the switch by itself when the file would not fit
comfortably in memory (one line), bad cells deep in the file reported before anything is
written, --train/--valid, and --no-stream."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
from helpers import write_subject_csv

from xmlp.cli import run_data

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None

FAST = ["--epochs", "2", "--no-plots", "--layer", "8", "--out", "run"]


def test_stream_trains_and_saves_like_a_run(cli, tmp_path, wdbc):
    write_subject_csv(tmp_path / "d.csv", wdbc)
    code, out, err = cli("train", "--data", "d.csv", "--stream", "--chunk-rows", "100", "--shuffle-buffer", "250", *FAST)
    assert code == 0, err
    assert out.splitlines()[0] == ("> streaming d.csv in chunks of 100 rows, parsed once into a binary copy in the "
                                   "temporary folder (--stream)")
    assert re.search(r"x_train shape : \((4\d\d), 30\)", out) and "classes       : B " in out
    history = json.loads((tmp_path / "run/history.json").read_text())
    assert history["config"]["source"].startswith("d.csv, streamed, random split 80%/20% (seed 42)")
    assert history["config"]["refit"]["rows"] == 569  # the refit streamed every row
    assert history["final"]["val_accuracy"] > 0.85  # 2 epochs of a 30-8-2 network on WDBC


def test_stream_takes_a_validation_row_count(cli, tmp_path, wdbc):
    """--valid-size 100 (a row count) on a streamed CSV: a 100/569 random split, as a share."""
    write_subject_csv(tmp_path / "d.csv", wdbc)
    code, out, err = cli("train", "--data", "d.csv", "--stream", "--valid-size", "100", *FAST)
    assert code == 0, err
    history = json.loads((tmp_path / "run/history.json").read_text())
    assert history["config"]["source"].startswith("d.csv, streamed, random split 82%/18% (seed 42)")


def test_a_file_too_large_for_memory_is_streamed_by_itself(cli, tmp_path, wdbc, monkeypatch):
    write_subject_csv(tmp_path / "d.csv", wdbc)
    size = (tmp_path / "d.csv").stat().st_size
    monkeypatch.setattr(run_data, "_available_memory", lambda: 4 * size)  # 5x the file > half of it
    code, out, _ = cli("train", "--data", "d.csv", *FAST)
    assert code == 0
    line = out.splitlines()[0]
    assert line.startswith("> streaming d.csv in chunks of 65,536 rows, parsed once into a binary copy in the temporary "
                           "folder: reading it whole would take about ")
    assert line.endswith("GiB available (--no-stream reads it whole)")
    code, out, _ = cli("train", "--data", "d.csv", "--no-stream", "--force", *FAST)
    assert code == 0 and "streaming" not in out
    monkeypatch.setattr(run_data, "_available_memory", lambda: 100 * size)  # fits comfortably
    code, out, _ = cli("train", "--data", "d.csv", "--force", *FAST)
    assert code == 0 and "streaming" not in out


def test_a_bad_cell_in_chunk_900_is_reported_before_anything_is_written(cli, tmp_path, rng):
    x = np.round(rng.standard_normal((1900, 3)), 4)
    lines = [f"{i},{'MB'[i % 2]},{x[i, 0]},{x[i, 1]},{x[i, 2]}" for i in range(1900)]
    lines[1799] = lines[1799].rsplit(",", 1)[0] + ",0x1F"  # chunk 900 of 2-row chunks; line 1800, column 5
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    code, out, err = cli("train", "--data", "big.csv", "--stream", "--chunk-rows", "2", *FAST)
    assert code == 65
    assert err.strip() == ("xmlp: error: big.csv:1800:5: expected a number; received '0x1F' (a CSV number has ASCII "
                           "digits, a sign, a point and an exponent only)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]  # no run folder, no model


def test_train_streamed_with_a_valid_file(cli, tmp_path, wdbc):
    write_subject_csv(tmp_path / "t.csv", wdbc, rows=slice(0, 450))
    write_subject_csv(tmp_path / "v.csv", wdbc, rows=slice(450, None))
    code, out, err = cli("train", "--train", "t.csv", "--valid", "v.csv", "--stream", "--chunk-rows", "64", *FAST)
    assert code == 0, err
    assert "x_valid shape : (119, 30)" in out and "> refit on 569 rows" in out


def test_stream_needs_a_file(cli):
    code, _, err = cli("train", "--stream", *FAST)
    assert code == 2 and "expected --data or --train with --stream; received the embedded data" in err


def test_too_few_rows_of_a_class_in_a_streamed_file(cli, tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "d.csv", wdbc)
    text = path.read_text().replace(",M,", ",m,", 3)  # three mistyped labels
    path.write_text(text)
    code, _, err = cli("train", "--data", "d.csv", "--stream", *FAST)
    assert code == 65 and "expected at least 5 rows of each class; received " in err and "'m'" in err


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed (pip install 'xmlp[parquet]')")
def test_a_parquet_file_is_streamed_by_row_groups(cli, tmp_path, wdbc):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x, y, _ = wdbc
    table = pa.table({"diagnosis": y, **{f"f{k}": x[:, k] for k in range(30)}})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=100)
    code, out, err = cli("train", "--data", "d.parquet", "--stream", *FAST)
    assert code == 0, err
    assert "x_train shape : (" in out and "> refit on 569 rows" in out
