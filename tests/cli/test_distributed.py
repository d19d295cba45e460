"""``xmlp train`` over MPI, end to end: ``mpiexec -n 2`` against one process (exact mode),
sharded mode, failures that end the whole job, parallel sweeps, the README's command.

Each test starts real MPI processes (MPICH's ``mpiexec`` from the ``mpich`` wheel, which runs as
root without extra flags). Without ``pip install '.[mpi]'`` they skip, naming what is missing;
``XMLP_REQUIRE_MPI=1`` (set by CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import write_subject_csv
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.mpi
# One BLAS thread per process (2 processes on 2 cores); Open MPI's mpiexec would also need the
# root flags (MPICH's does not).
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
BOUND = 30  # seconds: a failing process must end the job well within this (the runs take ~1-3 s)
# rtol 1e-12 for 2 processes against 1 (float64): the same per-row gradient terms, summed in
# another order (each process its slice, then the all-reduce): a few ulps per step, carried
# through 5 epochs x 57 steps without much growth (measured: 1e-16 on the metrics, <= 3e-13 on
# any single weight); a real fault (a slice lost or counted twice, a gradient divided by the
# local batch) is off by 1e-3 or more. See also tests/training/test_parallel.py.
RTOL = 1e-12


def mpiexec_run(mpiexec, *argv, cwd, n=2, program=None, timeout=120):
    """(completed process, seconds) of ``mpiexec -n N python -m xmlp ARGV`` (or ``program``)."""
    command = [mpiexec, "-n", str(n), *(program or [sys.executable, "-m", "xmlp"]), *map(str, argv)]
    t0 = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)
    return out, time.perf_counter() - t0


def one_process(*argv, cwd):
    out = subprocess.run([sys.executable, "-m", "xmlp", *map(str, argv)], capture_output=True, text=True, cwd=cwd,
                         env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def epoch_lines(text):
    return [line for line in text.splitlines() if line.startswith("epoch ")]


def assert_runs_equal(a: Path, b: Path, rtol: float):
    ha, hb = json.loads((a / "history.json").read_text()), json.loads((b / "history.json").read_text())
    assert list(ha["history"]) == list(hb["history"])
    for key in ha["history"]:
        np.testing.assert_allclose(ha["history"][key], hb["history"][key], rtol=rtol, atol=0, err_msg=key)
    for key in ha["final"]:
        np.testing.assert_allclose(ha["final"][key], hb["final"][key], rtol=rtol, atol=0, err_msg=key)
    ta, tb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert sorted(ta) == sorted(tb)
    for key in ta:
        np.testing.assert_allclose(ta[key], tb[key], rtol=rtol, atol=0, err_msg=key)
    return ha, hb


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_processes_reproduce_one(mpiexec, tmp_path, optimizer):
    args = ["train", "--epochs", 5, "--dtype", "float64", "--optimizer", optimizer, "--no-plots"]
    one_process(*args, "--out", "one", cwd=tmp_path)
    out, _ = mpiexec_run(mpiexec, *args, "--out", "two", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    two, _ = assert_runs_equal(tmp_path / "two", tmp_path / "one", RTOL)
    # One voice: one set of epoch lines, one saving line, and the transport named.
    assert len(epoch_lines(out.stdout)) == 5 and out.stdout.count("> saving model") == 1, out.stdout
    assert "> data parallel over 2 processes (exact mode); gradients summed by MPI on the arrays' own memory" in out.stdout
    processes = two["config"]["processes"]
    assert processes["count"] == 2 and processes["mode"] == "exact"
    # One gradient all-reduce per step (57 batches of 8 of 455 rows), one epoch vector per epoch.
    assert processes["allreduce"] == 5 * (57 + 1) and processes["staged"] == 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["history.csv", "history.json", "model.safetensors"]


def test_sharded_mode_reaches_the_single_process_bar(mpiexec, tmp_path, wdbc):
    write_subject_csv(tmp_path / "data.csv", wdbc)
    one_process("split", "data.csv", cwd=tmp_path)
    args = ["train", "--train", "data_train.csv", "--valid", "data_valid.csv", "--epochs", 30, "--no-plots", "--quiet",
            "--preprocess", "standardize", "--no-refit"]  # (Yeo-Johnson's λ are not merged across shards: refused)
    one_process(*args, "--out", "one", cwd=tmp_path)
    out, _ = mpiexec_run(mpiexec, *args, "--distributed", "sharded", "--out", "two", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    one, two = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("one", "two"))
    assert one["final"]["val_accuracy"] >= 0.95 and two["final"]["val_accuracy"] >= 0.95
    assert two["config"]["processes"]["mode"] == "sharded"
    # The model's standardisation is that of all the training rows (merged across the shards).
    mean = load_file(tmp_path / "two/model.safetensors")["preprocess.mean"]
    np.testing.assert_allclose(mean, load_file(tmp_path / "one/model.safetensors")["preprocess.mean"], rtol=1e-12)
    # Each process hashed its own shard: the saved fingerprint is of all the training rows.
    assert (load_file(tmp_path / "two/model.safetensors")["fingerprint"]
            == load_file(tmp_path / "one/model.safetensors")["fingerprint"]).all()


def _bad_cell_in_second_half(tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "bad.csv", wdbc)
    lines = path.read_text().splitlines()
    cells = lines[500].split(",")
    cells[5] = "oops"
    lines[500] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bad_cell_in_one_shard_ends_the_job_with_its_message_once(mpiexec, tmp_path, wdbc):
    _bad_cell_in_second_half(tmp_path, wdbc)
    out, took = mpiexec_run(mpiexec, "train", "--train", "bad.csv", "--distributed", "sharded", "--out", "run",
                            "--preprocess", "standardize", cwd=tmp_path)
    assert out.returncode == 65 and took < BOUND
    assert out.stderr.count("bad.csv:501:6: expected a number; received 'oops'") == 1, out.stderr
    assert "(process 1 of 2)" in out.stderr  # the shard that holds line 501
    assert not (tmp_path / "run").exists()


def test_a_usage_error_is_printed_once(mpiexec, tmp_path):
    out, _ = mpiexec_run(mpiexec, "train", "--epochs", "0", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("xmlp: error:") == 1, out.stderr


def test_a_process_failing_in_a_step_ends_the_job(mpiexec, tmp_path):
    """Process 1 raises in its 10th step while process 0 waits in that step's all-reduce."""
    program = [sys.executable, str(ROOT / "tests/cli/mpi_failing_step.py"), "raise", "1", "10"]
    out, took = mpiexec_run(mpiexec, "--epochs", 1000, "--out", "run", cwd=tmp_path, program=program)
    assert out.returncode == 70 and took < BOUND, out.stderr
    assert out.stderr.count("simulated: out of memory in a training step") == 1, out.stderr
    assert "xmlp: error: internal error: MemoryError" in out.stderr and "(process 1 of 2)" in out.stderr
    assert not (tmp_path / "run").exists()


