"""Reading a text input line by line in bounded memory, whatever it is: a regular file, a FIFO,
``/dev/zero`` or a 64 GB file without a newline. Lines end at ``\\n`` (a ``\\r`` before it is
dropped); nothing else ends a line, so line numbers are those of any editor. UTF-8, with or
without a byte-order mark. Every problem is a one-line error naming the file and the line."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from ..errors import DataError, NoInputError

MAX_LINE = 1 << 20  # 1 MiB: a CSV row of 100 000 numbers fits; a file without newlines does not


@dataclass
class Line:
    number: int
    text: str


STDIN = "-"  # as an input path: standard input


def newlines(data: bytes) -> int:
    """How many ``\\n`` bytes ``data`` holds: a vectorised compare (~10 GB/s; ``bytes.count``
    counts one byte at ~3 GB/s here, and a 10^6-row file was counted twice over)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))


def input_name(path: str | os.PathLike[str]) -> str:
    """How messages name an input: its path, or ``standard input`` for ``-``."""
    return "standard input" if str(path) == STDIN else str(path)


def open_input(path: str | os.PathLike[str], what: str = "a file") -> BinaryIO:
    """The opened input, or a NoInputError saying why not (missing, a folder, unreadable);
    ``-`` is standard input (read once, as a pipe)."""
    name = str(path)
    if name == STDIN:
        try:
            return os.fdopen(os.dup(0), "rb")
        except OSError as exc:
            raise NoInputError(f"standard input: cannot read: {exc.strerror}") from None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NoInputError(f"{name}: expected an existing file; received a path that does not exist") from None
    except OSError as exc:
        raise NoInputError(f"{name}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise NoInputError(f"{name}: expected {what}; received a directory")
    try:
        if stat.S_ISFIFO(st.st_mode):
            # A named pipe without a writer would block open() forever: open it without waiting,
            # then read normally (end of file at once if nobody writes, the data if someone does).
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        return open(path, "rb")  # noqa: SIM115  (the caller closes it)
    except OSError as exc:
        raise NoInputError(f"{name}: cannot read: {exc.strerror}") from None


def read_lines(fh: BinaryIO, name: str, max_line: int = MAX_LINE, first: int = 1) -> Iterator[Line]:
    """The lines of an opened input (without their line ends), in bounded memory and time;
    ``first``: the number of its first line (a block of a file read from the middle)."""
    number = first - 1
    while True:
        try:
            raw = fh.readline(max_line + 2)
        except OSError as exc:
            raise NoInputError(f"{name}: cannot read: {exc.strerror}") from None
        if not raw:
            return
        number += 1
        if len(raw) > max_line + 1 or (len(raw) == max_line + 2 and not raw.endswith(b"\n")):
            raise DataError(f"{name}:{number}: expected lines of at most {max_line:,} bytes; received a longer "
                            "line (not a CSV file?)")
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}:{number}: expected UTF-8 text; received a byte 0x{raw[exc.start]:02x} "
                            f"at column {exc.start + 1}") from None
        yield Line(number, text)


def sniff(fh: BinaryIO) -> tuple[bool, str]:
    """(has a UTF-8 byte-order mark, the line end "\\r\\n" or "\\n") from the first line of a
    seekable input, which is rewound; a pipe is read as it comes (no BOM kept, "\\n")."""
    if not fh.seekable():
        return False, "\n"
    head = fh.readline(MAX_LINE + 2)
    fh.seek(0)
    return head.startswith(b"\xef\xbb\xbf"), "\r\n" if head.endswith(b"\r\n") else "\n"
