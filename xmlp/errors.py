"""User-facing errors, each with its own exit code (sysexits.h): the command line prints them
as one line, ``xmlp: error: …``, and exits with ``exit_code``."""

from __future__ import annotations


class XmlpError(Exception):
    """An error reported as one line, ``xmlp: error: …``, with ``exit_code``."""

    exit_code = 1


class UsageError(XmlpError, ValueError):
    """Bad options or option values (EX_USAGE)."""

    exit_code = 2


class DataError(XmlpError, ValueError):
    """An input file whose content is wrong (EX_DATAERR)."""

    exit_code = 65


class NoInputError(XmlpError, FileNotFoundError):
    """An input file that does not exist or cannot be read (EX_NOINPUT)."""

    exit_code = 66


class UnavailableError(XmlpError, RuntimeError):
    """A requested backend or device this machine cannot provide (EX_UNAVAILABLE)."""

    exit_code = 69


class TrainingDiverged(XmlpError, ArithmeticError):
    """Training produced a non-finite loss and stopped instead of carrying NaN weights
    (EX_SOFTWARE: the run, not the input, failed)."""

    exit_code = 70


class MismatchError(XmlpError, ValueError):
    """A run that does not fit the model it continues (``xmlp train --resume``): other layers,
    features, classes, optimizer… (EX_CONFIG)."""

    exit_code = 78


class CantCreateError(XmlpError, OSError):
    """An output file or folder that cannot be written (EX_CANTCREAT)."""

    exit_code = 73


MAX_MESSAGE = 500  # characters of an error line


def one_line(message: str) -> str:
    """The message as one readable line: control characters escaped, at most MAX_MESSAGE long."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def as_user_error(exc: BaseException) -> XmlpError | None:
    """The user-facing error an exception stands for (None: a bug, reported as internal)."""
    from . import backends  # the backend errors are the backends package's own classes

    if isinstance(exc, XmlpError):
        return exc
    if isinstance(exc, backends.UnknownBackendError):
        return UsageError(str(exc))
    if isinstance(exc, backends.BackendError):
        return UnavailableError(str(exc))
    if isinstance(exc, OSError):
        return CantCreateError(f"{exc.filename or ''}: {exc.strerror or exc}")
    return None


def short_repr(value: object, limit: int = 40) -> str:
    """repr(value), cut to ``limit`` characters (a 100 KB cell must not flood the error line)."""
    out = repr(value)
    return out if len(out) <= limit else out[: limit - 1] + "…"
