"""Outputs written through rather than replaced: ``-`` (standard output), an existing FIFO (a
shell's ``>(…)``), a character device (``/dev/null``, a terminal, ``/dev/stdout`` onto a pipe) —
as ``cat > path`` writes them; and how a refused write is named (a full disk, ``ulimit -f``).
``files`` decides between these and the atomic replace of a regular file."""

from __future__ import annotations

import errno
import os
import stat
import sys

from ..errors import CantCreateError

STDOUT = "-"  # as an output path: standard output


def passes_through(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is written through rather than replaced: ``-``, or an existing FIFO or
    character device. ``os.stat`` before any ``realpath``: ``/dev/stdout`` onto a pipe resolves
    to ``/proc/…/fd/pipe:[…]``, a name that does not exist, while ``stat`` reaches the pipe."""
    if str(path) == STDOUT:
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)


def writes_stdout(path: str | os.PathLike[str] | None) -> bool:
    """Whether writing ``path`` writes this process's standard output (``-``, ``/dev/stdout``, the
    FIFO or terminal it is connected to): the command's messages then go to standard error."""
    if path is None:
        return False
    if str(path) == STDOUT:
        return True
    try:
        a, b = os.stat(path), os.fstat(1)
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) and not stat.S_ISREG(a.st_mode)


def is_tty(path: str | os.PathLike[str]) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def space_hint(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return " (the file system is full)"
    if exc.errno == errno.EFBIG:
        return " (the file would exceed the file-size limit: see 'ulimit -f')"
    return ""


def write_through(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to standard output (``-``) or into an existing FIFO or character device,
    as ``cat > path`` does. A reader that went away is a ``BrokenPipeError`` for the caller (the
    command line ends quietly with 141, as a tool killed by SIGPIPE)."""
    if str(path) == STDOUT:
        sys.stdout.flush()
        out = sys.stdout.buffer
        out.write(payload)
        out.flush()
        return
    try:
        with open(path, "wb") as fh:
            fh.write(payload)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise CantCreateError(f"{path}: cannot write: {exc.strerror}{space_hint(exc)}") from exc
