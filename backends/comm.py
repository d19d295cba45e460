"""Communicators: the small object beside a Backend that connects the processes of one job.

A single process holds :class:`Communicator` itself (rank 0 of 1: collectives return at once),
so the training loop has one code path. Under ``mpiexec -n W`` (or ``--distributed``),
:func:`world` returns an :class:`MPICommunicator`; this module is the only place where mpi4py is
imported, and only then. Like a backend's transfers, every collective is counted in ``stats``.

How a device buffer is summed across processes (``bind`` picks once per backend; ``transport``
names it, and ``xmlp train`` prints it):

- NumPy, PyTorch on the CPU, array-api-strict: MPI reads and writes the array's own memory (the
  buffer protocol, or DLPack for torch tensors): no copy;
- CuPy: NCCL when CuPy has it (UNTESTED: no GPU was available where this was written); else the
  buffer goes to the host and back (counted in ``stats.staged`` and in the backend's transfers).
  CUDA-aware MPI is not tried: mpi4py offers no portable way to ask whether the MPI has it.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

#: Environment variables a launcher sets: the job's size and this process's rank (MPICH/Hydra,
#: Intel MPI and Slurm's PMI2 set PMI_*; Open MPI sets OMPI_*; MVAPICH2 MV2_*). PMIX_RANK alone
#: (a PMIx launcher) says "under a launcher" without the size, which MPI then tells.
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "PMIX_RANK")
INSTALL_HINT = "pip install 'xmlp[mpi]'"
ABORT_GRACE = 0.5  # seconds between printing an error and MPI_Abort (see MPICommunicator.abort)


class CommError(RuntimeError):
    """MPI was asked for (a launcher, or --distributed) and cannot be had here."""


@dataclass
class CommStats:
    """Counts of collective calls (tests bound them: one gradient all-reduce per step, one
    epoch-vector all-reduce per epoch)."""

    allreduce: int = 0  #: device-buffer sums (``allreduce_``)
    elements: int = 0  #: elements summed by those calls
    staged: int = 0  #: of those, how many went through host memory (a copy out and back)
    objects: int = 0  #: host-object collectives: bcast, allgather, barrier


class Communicator:
    """One process alone: rank 0 of a world of 1. Every collective returns at once."""

    rank = 0
    size = 1
    local_rank = 0
    transport = "single process"

    def __init__(self) -> None:
        self.stats = CommStats()

    def bind(self, backend: Any) -> "Communicator":
        """This communicator, set up to sum ``backend``'s arrays (collective under MPI)."""
        return self

    def allreduce_(self, buf: Any) -> Any:
        """Sum the 1-D device array ``buf`` over all processes, in place; returns ``buf``."""
        self.stats.allreduce += 1
        return buf

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """``root``'s (picklable, host) ``obj`` on every process."""
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        """Every process's ``obj``, in rank order, on every process."""
        return [obj]

    def barrier(self) -> None:
        """Wait until every process gets here."""

    def abort(self, message: str | None, code: int) -> NoReturn:
        """End the whole job now with exit status ``code``, printing ``message`` (if any) on
        this process's stderr. Never returns; safe to call while others wait in a collective."""
        if message:
            print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(code)


