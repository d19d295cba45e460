"""Run by tests/cli/test_distributed.py under mpiexec: ``xmlp train`` in which one process fails
inside a training step while the others wait in that step's gradient all-reduce.

    mpiexec -n 2 python tests/cli/mpi_failing_step.py HOW RANK STEP [train options…]

HOW: ``raise`` (an exception, as running out of memory would raise) or ``interrupt`` (SIGINT
to that process alone).
"""

from __future__ import annotations

import os
import signal
import sys

from xmlp.cli import main
from xmlp.training import parallel

how, victim, at = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


class FailingSync(parallel.GradientSync):
    def __init__(self, network, comm, weighted=False):
        super().__init__(network, comm, weighted)
        self.calls, inner = 0, self.step

        def step(w_sum=None):
            self.calls += 1
            if comm.rank == victim and self.calls == at:
                if how == "raise":
                    raise MemoryError("simulated: out of memory in a training step")
                os.kill(os.getpid(), signal.SIGINT)
            inner(w_sum)

        self.step = step


parallel.GradientSync = FailingSync
sys.exit(main(["train", *sys.argv[4:]]))
