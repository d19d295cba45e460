"""Output files: writability checks before work starts, and atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import CantCreateError


def check_dir_writable(folder: str | os.PathLike[str]) -> None:
    """Fail early (before any work) if ``folder`` cannot be created or written."""
    path = Path(folder)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise CantCreateError(f"{folder}: expected a folder to write into; received a path through the file {probe}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CantCreateError(f"{folder}: cannot create output here: {probe} is not writable")


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``.

    A failure or interruption at any point leaves the previous ``path`` untouched.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CantCreateError(f"{path}: cannot create: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise CantCreateError(f"{path}: cannot write: {exc.strerror}") from exc
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