def test_rank_0_failing_to_write_ends_the_waiting_processes(mpiexec, tmp_path):
    (tmp_path / "run/model.safetensors").mkdir(parents=True)  # a folder where the model file goes
    out, took = mpiexec_run(mpiexec, "train", "--epochs", 2, "--out", "run", "--quiet", "--force", cwd=tmp_path)
    assert out.returncode == 73 and took < BOUND
    assert out.stderr.count("run/model.safetensors: expected a regular file, a FIFO or a character device to write; received a folder") == 1
    assert "(process 0 of 2)" in out.stderr


def test_ctrl_c_ends_every_process(mpiexec, tmp_path):
    """Ctrl-C to mpiexec reaches every process: the job ends with 130, said once."""
    command = [mpiexec, "-n", "2", sys.executable, "-m", "xmlp", "train", "--epochs", "100000", "--out", "run"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=ENV)
    try:
        for line in proc.stdout:  # training is under way once an epoch line arrives
            if line.startswith("epoch "):
                break
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=BOUND)
    finally:
        proc.kill()
    assert proc.returncode == 130 and time.perf_counter() - t0 < BOUND
    assert err.count("xmlp: interrupted") == 1, err
    assert not (tmp_path / "run").exists()


def test_ctrl_c_of_one_process_ends_the_job(mpiexec, tmp_path):
    program = [sys.executable, str(ROOT / "tests/cli/mpi_failing_step.py"), "interrupt", "0", "5"]
    out, took = mpiexec_run(mpiexec, "--epochs", 1000, "--out", "run", cwd=tmp_path, program=program)
    assert out.returncode == 130 and took < BOUND and out.stderr.count("xmlp: interrupted") == 1, out.stderr


SWEEP = """
epochs = 3
plots = false
[runs.sgd]
[runs.fast]
learning_rate = 0.05
[runs.adam]
optimizer = "adam"
[runs.wide]
layer = [32, 16]
"""


