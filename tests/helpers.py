"""Shared test helpers: finite-difference gradients, one batch's analytic gradients, data files
in the subject's layout, and folder snapshots. Test files import from here, never from each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from xmlp.backends import comm as _comm

Communicator = _comm.Communicator

# Central differences have truncation error O(h^2 * f''') ~ 1e-12 and rounding error
# ~ eps * |f| / h ~ 1e-10 for h = 1e-6 and |f| ~ 1: analytic and numeric gradients of a correct
# backward agree to ~1e-8 relative; a wrong one (a missing term, a transposed matrix, a 1/N
# too many) is off by 1e-2 or more. rtol 1e-6 / atol 1e-8 sits well between the two.
H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """d f / d x by central differences; f takes a float64 host array of x's shape."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + H
        up = f(x)
        x[i] = old - H
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def assert_grad_close(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL, err_msg=what)


def batch_gradients(model: Any, x: np.ndarray, y_onehot: np.ndarray) -> tuple[float, list[dict[str, np.ndarray]]]:
    """The mean loss of one batch and every layer's gradients, via the network's own backward
    (``model``: a Network, or a Sequential holding one)."""
    net = getattr(model, "network", model)
    be = net.backend
    total, _ = net.train_step(be.asarray(x, net.dtype), be.asarray(y_onehot, net.dtype))
    loss = float(be.to_numpy(total)) / x.shape[0]
    return loss, [{k: be.to_numpy(v) for k, v in l.grads.items()} for l in net.layers]


def write_subject_csv(path: Path, wdbc: Any, rows: Any = slice(None), newline: str = "\n", bom: bool = False) -> Path:
    """The embedded data in the subject's layout (id, label, 30 features; no header)."""
    x, y, _ = wdbc
    idx = np.arange(len(y))[rows]
    lines = [",".join([str(900000 + i), y[i]] + [repr(float(v)) for v in x[i]]) for i in idx]
    text = ("\ufeff" if bom else "") + newline.join(lines) + newline
    path.write_bytes(text.encode("utf-8"))
    return path


def snapshot(folder: Any) -> dict[str, bytes]:
    """Every file under folder with its bytes: to prove a failed command wrote nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


class ThreadGroup:
    """W threads standing in for W processes (for tests without MPI): collectives meet at a
    barrier and sum in rank order, so every 'process' gets the same bits, as MPI gives them."""

    def __init__(self, size: int):
        import threading

        self.size = size
        self.barrier = threading.Barrier(size, timeout=60)
        self.slots: list[Any] = [None] * size

    def comms(self) -> list[Any]:
        return [ThreadComm(self, r) for r in range(self.size)]

    def run(self, work: Callable[[Any], Any]) -> list[Any]:
        """work(comm) on one thread per rank; the results in rank order (an error is re-raised)."""
        import threading

        results: list[Any] = [None] * self.size
        errors: list[BaseException] = []

        def one(comm: Any) -> None:
            try:
                results[comm.rank] = work(comm)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=one, args=(c,)) for c in self.comms()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


class ThreadComm(Communicator):
    """One thread's communicator in a ``ThreadGroup``."""

    def __init__(self, group: ThreadGroup, rank: int):
        super().__init__()
        self.group, self.rank, self.size = group, rank, group.size
        self.transport = "threads (test)"

    def _exchange(self, value: Any) -> list[Any]:
        g = self.group
        g.slots[self.rank] = value
        g.barrier.wait()
        values = list(g.slots)
        g.barrier.wait()  # nobody writes a slot before everyone has read them
        return values

    def allreduce_(self, buf: Any) -> Any:
        self.stats.allreduce += 1
        self.stats.elements += int(buf.shape[0])
        values = self._exchange(buf)
        total = values[0]
        for v in values[1:]:
            total = total + v
        self.group.barrier.wait()  # every sum is computed before any buffer is overwritten
        buf[...] = total
        return buf

    def allgather(self, obj: Any) -> list[Any]:
        self.stats.objects += 1
        return self._exchange(obj)

    def bcast(self, obj: Any, root: int = 0) -> Any:
        self.stats.objects += 1
        return self._exchange(obj)[root]

    def barrier(self) -> None:
        self.stats.objects += 1
        self.group.barrier.wait()