class MPICommunicator(Communicator):
    """The processes of an MPI job (``MPI.COMM_WORLD``, or ``mpi_comm``)."""

    def __init__(self, mpi_comm: Any = None) -> None:
        super().__init__()
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = mpi_comm if mpi_comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)  # the processes on this machine
        self.local_rank = node.Get_rank()
        node.Free()
        self.transport = "MPI"
        self._backend: Any = None  # set by bind
        self._sum: Callable[[Any], None] = self._sum_in_place

    def bind(self, backend: Any) -> "MPICommunicator":
        bound = MPICommunicator.__new__(MPICommunicator)
        bound.__dict__.update(self.__dict__)  # same MPI communicator, same counters
        if backend.name == "cupy":
            bound._sum, bound.transport = _cuda_sum(self, backend)
        else:
            bound._sum, bound.transport = bound._sum_in_place, "MPI on the arrays' own memory"
        bound._backend = backend
        return bound

    def allreduce_(self, buf: Any) -> Any:
        self.stats.allreduce += 1
        self.stats.elements += int(buf.shape[0])
        self._sum(buf)
        return buf

    def _sum_in_place(self, buf: Any) -> None:
        try:
            self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self.MPI.SUM)
        except (TypeError, BufferError):
            # An array MPI cannot address (neither the buffer protocol nor DLPack): raised
            # before any message is sent, on every process alike; stage through the host.
            self._sum = self._sum_staged
            self.transport = "MPI, staged through host memory"
            self._sum_staged(buf)

    def _sum_staged(self, buf: Any) -> None:
        be = self._backend
        host = be.to_numpy(buf)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
        buf[...] = be.asarray(host, buf.dtype)
        self.stats.staged += 1

    def bcast(self, obj: Any, root: int = 0) -> Any:
        self.stats.objects += 1
        return self.comm.bcast(obj, root=root)

    def allgather(self, obj: Any) -> list[Any]:
        self.stats.objects += 1
        return list(self.comm.allgather(obj))

    def barrier(self) -> None:
        self.stats.objects += 1
        self.comm.Barrier()

    def abort(self, message: str | None, code: int) -> NoReturn:
        if message:
            print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        # The launcher forwards this process's output through a pipe; ending the job at once can
        # lose what it has not read yet (seen with MPICH's Hydra): give it a moment.
        time.sleep(ABORT_GRACE)
        self.comm.Abort(code)
        os._exit(code)  # MPICH's MPI_Abort may return before the launcher ends this process


def _cuda_sum(comm: MPICommunicator, backend: Any) -> tuple[Callable[[Any], None], str]:
    """(sum function, transport) for CuPy arrays: NCCL, else host staging.

    UNTESTED: no GPU was available to the session that wrote it; `benchmarks/gpu_check.sh`
    is the place to exercise it first."""
    try:
        from cupy.cuda import nccl

        if not nccl.available:
            raise ImportError("CuPy was built without NCCL")
    except ImportError:
        comm._backend = backend
        return comm._sum_staged, "MPI, staged through host memory (CuPy without NCCL)"
    import cupy

    uid = comm.bcast(nccl.get_unique_id() if comm.rank == 0 else None)
    with backend.activate():
        nc = nccl.NcclCommunicator(comm.size, uid, comm.rank)
    kinds = {"float32": nccl.NCCL_FLOAT32, "float64": nccl.NCCL_FLOAT64}

    def nccl_sum(buf: Any) -> None:
        stream = cupy.cuda.get_current_stream()
        nc.allReduce(buf.data.ptr, buf.data.ptr, buf.size, kinds[buf.dtype.name], nccl.NCCL_SUM, stream.ptr)

    return nccl_sum, "NCCL (untested)"


def launcher_size() -> int | None:
    """The job size a launcher announced in the environment (None: no launcher; 0: a launcher
    that does not tell, e.g. PMIx)."""
    for name in SIZE_VARS:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0 if "PMIX_RANK" in os.environ else None


def launcher_rank() -> int:
    """This process's rank as the launcher announced it (0 when there is none)."""
    for name in RANK_VARS:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def world(force: bool = False) -> Communicator:
    """The job's communicator: MPI under a launcher that started more than one process (or when
    ``force``d, e.g. by ``--distributed``); a plain :class:`Communicator` otherwise, without
    importing mpi4py."""
    size = launcher_size()
    if not force and (size is None or size == 1):
        return Communicator()
    try:
        import mpi4py
    except ImportError:
        raise CommError(f"expected mpi4py to run as one of {size or 'several'} MPI processes; received an "
                        f"environment without it (hint: {INSTALL_HINT})") from None
    mpi4py.rc.threads = False  # xmlp calls MPI from one thread
    return MPICommunicator()