def test_a_sweep_of_four_runs_on_two_processes_equals_the_sequential_sweep(mpiexec, tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    sequential = one_process("train", "--config", "sweep.toml", "--out", "seq", cwd=tmp_path)
    out, _ = mpiexec_run(mpiexec, "train", "--config", "sweep.toml", "--out", "par", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("sgd", "fast", "adam", "wide"):
        assert_runs_equal(tmp_path / "par" / name, tmp_path / "seq" / name, rtol=0)  # the same computation
        assert f"== run '{name}'" in out.stdout
    # Rank 0 printed every run's epochs (the others' after its own), then drew the comparison.
    assert len(epoch_lines(out.stdout)) == len(epoch_lines(sequential.stdout)) == 12
    assert "(trained by process 1)" in out.stdout and "> compared 4 runs in 'par/comparison.png' (2 processes)" in out.stdout
    assert (tmp_path / "par/comparison.png").stat().st_size > 0


def test_the_readme_command(mpiexec, tmp_path):
    """`pip install '.[mpi]'` then `mpiexec -n 2 xmlp train`: one set of epoch lines."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install '.[mpi]'" in readme and "\nmpiexec -n 2 xmlp train\n" in readme
    xmlp_script = Path(sys.executable).parent / "xmlp"
    if not xmlp_script.exists():
        pytest.skip(f"no xmlp console script beside {sys.executable}")
    out, _ = mpiexec_run(mpiexec, cwd=tmp_path, program=[str(xmlp_script), "train"])
    assert out.returncode == 0, out.stderr
    assert len(epoch_lines(out.stdout)) == 150 and out.stdout.count("trained on numpy") == 1, out.stdout
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "model.safetensors").is_file()
    assert re.search(r"epoch 150/150 - loss: [0-9.]+ - val_loss", out.stdout)


def test_require_mpi_turns_the_skip_into_a_failure():
    """Without MPI, an MPI test skips; with XMLP_REQUIRE_MPI=1 it fails (CI sets it)."""
    from conftest import mpi_launcher

    if mpi_launcher()[0] is not None:
        pytest.skip("MPI is installed here; this checks the path without it")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            str(ROOT / "tests/cli/test_distributed.py::test_a_usage_error_is_printed_once")]
    env = {**os.environ, "XMLP_REQUIRE_MPI": "1"}
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 1 and "XMLP_REQUIRE_MPI=1 but MPI is unavailable" in out.stdout, out.stdout
    env.pop("XMLP_REQUIRE_MPI")
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0 and "1 skipped" in out.stdout, out.stdout


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weighted_rows_over_two_processes_reproduce_one(mpiexec, tmp_path, task):
    """--sample-weight (and --class-weight) in exact mode: the weighted mean over each global batch
    (its Σ w summed with the gradients), as one process computes it, to RTOL (see above)."""
    rng = np.random.default_rng(0)
    y = np.arange(300) % 2
    x = rng.normal(size=(300, 4)) + y[:, None]
    w = rng.uniform(0.0, 3.0, size=300)
    target = y if task == "classification" else x @ [1.0, -2.0, 0.5, 3.0]
    rows = [["id", "w", "a", "b", "c", "d", "label"]]
    rows += [[f"r{i}", f"{w[i]:.4f}", *(f"{v:.6f}" for v in x[i]), f"{target[i]:.6f}" if task == "regression"
              else str(target[i])] for i in range(300)]
    (tmp_path / "w.csv").write_text("\n".join(",".join(map(str, r)) for r in rows) + "\n")
    args = ["train", "--data", "w.csv", "--sample-weight", "w", "--epochs", 4, "--dtype", "float64", "--no-plots",
            "--no-refit", "--task", task, *(["--class-weight", "balanced"] if task == "classification" else [])]
    one_process(*args, "--out", "one", cwd=tmp_path)
    out, _ = mpiexec_run(mpiexec, *args, "--out", "two", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    two, _ = assert_runs_equal(tmp_path / "two", tmp_path / "one", RTOL)
    assert two["config"]["processes"]["mode"] == "exact"


def test_a_sharded_regression_scales_its_targets_over_every_shard(mpiexec, tmp_path):
    """--task regression --distributed sharded: each process reads its shard of the split, the
    target scaling is that of all the training rows (merged moments) and the summary scores the
    validation rows of every shard together."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4))
    y = x @ [1.0, -2.0, 0.5, 3.0] + 100.0 + 0.1 * rng.normal(size=400)
    rows = ["a,b,c,d,target"] + [",".join(f"{v:.6f}" for v in (*x[i], y[i])) for i in range(400)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    args = ["train", "--data", "r.csv", "--task", "regression", "--epochs", 30, "--dtype", "float64", "--no-plots",
            "--no-refit"]
    one_process(*args, "--out", "one", cwd=tmp_path)
    out, _ = mpiexec_run(mpiexec, *args, "--distributed", "sharded", "--out", "two", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    one, two = (load_file(tmp_path / d / "model.safetensors") for d in ("one", "two"))
    for key in ("target.mean", "target.scale", "preprocess.mean"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-12, err_msg=key)  # merged moments: rounding
    history = json.loads((tmp_path / "two/history.json").read_text())
    assert history["config"]["processes"]["mode"] == "sharded" and history["final"]["val_r2"] > 0.9
    assert "validation r2: " in out.stdout.splitlines()[-1]


def test_a_sharded_multilabel_run(mpiexec, tmp_path):
    """--task multilabel --distributed sharded: the label columns agreed across the shards, the
    summary's Hamming loss and F1 from every shard's validation rows."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5))
    y = np.column_stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0]).astype(int)
    rows = ["f0,f1,f2,f3,f4,a,b"] + [",".join([*(f"{v:.6f}" for v in x[i]), *map(str, y[i])]) for i in range(400)]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    args = ["train", "--data", "m.csv", "--task", "multilabel", "--target", "a", "b", "--epochs", 30, "--no-plots",
            "--no-refit", "--preprocess", "standardize", "--distributed", "sharded", "--out", "two"]
    out, _ = mpiexec_run(mpiexec, *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    history = json.loads((tmp_path / "two/history.json").read_text())
    assert history["config"]["processes"]["mode"] == "sharded" and history["final"]["val_f1_micro"] > 0.85
    assert "validation hamming loss: " in out.stdout.splitlines()[-1]


def test_sharded_weights_and_class_weights_are_checked_over_all_shards(mpiexec, tmp_path):
    """A shard whose rows all weigh 0, and a --class-weight label found in one shard only: valid for
    the whole data, so the sharded run trains (each was refused by a check of one shard); weights
    that are 0 in every shard: one line, exit 65."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    label = np.where(x[:, 0] > 0, "yes", "no").astype("U4")
    label[:40] = "rare"  # in the first shard's rows only
    w = np.where(np.arange(300) < 120, 0.0, rng.uniform(0.5, 2.0, 300))  # the first shard (rows 0-119): all 0
    rows = ["a,b,c,w,label"] + [",".join([*(f"{v:.6f}" for v in x[i]), f"{w[i]:.4f}", label[i]]) for i in range(300)]
    (tmp_path / "t.csv").write_text("\n".join(rows[:241]) + "\n")  # 240 training rows: 120 per shard
    (tmp_path / "v.csv").write_text("\n".join(rows[:1] + rows[241:]) + "\n")
    args = ["train", "--train", "t.csv", "--valid", "v.csv", "--sample-weight", "w", "--class-weight",
            "rare=3", "--epochs", 3, "--no-plots", "--preprocess", "standardize", "--distributed", "sharded"]
    out, _ = mpiexec_run(mpiexec, *args, "--out", "two", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (tmp_path / "z.csv").write_text("\n".join(r if i == 0 else ",".join(r.split(",")[:3] + ["0"] + r.split(",")[4:])
                                              for i, r in enumerate(rows)) + "\n")
    out, _ = mpiexec_run(mpiexec, "train", "--data", "z.csv", "--sample-weight", "w", "--distributed", "sharded",
                         "--preprocess", "standardize", "--out", "zero", cwd=tmp_path)
    assert out.returncode == 65 and out.stderr.count("expected row weights (--sample-weight) that are not all 0") == 1
    assert not (tmp_path / "zero").exists()


def test_a_sharded_multilabel_run_of_one_label(mpiexec, tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 3))
    rows = ["a,b,c,t"] + [",".join([*(f"{v:.6f}" for v in x[i]), str(int(x[i, 0] > 0))]) for i in range(200)]
    (tmp_path / "one.csv").write_text("\n".join(rows) + "\n")
    out, _ = mpiexec_run(mpiexec, "train", "--data", "one.csv", "--task", "multilabel", "--target", "t", "--epochs", 3,
                         "--no-plots", "--preprocess", "standardize", "--distributed", "sharded", "--out", "r",
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
