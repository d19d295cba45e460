"""Output files and folders: checks before work starts, atomic writes, run folders assembled
beside their destination, and the rules that keep xmlp from replacing what is not its own.

- ``-`` is standard output (``through.STDOUT``). Only regular files are ever replaced (temp file in the
  same folder, fsync, rename); a symlink is followed to its target; a FIFO (named pipe, a shell's
  ``>(…)``) or a character device (``/dev/null``, a terminal, ``/dev/stdout`` onto a pipe) is
  written through, never replaced; a socket, block device or folder is refused with the reason.
- A write that the file system refuses (a full disk, ``ulimit -f``) is one ``CantCreateError``
  (exit 73) and leaves no partial file: the previous file, if any, is intact.
- New files and folders get the user's umask (a replaced file keeps its mode), like any tool's.
- Temporary names start with ``.xmlp-tmp-<pid>-``; those of a process that no longer runs are
  removed by the next write into that folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import CantCreateError, UsageError
from .through import STDOUT, is_tty, passes_through, space_hint, write_through

TEMP_PREFIX = ".xmlp-tmp-"
_KINDS = {stat.S_IFIFO: "FIFO (named pipe)", stat.S_IFSOCK: "socket", stat.S_IFBLK: "block device",
          stat.S_IFDIR: "folder", stat.S_IFCHR: "character device"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


def check_output_file(path: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]] = (),
                      force: bool | None = None, binary: bool = False) -> None:
    """Fail early if ``path`` is not something xmlp may write: a folder on the way that cannot
    be, a socket, block device or folder, one of the command's inputs, or (with ``force`` False)
    an existing regular file. ``-``, a FIFO or a character device is written through; ``binary``
    data (an ONNX file) is refused on a terminal, as gzip does."""
    if passes_through(path):
        if binary and (os.isatty(1) if str(path) == STDOUT else is_tty(path)):
            raise CantCreateError(f"{path}: expected a file or a pipe for binary data; received a terminal "
                                  "(hint: redirect it, e.g. '> model.onnx')")
        return
    check_dir_writable(Path(path).parent)
    target = Path(os.path.realpath(path))
    if target.exists():
        kind = stat.S_IFMT(os.stat(target).st_mode)
        if kind != stat.S_IFREG:
            raise CantCreateError(f"{path}: expected a regular file, a FIFO or a character device to write; received "
                                  f"a {_KINDS.get(kind, 'special file')} (xmlp replaces only regular files)")
    for source in inputs:
        same = os.path.realpath(source) == str(target)
        with contextlib.suppress(OSError):  # a hard link is the same file under another name
            same = same or os.path.samefile(source, target)
        if same:
            raise UsageError(f"{path}: expected an output other than the command's inputs; received {source}, "
                             "one of its inputs")
    if target.exists() and stat.S_ISREG(os.stat(target).st_mode) and force is False:
        raise CantCreateError(f"{path}: expected a new file; received an existing one (hint: --force overwrites)")


def clean_stale(folder: Path) -> None:
    """Remove the temporary files and folders that a killed xmlp process left in ``folder``."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]
    except OSError:
        return
    for n in names:
        pid = n[len(TEMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            path = folder / n
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` to ``path``: via a temporary file and a rename for a regular or new file
    (a failure or interruption leaves the previous file untouched), straight through for ``-``
    (standard output), a FIFO or a character device; anything else is refused."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if passes_through(path):
        write_through(path, payload)
        return
    target = Path(os.path.realpath(path))
    mode = 0o666 & ~_umask()
    if target.exists():
        st = os.stat(target)
        if not stat.S_ISREG(st.st_mode):
            raise CantCreateError(f"{path}: expected a regular file, a FIFO or a character device to write; received a "
                                  f"{_KINDS.get(stat.S_IFMT(st.st_mode), 'special file')} (xmlp replaces only regular files)")
        mode = stat.S_IMODE(st.st_mode)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise CantCreateError(f"{path}: expected a file that can be created here; received {exc.strerror!r} "
                              "from the file system") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CantCreateError(f"{path}: cannot write: {exc.strerror}{space_hint(exc)}; nothing was written") from exc
        raise
    _sync_dir(target.parent)


def _sync_dir(folder: Path) -> None:
    """Make a rename durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_all(files: Sequence[tuple[Path, bytes | str]]) -> None:
    """Write several files all or nothing: every one is staged first; if putting one in place
    fails, the ones already replaced get their previous content back."""
    staged: list[tuple[Path, Path, Path | None]] = []
    try:
        for path, data in files:
            check_output_file(path)
            target = Path(os.path.realpath(path))
            backup = None
            if target.exists():
                backup = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-bak-")) / "old"
                shutil.copy2(target, backup)
            staged.append((path, target, backup))
        done: list[tuple[Path, Path | None]] = []
        try:
            for (path, data), (_, target, backup) in zip(files, staged):
                atomic_write(target, data)
                done.append((target, backup))
        except BaseException:
            for target, backup in reversed(done):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink(missing_ok=True)
            raise
    finally:
        for _, _, backup in staged:
            if backup is not None:
                shutil.rmtree(backup.parent, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(final: Path, *, replace: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``final`` to assemble a run in; moved into place when the block
    completes (replacing an existing ``final`` only with ``replace``), removed on any failure
    or interruption, so ``final`` is never seen half-written."""
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(parent)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-{final.name}."))
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as exc:
        raise CantCreateError(f"{final}: expected a folder that can be created here; received {exc.strerror!r} "
                              "from the file system") from exc
    try:
        yield tmp
        if (final.exists() or final.is_symlink()) and not replace:
            raise CantCreateError(f"{final}: expected a new run folder; received an existing one "
                                  "(hint: --force replaces it)")
    except CantCreateError as exc:  # a full disk while the run was saved: name the run's own path
        shutil.rmtree(tmp, ignore_errors=True)
        raise CantCreateError(str(exc).replace(str(tmp), str(final))) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        old = None
        if final.exists() or final.is_symlink():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-old-")) / "run"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
        _sync_dir(parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CantCreateError(f"{final}: cannot write: {exc.strerror}") from exc


def default_run_dir(fresh: bool = True) -> Path:
    """A runs/<date-time> path; ``fresh``: with a -k suffix so that it does not exist yet (a
    data-parallel job's rank 0 picks it for every process; a single process reserves its folder
    with ``reserve_folder``)."""
    base = Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    path, k = base, 1
    while fresh and path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def reserve_folder(base: Path) -> Path:
    """A new, empty folder ``base``, ``base-2``, ``base-3``…, created exclusively: two processes
    started in the same second never share one."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        path = base if k == 1 else Path(f"{base}-{k}")
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue
    raise CantCreateError(f"{base}: expected a free run folder name; received 10 000 taken ones")
