"""Every exception and warning class that cryolike raises, and how messages name options.

A message that tells the caller what to type names an option in both of the caller's
languages: the Python keyword (``overwrite=True``) and the command-line flag
(``--overwrite``). :func:`spelled` embeds both spellings in the message text;
``str(error)`` shows the Python one, and the command line shows its own through
:func:`render` (``error.for_cli()``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

Audience = Literal["python", "cli"]
_OPEN, _SPLIT, _CLOSE = "\ue000", "\ue001", "\ue002"
_SPELLED = re.compile("\ue000([^\ue000-\ue002]*)\ue001([^\ue000-\ue002]*)\ue002")


def spelled(python: str, cli: str) -> str:
    """Text naming one thing the caller can type, in Python and on the command line.

    Put the result into a message (an f-string is fine): ``str(error)`` shows
    ``python``, the command line shows ``cli`` (see :func:`render`).

    Parameters
    ----------
    python
        The Python spelling, e.g. ``"overwrite=True"``.
    cli
        The command-line spelling, e.g. ``"--overwrite"``.

    Returns
    -------
    str
        A marked-up fragment to embed in a message.
    """
    return f"{_OPEN}{python}{_SPLIT}{cli}{_CLOSE}"


def render(text: str, audience: Audience = "python") -> str:
    """A message with every :func:`spelled` fragment in the audience's spelling.

    Parameters
    ----------
    text
        A message that may hold :func:`spelled` fragments.
    audience
        ``'python'`` (keywords) or ``'cli'`` (flags).

    Returns
    -------
    str
        Plain text.
    """
    group = 1 if audience == "python" else 2
    return _SPELLED.sub(lambda match: match.group(group), text)


#: Options that messages name often, in both spellings.
OVERWRITE = spelled("overwrite=True", "--overwrite")
RESUME = spelled("skip_exist=True", "--resume")
SKIP_MISSING = spelled("on_missing='skip'", "--skip-missing")
SKIP_INVALID = spelled("on_invalid='skip'", "--skip-invalid")
PIXEL_SIZE = spelled("pixel_size", "--pixel-size")
STACK_FOLDERS = spelled(
    "folder_cryosparc / folder_mrc / project_dir", "--folder / --project-dir"
)

#: What to install for each optional feature; every extra named here is declared
#: in pyproject.toml (a test checks it).
INSTALL_HINTS: dict[str, str] = {
    "dask": "pip install 'cryolike-convert[dask]'",
    "cryosparc": "pip install 'cryolike-convert[cryosparc]'",
    "matplotlib": "pip install matplotlib",
}


class ConversionError(Exception):
    """Base class of every error cryolike raises on purpose.

    ``str(error)`` names options as Python keywords; :meth:`for_cli` as flags.
    """

    def __str__(self) -> str:
        return render(super().__str__(), "python")

    def for_cli(self) -> str:
        """The message with options spelled as command-line flags."""
        return render(super().__str__(), "cli")


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
    """A recoverable oddity in the input that cryolike worked around.

    Like :class:`ConversionError`, ``str(warning)`` names options as Python
    keywords and :meth:`for_cli` as flags.
    """

    def __str__(self) -> str:
        return render(super().__str__(), "python")

    def for_cli(self) -> str:
        """The message with options spelled as command-line flags."""
        return render(super().__str__(), "cli")
