"""``xmlp train`` over MPI processes: one data-parallel run, or the runs of a sweep K at a time.

Started as ``mpiexec -n W xmlp train …`` (or with ``--distributed``). The rules:

- One voice: only rank 0 prints (the others' stdout goes nowhere) and writes the run folder and
  the model; in a sweep, each process writes the folders of the runs it trained and rank 0
  prints their output and draws the comparison.
- Agreement before work: every process reads and checks what it needs, then ONE collective
  (``agree``) exchanges each one's outcome — its error, or what the others must know (shard
  sizes, classes and moments, the run folder). If any failed, every process raises the error of
  the lowest failing rank, rank 0 prints it once, and all exit with its code. A process that
  fails before it gets there (even while parsing options) joins that same collective from the
  error handler (``fail``), so the collectives always match.
- Failure during training: the failing process prints its message and calls MPI_Abort with the
  exit code, which ends every process of the job at once, wherever each waits (the MPI library
  adds a one-line note of its own). An error that every process raises at the same point from the
  same all-reduced values (a diverged loss) is printed by rank 0, and all exit with its code.
- No process exits while another still works: a barrier after rank 0 has written.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..backends import comm as _comm

if TYPE_CHECKING:  # mypy reads the repository's backends/; at run time it is xmlp._backends
    from backends.comm import CommError, Communicator, launcher_rank, launcher_size
    from backends.comm import world as make_world
else:
    CommError, Communicator, launcher_rank, launcher_size, make_world = (
        _comm.CommError, _comm.Communicator, _comm.launcher_rank, _comm.launcher_size, _comm.world)

from ..data.shards import local_classes, merge, moments, scaling, union_classes
from ..errors import (
    DataError,
    TrainingDiverged,
    UnavailableError,
    UsageError,
    XmlpError,
)
from ..io.files import default_run_dir
from ..io.history import run_labels
from ..training.parallel import Partition
from . import row_checks
from .run_data import training_data
from .runs import Job, prepare, run
from .settings import TrainSettings


class AgreedError(XmlpError):
    """An error every process raises together (after ``agree``): rank 0 prints it once."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class World:
    """The job's communicator, and whether its processes have agreed to start training (from
    then on a failure aborts the job instead of joining the agreement)."""

    comm: Communicator
    agreed: bool = False


def start(argv: Sequence[str]) -> World:
    """The world of this command: MPI for ``train`` under a launcher of several processes (or
    with ``--distributed``), else this process alone. Ranks other than 0 go quiet."""
    words = [w for w in argv if not w.startswith("-")]
    if not words or words[0] != "train":
        return World(Communicator())
    force = any(w == "--distributed" or w.startswith("--distributed=") for w in argv)
    try:
        comm = make_world(force)
    except CommError as exc:
        raise UnavailableError(str(exc)) from None
    if comm.rank != 0:
        sys.stdout = open(os.devnull, "w")  # one voice
    return World(comm)


def quiet_rank() -> bool:
    """Whether this process should not print an error of its own: a non-zero rank of a launcher
    (before any communicator exists, every process reports the same error)."""
    return launcher_size() not in (None, 1) and launcher_rank() != 0


