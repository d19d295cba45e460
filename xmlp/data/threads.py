"""Host preprocessing on up to ``MAX_THREADS`` cores: NumPy releases the GIL inside its loops, so
independent pieces of work on large arrays (each 8,192-row chunk of a model's input: its
Yeo-Johnson transform, standardisation, cast and check; the standardisation's moments) run in
threads, each under the caller's NumPy error state (``np.errstate`` is per thread in NumPy 2;
every task runs in a copy of the caller's context). Peak memory grows with the threads: one
chunk's float64 scratch each. Results come back in the pieces' order, and the first piece
(in that order) that fails raises, as the serial loop would: the same values and the same
errors, bit for bit. Small work (fewer than two pieces a thread: WDBC's 569 rows) stays serial.
``imap_ordered`` is the lazy form for a stream of pieces: the fast CSV reader converts the next
blocks of a file (polars and NumPy release the GIL) while it copies one into the final array.
The Yeo-Johnson λ search runs one column a thread where its sample has at least
``power.THREAD_ROWS`` rows (the scan's 16-λ blocks release the GIL long enough; small columns do not).

Threads: the CPUs this process may run on, at most ``MAX_THREADS``, and at most
``OMP_NUM_THREADS`` where that is set (the usual cap of a process's threads: one MPI rank per
core sets it to 1).
"""

from __future__ import annotations

import collections
import contextvars
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generator, Iterable, Sequence, TypeVar

A = TypeVar("A")
T = TypeVar("T")
MAX_THREADS = 8


def workers() -> int:
    """How many threads host preprocessing may use (>= 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # (not on Linux)
        cpus = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()  # OpenMP's list form: its first level
    if cap.isascii() and cap.isdecimal() and int(cap) > 0:
        cpus = min(cpus, int(cap))
    return max(1, min(cpus, MAX_THREADS))


def map_ordered(fn: Callable[[int], T], items: Sequence[int]) -> list[T]:
    """``[fn(i) for i in items]``, in threads where there is enough work for them."""
    n = workers()
    if n < 2 or len(items) < 2 * n:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(n, thread_name_prefix="xmlp-prep") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, i) for i in items]  # (a copy per task)
        try:
            return [f.result() for f in futures]
        finally:  # after an error: nothing queued runs on
            for f in futures:
                f.cancel()


def imap_ordered(fn: Callable[[A], T], items: Iterable[A], ahead: int) -> Generator[T, None, None]:
    """``map(fn, items)`` lazily, ``ahead`` items worked on in threads while the consumer takes
    the results (``ahead + 1`` held at most), in order: a pipeline. ``items`` is read in the
    consumer's thread, and an error reading it is raised after the results of the items before
    it, as ``map`` would; closing the iterator early cancels what has not started.
    ``ahead < 1``: plain ``map``."""
    if ahead < 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(ahead, thread_name_prefix="xmlp-read") as pool:
        pending: collections.deque[Future[T]] = collections.deque()
        source, failed = iter(items), None
        try:
            while failed is None:
                try:
                    item = next(source)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001  (raised in its place, after the items before it)
                    failed = exc
                    break
                pending.append(pool.submit(contextvars.copy_context().run, fn, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
            if failed is not None:
                raise failed
        finally:
            for f in pending:
                f.cancel()
