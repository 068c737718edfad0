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


class CorruptManifestError(OutputError):
    """An output folder's ``manifest.json`` is not a valid manifest (damaged or foreign)."""


class OutputLockedError(OutputError):
    """Another run is writing the output folder (it holds the folder's lock).

    Attributes
    ----------
    holder
        What the lock file says of the run holding it (``pid``, ``host``,
        ``started``, ``mechanism``), as far as it could be read.
    """

    def __init__(
        self, message: str, *, holder: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.holder = dict(holder or {})


class MissingDependencyError(ConversionError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class ConversionInterrupted(KeyboardInterrupt):
    """A run was stopped by Ctrl-C (SIGINT) or SIGTERM; its finished stacks were kept.

    A :class:`KeyboardInterrupt`, so that code which stops on Ctrl-C stops here too.

    Attributes
    ----------
    signal_number
        The signal that stopped the run.
    n_stacks_kept
        Finished stacks left in the output folder (recorded in its manifest), or
        ``None`` if the run stopped before it wrote its manifest.
    output_dir
        The output folder, or ``None`` if the run stopped before choosing it.
    """

    def __init__(
        self,
        signal_number: int,
        *,
        n_stacks_kept: int | None = None,
        output_dir: Path | None = None,
    ) -> None:
        if n_stacks_kept is None:
            text = "interrupted before any stack was converted; rerun with --resume"
        else:
            text = f"interrupted: {n_stacks_kept} stacks kept; rerun with --resume"
        super().__init__(text)
        self.signal_number = signal_number
        self.n_stacks_kept = n_stacks_kept
        self.output_dir = output_dir

    @property
    def exit_code(self) -> int:
        """The shell's code for death by this signal: 130 (SIGINT), 143 (SIGTERM)."""
        return 128 + int(self.signal_number)


class DeviceError(ConversionError, ValueError):
    """The requested compute device does not exist or this torch build cannot use it."""


class ConversionWarning(UserWarning):
    """A recoverable oddity in the input that cryolike worked around."""
