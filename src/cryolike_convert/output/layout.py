"""The on-disk output: layout and names, atomic writers, the per-stack npz."""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from cryolike_convert.errors import ConversionError, OutputError
from cryolike_convert.formats.npz import none_array, write_npz
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS, ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata

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


class _HashingWriter:
    """A binary file wrapper that hashes what is written through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        try:
            return self._handle.write(data)
        except OSError as err:
            # Remembered: torch.save turns it into a RuntimeError without context.
            self.error = err
            raise

    def flush(self) -> None:
        self._handle.flush()


_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")


def temporary_name(path: Path) -> Path:
    """The hidden temporary name ``path`` is written under (``.NAME.PID.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a temporary file left by :func:`atomic_file`."""
    return bool(_TEMPORARY.match(path.name))


@contextmanager
def atomic_file(path: Path) -> Iterator[_HashingWriter]:
    """Write ``path`` through a temporary file in the same folder, fsync, then rename.

    An interrupted write leaves only a ``.tmp`` file that no reader picks up (a
    resumed run removes it).

    Raises
    ------
    OutputError
        If the file cannot be written (disk full, permission denied, ...), naming
        ``path``; nothing is left under ``path`` or the temporary name.
    """
    temporary = temporary_name(path)
    writer: _HashingWriter | None = None
    try:
        with open(temporary, "wb") as handle:
            writer = _HashingWriter(handle)
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        cause = writer.error if writer is not None and writer.error else err
        if isinstance(cause, OSError) and not isinstance(cause, ConversionError):
            raise OutputError(
                f"{path}: cannot be written ({cause.strerror or cause}); "
                f"{write_failure_advice(cause, path)}"
            ) from cause
        raise
    _fsync_dir(path.parent)


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


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> str:
    """Write a file atomically with ``write(handle)``; return its sha256."""
    with atomic_file(path) as writer:
        write(writer)  # type: ignore[arg-type]
    return writer.digest.hexdigest()


def stack_npz_arrays(
    descriptor: ImageDescriptor,
    rows: ParticleMetadata,
    reference_pixel_size: float | None,
    stack_range: tuple[int, int] | None = None,
) -> dict[str, np.ndarray]:
    """The per-stack npz: 11 descriptor keys, 15 lens keys, counts and provenance.

    Grid keys are copied bit for bit from the params file; per-image lens arrays
    hold exactly this stack's images, in their source dtype.
    """
    arrays: dict[str, np.ndarray] = {
        key: descriptor.arrays[key] for key in DESCRIPTOR_KEYS
    }
    arrays["defocusU"] = rows.defocus_u_angstrom
    arrays["defocusV"] = rows.defocus_v_angstrom
    arrays["defocusAngle"] = rows.defocus_angle_rad
    arrays["phaseShift"] = rows.phase_shift_rad
    arrays["sphericalAberration"] = _scalar(rows.spherical_aberration_mm)
    arrays["voltage"] = _scalar(rows.voltage_kv)
    arrays["amplitudeContrast"] = _scalar(rows.amplitude_contrast_fraction)
    arrays["angleRotation"] = _optional(rows.angle_rotation_rad)
    arrays["angleTilt"] = _optional(rows.angle_tilt_rad)
    arrays["anglePsi"] = _optional(rows.angle_psi_rad)
    arrays["ref_pixel_size"] = (
        none_array()
        if reference_pixel_size is None
        else np.full(2, reference_pixel_size, dtype=np.float64)
    )
    arrays["files"] = rows.stored_path
    arrays["idxs"] = rows.stored_index
    arrays["ctfBfactor"] = _optional(rows.ctf_bfactor)
    arrays["ctfScalefactor"] = _optional(rows.ctf_scalefactor)
    arrays["n_images"] = np.array(len(rows), dtype=np.int64)
    if stack_range is not None:
        arrays["stack_start"] = np.array(stack_range[0], dtype=np.int64)
        arrays["stack_end"] = np.array(stack_range[1], dtype=np.int64)
    arrays["source_row"] = rows.source_row.astype(np.int64)
    if rows.uid is not None:
        arrays["source_uid"] = rows.uid.astype(np.uint64)
    arrays["source_file"] = rows.stack_paths()
    arrays["source_index"] = rows.stack_index.astype(np.int64)
    return arrays


def _scalar(values: np.ndarray) -> np.ndarray:
    return np.array(float(values[0]) if len(values) else np.nan, dtype=np.float64)


def _optional(values: np.ndarray | None) -> np.ndarray:
    return none_array() if values is None else values


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write the per-stack npz atomically; return its sha256."""
    return write_atomic(path, lambda handle: write_npz(handle, arrays))


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
