"""The on-disk output: layout and names, and atomic writes of output files."""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from cryolike_convert.errors import OutputError
from cryolike_convert.formats import atomic
from cryolike_convert.formats.atomic import HashingWriter, is_temporary
from cryolike_convert.formats.npz import write_npz

STACK_KINDS = ("fourier", "npz", "phys")
_STACK_FILE = re.compile(r"^particles_(fourier|phys)_stack_\d{6}\.(pt|npz)$")
_PLOT_FILE = re.compile(
    r"^(particles_(fourier|phys)_stack|power_spectrum_stack)_\d{6}\.png$"
)


@dataclass(frozen=True, slots=True)
class OutputLayout:
    """File names under an output folder, as CryoLike names them."""

    root: Path

    @property
    def fft_dir(self) -> Path:
        """Folder of the Fourier stacks and their npz metadata."""
        return self.root / "fft"

    @property
    def phys_dir(self) -> Path:
        """Folder of the physical (centred) image stacks."""
        return self.root / "phys"

    @property
    def plots_dir(self) -> Path:
        """Folder of the PNG plots."""
        return self.root / "plots"

    @property
    def manifest(self) -> Path:
        """The run's manifest."""
        return self.root / "manifest.json"

    def stack_files(self, number: int) -> dict[str, Path]:
        """The three files of stack ``number``: ``fourier``, ``npz`` and ``phys``."""
        return {
            "fourier": self.fft_dir / f"particles_fourier_stack_{number:06d}.pt",
            "npz": self.fft_dir / f"particles_fourier_stack_{number:06d}.npz",
            "phys": self.phys_dir / f"particles_phys_stack_{number:06d}.pt",
        }

    def plot_files(self, number: int) -> dict[str, Path]:
        """The three plots of stack ``number``."""
        return {
            "phys": self.plots_dir / f"particles_phys_stack_{number:06d}.png",
            "fourier": self.plots_dir / f"particles_fourier_stack_{number:06d}.png",
            "power_spectrum": self.plots_dir / f"power_spectrum_stack_{number:06d}.png",
        }

    def existing_stack_files(self) -> list[Path]:
        """Stack files already present (any run, any writer)."""
        found: list[Path] = []
        for folder in (self.fft_dir, self.phys_dir):
            if folder.is_dir():
                found += sorted(
                    p for p in folder.iterdir() if _STACK_FILE.match(p.name)
                )
        return found

    def existing_plot_files(self) -> list[Path]:
        """Per-stack plots already present (any run)."""
        if not self.plots_dir.is_dir():
            return []
        return sorted(p for p in self.plots_dir.iterdir() if _PLOT_FILE.match(p.name))

    def temporary_files(self) -> list[Path]:
        """Temporary files of interrupted writes (``.NAME.PID.tmp``) in the output."""
        found: list[Path] = []
        for folder in (self.root, self.fft_dir, self.phys_dir, self.plots_dir):
            if folder.is_dir():
                found += sorted(p for p in folder.iterdir() if is_temporary(p))
        return found

    def relative(self, path: Path) -> str:
        """``path`` relative to the output root, with forward slashes."""
        return path.relative_to(self.root).as_posix()


@contextmanager
def atomic_file(path: Path) -> Iterator[HashingWriter]:
    """Write an output file atomically (see :func:`formats.atomic.atomic_file`).

    Raises
    ------
    OutputError
        If the file cannot be written (disk full, permission denied, ...), naming
        ``path``; nothing is left under ``path`` or the temporary name.
    """
    try:
        with atomic.atomic_file(path) as writer:
            yield writer
    except atomic.AtomicWriteError as err:
        raise OutputError(
            f"{err.describe()}; {write_failure_advice(err.cause, path)}"
        ) from err.cause


def write_failure_advice(error: OSError, path: Path) -> str:
    """What to do about a failed write of ``path``, by the kind of failure."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free space, then resume the run (--resume)"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            "fix the permissions of the output folder, then resume the run (--resume)"
        )
    if error.errno == errno.ENOENT or not path.parent.is_dir():
        return (
            f"its folder {path.parent} was removed while this run was writing it "
            "(by another program, or a run that did not hold the folder's lock); "
            "rerun with --resume"
        )
    return "check the output folder's file system, then resume the run (--resume)"


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> str:
    """Write an output file atomically with ``write(handle)``; return its checksum.

    The checksum is in its recorded form (``"xxh3_128:<hex>"``).

    Raises
    ------
    OutputError
        As :func:`atomic_file`.
    """
    with atomic_file(path) as writer:
        write(writer)  # type: ignore[arg-type]
    return writer.checksum()


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write the per-stack npz atomically; return its recorded checksum."""
    return write_atomic(path, lambda handle: write_npz(handle, arrays))


def recorded_checksums(entry: dict[str, object]) -> dict[str, str]:
    """A manifest stack entry's checksums by kind (``"<algorithm>:<hex>"``).

    Entries written before checksums named their algorithm hold bare sha256 values
    under ``"sha256"``.
    """
    current = entry.get("checksums")
    if isinstance(current, dict):
        return {str(k): str(v) for k, v in current.items()}
    legacy = entry.get("sha256")
    if isinstance(legacy, dict):
        return {str(k): f"sha256:{v}" for k, v in legacy.items()}
    return {}
