"""Every exception and warning class that cryolike raises."""

from __future__ import annotations

from pathlib import Path


class ConversionError(Exception):
    """Base class of every error cryolike raises on purpose."""


class InputFileError(ConversionError, OSError):
    """An input file is missing, unreadable or not of the expected format."""


class ParamsFileError(ConversionError, ValueError):
    """The params (ImageDescriptor) file is missing keys or holds wrong types."""


class MetadataError(ConversionError, ValueError):
    """A metadata table (``.cs``/``.star``) holds a bad or inconsistent value.

    Attributes
    ----------
    path, row, field, value
        Where the problem is, as far as it is known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.row = row
        self.field = field
        self.value = value


class MissingFieldError(MetadataError):
    """A required metadata field (column) is absent."""


class InvalidFieldError(MetadataError):
    """A metadata field holds a value that cannot be used."""


class ImageStackError(ConversionError, ValueError):
    """An image stack is missing, too short, of the wrong shape, or holds bad pixels."""


class GridMismatchError(ConversionError, ValueError):
    """The images do not match the grid of the params file."""


class PixelSizeError(ConversionError, ValueError):
    """Pixel sizes from different sources disagree, or none is known."""


class OutputExistsError(ConversionError, FileExistsError):
    """The output folder already holds a previous run's stacks."""


class OutputError(ConversionError, OSError):
    """The output folder cannot be written, or a previous run cannot be resumed."""


class MissingDependencyError(ConversionError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class DeviceError(ConversionError, ValueError):
    """The requested compute device does not exist or this torch build cannot use it."""


class ConversionWarning(UserWarning):
    """A recoverable oddity in the input that cryolike worked around."""