def agree(world: World, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` here, then exchange every process's outcome: the list of their results (in
    rank order), or the first failure raised as an ``AgreedError`` on every process. (An error
    of ``work`` goes up to ``cli.main``, whose handler, ``fail``, brings it to this exchange.)"""
    return _settle(world, ("ok", work()))


def _settle(world: World, outcome: tuple[Any, ...]) -> list[Any]:
    outcomes = world.comm.allgather(outcome)
    world.agreed = True
    for rank, o in enumerate(outcomes):
        if o[0] == "error":
            where = f" (process {rank} of {len(outcomes)})" if world.comm.rank != rank else ""
            raise AgreedError(o[2] + where, o[1])
    return [o[1] for o in outcomes]


def fail(world: World, exc: BaseException, code: int, line: str) -> int:
    """The error handler of a process of several: ``line`` printed once, every process ends
    with ``code`` (returns it, or aborts the job)."""
    comm = world.comm
    if isinstance(exc, KeyboardInterrupt):
        if comm.rank != 0:  # Ctrl-C reaches every process: rank 0 says it and ends the job;
            try:  # only a process interrupted alone lives to say it after this pause
                time.sleep(2.0)
            except KeyboardInterrupt:
                pass
            comm.abort(f"{line} (process {comm.rank} of {comm.size})", code)
        comm.abort(line, code)
    if not isinstance(exc, AgreedError) and not world.agreed:
        try:  # the others wait in (or will reach) the agreement: join it with this error
            _settle(world, ("error", code, line.removeprefix("xmlp: error: ")))
        except AgreedError as agreed:
            exc, code, line = agreed, agreed.exit_code, f"xmlp: error: {agreed}"
    if isinstance(exc, AgreedError):
        if comm.rank == 0:
            print(line, file=sys.stderr, flush=True)
        return code
    comm.abort(f"{line} (process {comm.rank} of {comm.size})", code)


def for_process(s: TrainSettings, comm: Communicator) -> TrainSettings:
    """Each process on its own GPU: ``cuda`` (or ``torch … --device cuda``) becomes
    ``cuda:<rank on this machine>``."""
    device = s.device if s.device is not None or s.backend else os.environ.get("XMLP_DEVICE")
    if comm.size > 1 and device in ("cuda", "gpu"):
        return replace(s, device=f"cuda:{comm.local_rank}")
    return s


def train(runs: list[tuple[str | None, TrainSettings]], world: World) -> int:
    """``xmlp train`` under MPI (several processes): one data-parallel run, or a parallel sweep of
    a config's runs (a single process trains through ``runs.train_all``)."""
    if len(runs) > 1:
        return sweep(runs, world)
    return data_parallel(runs[0][1], world)


def data_parallel(s: TrainSettings, world: World) -> int:
    comm = world.comm
    mode = s.distributed or "exact"
    s = for_process(s, comm)
    job: Job | None = None

    def local() -> dict[str, Any]:
        nonlocal job
        if mode == "sharded" and s.preprocess == "yeo-johnson":
            raise UsageError("--preprocess: expected standardize or none with --distributed sharded; received "
                             "yeo-johnson (its λ are not merged across shards yet)")
        if mode == "sharded" and s.calibrate:
            raise UsageError("--calibrate: expected a run without --distributed sharded; received both "
                             "(the temperature would be fitted on one shard)")
        out = Path(s.out) if s.out else default_run_dir()
        if mode == "exact":
            job = prepare(s, out)
            return {"out": str(out)}
        data = training_data(s, (comm.rank, comm.size))
        # the local checks (backend, dtype, output folder); the model is rebuilt for the classes of all shards
        job = prepare(s, out, data=data, n_classes=2)
        regression, labels = s.regression, s.task == "multilabel"  # (a multi-label model's classes: its columns)
        return {"out": str(out), "rows": (len(data.y_train), len(data.y_valid)), "moments": moments(data.x_train),
                "classes": [] if regression else list(range(data.y_train.shape[1])) if labels
                else local_classes(data.y_train),
                "valid_classes": [] if regression else list(range(data.y_valid.shape[1])) if labels
                else local_classes(data.y_valid),
                "targets": moments(np.asarray(data.y_train, dtype=np.float64).reshape(len(data.y_train), -1))
                if regression else None, "weights": None if data.w_train is None else float(np.sum(data.w_train))}

    shared = agree(world, local)
    assert job is not None
    job.out_dir = Path(shared[0]["out"])  # rank 0's folder (only rank 0 writes)
    if mode == "sharded":
        job = _sharded_job(s, job, shared, comm)
    else:
        job.partition = Partition(comm.bind(job.backend))
    if not s.quiet:
        print(f"> data parallel over {comm.size} processes ({mode} mode); gradients summed by "
              f"{job.partition.comm.transport if job.partition else '?'}")
    try:
        run(job)
    except TrainingDiverged as exc:  # from the same all-reduced loss on every process
        raise AgreedError(str(exc), exc.exit_code) from None
    comm.barrier()  # no process exits while rank 0 writes
    return 0


def _sharded_job(s: TrainSettings, job: Job, shared: list[dict[str, Any]], comm: Communicator) -> Job:
    """The job of this shard, from what every shard told (the same lists on every process, so
    any error here is raised by all alike)."""
    classes = union_classes(v["classes"] for v in shared)
    targets = None
    if s.regression:  # every shard's targets: their moments merged (Chan), as the features'
        n, mean, m2 = merge(v["targets"] for v in shared)
        targets = (mean, np.sqrt(m2 / n))
    try:
        if shared[0]["weights"] is not None and not sum(v["weights"] for v in shared) > 0:
            raise DataError(f"{s.train or s.data}: expected row weights (--sample-weight) that are not all 0; received "
                            "only zeros in every shard")
        if s.task_name == "classification":
            row_checks.check_class_weight(s, classes)
        if s.task_name == "classification" and len(classes) < 2:
            raise DataError(f"{s.train or s.data or 'the data'}: expected at least two classes in the training "
                            f"rows of all shards; received only {classes}")
        unknown = sorted(set(union_classes(v["valid_classes"] for v in shared)) - set(classes))
        if unknown:
            raise DataError(f"{s.valid or 'validation part'}: expected labels among {', '.join(map(str, classes))}; "
                            f"received {', '.join(map(str, unknown))}")
        rebuilt = prepare(s, job.out_dir, data=job.data, n_classes=len(classes) or len(targets[0]))  # type: ignore[index]
    except XmlpError as exc:
        raise AgreedError(str(exc), exc.exit_code) from None
    rebuilt.partition = Partition(comm.bind(rebuilt.backend), shard_rows=[v["rows"] for v in shared],
                                  classes=classes or None, scaling=scaling(merge(v["moments"] for v in shared)),
                                  targets=targets)
    return rebuilt


def sweep(runs: list[tuple[str | None, TrainSettings]], world: World) -> int:
    """The runs of a config, K processes training whole runs at a time (run i on process i mod K,
    no gradient traffic); rank 0 prints each run's output and draws the comparison."""
    comm = world.comm
    prepared: list[tuple[str, Job]] = []

    def local() -> str:
        if any(s.distributed == "sharded" for _, s in runs):
            raise UsageError("--distributed sharded: expected one run; received a config with several [runs.NAME] "
                             "tables (under mpiexec they train in parallel, each whole)")
        base = Path(runs[0][1].out) if runs[0][1].out else default_run_dir()
        prepared.extend((str(name), prepare(for_process(s, comm), base / str(name))) for name, s in runs)
        return str(base)

    base = Path(agree(world, local)[0])
    for name, job in prepared:
        job.out_dir = base / name  # rank 0's choice of folder, for every process
    done: dict[int, tuple[dict[str, list[float]], str]] = {}
    for i in range(comm.rank, len(prepared), comm.size):
        name, job = prepared[i]
        if comm.rank == 0:
            print(f"== run '{name}'", flush=True)
            done[i] = (run(job).history, "")
        else:
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                history = run(job).history
            done[i] = (history, text.getvalue())
    everything: dict[int, tuple[dict[str, list[float]], str]] = {}
    for part in comm.allgather(done):
        everything.update(part)
    if comm.rank == 0:
        for i, (name, _) in enumerate(prepared):
            if i % comm.size:
                print(f"== run '{name}' (trained by process {i % comm.size})\n{everything[i][1]}", end="", flush=True)
        from .plots import plot_runs

        labels = run_labels([n for n, _ in prepared], [job.record() for _, job in prepared])
        out = plot_runs(list(zip(labels, [everything[i][0] for i in range(len(prepared))])), base / "comparison.png",
                        show=any(s.show for _, s in runs))
        print(f"> compared {len(runs)} runs in '{out}' ({comm.size} processes)")
    comm.barrier()
    return 0
