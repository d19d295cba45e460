"""Communicators without MPI: the single process's trivial one, and how a launcher is detected.
(The MPI communicator itself runs in test_distributed.py, under mpiexec.)"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from xmlp.backends import comm as comm_mod

Communicator, CommError, launcher_rank, launcher_size, world = (
    comm_mod.Communicator, comm_mod.CommError, comm_mod.launcher_rank, comm_mod.launcher_size, comm_mod.world)

LAUNCHER_VARS = comm_mod.SIZE_VARS + comm_mod.RANK_VARS


@pytest.fixture
def no_launcher(monkeypatch):
    for name in LAUNCHER_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_one_process_collectives_return_at_once_and_are_counted():
    c = Communicator()
    buf = np.arange(3.0)
    assert c.allreduce_(buf) is buf and buf.tolist() == [0.0, 1.0, 2.0]
    assert c.bcast({"a": 1}) == {"a": 1} and c.allgather(5) == [5]
    c.barrier()
    assert (c.rank, c.size, c.local_rank, c.stats.allreduce) == (0, 1, 0, 1)
    assert c.bind(object()) is c and c.transport == "single process"


def test_no_launcher_means_one_process_without_mpi4py(no_launcher):
    assert launcher_size() is None and launcher_rank() == 0
    assert type(world()) is Communicator


@pytest.mark.parametrize("env, size, rank", [
    ({"PMI_SIZE": "4", "PMI_RANK": "3"}, 4, 3),  # MPICH's Hydra, Intel MPI, Slurm PMI2
    ({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"}, 2, 1),  # Open MPI
    ({"PMIX_RANK": "0"}, 0, 0),  # PMIx: a launcher that does not tell the size
    ({"PMI_SIZE": "1", "PMI_RANK": "0"}, 1, 0),
])
def test_launchers_are_detected(no_launcher, env, size, rank):
    for k, v in env.items():
        no_launcher.setenv(k, v)
    assert (launcher_size(), launcher_rank()) == (size, rank)


def test_mpiexec_n_1_stays_one_plain_process(no_launcher):
    no_launcher.setenv("PMI_SIZE", "1")
    assert type(world()) is Communicator


def test_a_launcher_without_mpi4py_is_a_clear_error(no_launcher):
    no_launcher.setenv("PMI_SIZE", "2")
    no_launcher.setitem(sys.modules, "mpi4py", None)  # as if not installed
    with pytest.raises(CommError, match=r"expected mpi4py to run as one of 2 MPI processes; .*pip install 'xmlp\[mpi\]'"):
        world()
    with pytest.raises(CommError, match="one of several"):
        no_launcher.delenv("PMI_SIZE")
        world(force=True)


def test_abort_prints_and_ends_the_process(tmp_path):
    import subprocess

    code = "from backends.comm import Communicator; Communicator().abort('xmlp: error: boom', 65); print('never')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=comm_mod.__file__.rsplit("/", 2)[0])
    assert out.returncode == 65 and out.stderr == "xmlp: error: boom\n" and out.stdout == ""
