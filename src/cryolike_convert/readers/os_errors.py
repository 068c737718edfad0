"""Operating-system errors on user paths become named input errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cryolike_convert.errors import ConversionError, InputFileError


def os_reason(error: BaseException) -> str:
    """The short reason of an OS error (``strerror``), else its text."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


@contextmanager
def input_errors_named() -> Iterator[None]:
    """Turn any raw ``OSError`` raised while reading inputs into an ``InputFileError``.

    The message names the path the OS reported (a name too long, a loop of
    symbolic links, a permission denied, an I/O error, ...).

    Raises
    ------
    InputFileError
        In place of the ``OSError``.
    """
    try:
        yield
    except ConversionError:
        raise
    except OSError as err:
        where = err.filename if err.filename is not None else "an input file"
        raise InputFileError(f"{where}: cannot be read ({os_reason(err)})") from err


__all__ = ["input_errors_named", "os_reason"]
