"""The params file: CryoLike's ImageDescriptor, read and written in its 11-key npz form."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from cryolike_convert.errors import (
    OVERWRITE,
    InputFileError,
    OutputError,
    OutputExistsError,
    ParamsFileError,
)
from cryolike_convert.formats.atomic import AtomicWriteError, write_atomic
from cryolike_convert.formats.npz import (
    OBJECT_MEMBER,
    none_array,
    read_npz_safely,
    write_npz,
)
from cryolike_convert.transform.polar_grid import PolarGrid
from cryolike_convert.transform.precision import Precision

#: The 11 keys of CryoLike's ImageDescriptor npz, in the order CryoLike writes them.
DESCRIPTOR_KEYS: tuple[str, ...] = (
    "n_pixels",
    "pixel_size",
    "radius_max",
    "dist_radii",
    "n_inplanes",
    "precision",
    "viewing_distance",
    "atom_radii",
    "atom_selection",
    "use_protein_residue_model",
    "atom_shape",
)
#: The keys that define the grid; CryoLike's loader demands bit-identical values.
GRID_KEYS: tuple[str, ...] = (
    "n_pixels",
    "pixel_size",
    "radius_max",
    "dist_radii",
    "n_inplanes",
    "precision",
)
_OBJECT_ALLOWED = {"atom_radii"}


@dataclass(frozen=True, slots=True)
class ImageDescriptor:
    """Image grid parameters shared by the converter and the likelihood code.

    ``arrays`` holds the 11 npz members exactly as they are (or were) stored, so
    that every stack we write carries bit-identical grid values.
    """

    arrays: dict[str, np.ndarray]

    @classmethod
    def from_individual_values(
        cls,
        n_pixels: int,
        pixel_size: float | tuple[float, float],
        precision: str = "single",
        resolution_factor: float = 1.0,
        viewing_distance: float | None = None,
        n_inplanes: int | None = None,
        atom_radii: float | None = None,
        atom_selection: str = "name CA",
        use_protein_residue_model: bool = True,
        atom_shape: str = "gaussian",
    ) -> ImageDescriptor:
        """Build a descriptor with CryoLike's formulas.

        ``radius_max = resolution_factor * n_pixels * 0.25``, ``dist_radii = 0.25``,
        ``n_inplanes = 2 * n_pixels`` unless given, and ``viewing_distance =
        1 / (4 pi) / resolution_factor`` unless given.

        Raises
        ------
        ParamsFileError
            If a value is out of range.
        """
        if int(n_pixels) != n_pixels or n_pixels <= 0:
            raise ParamsFileError(
                f"n_pixels must be a positive integer; got {n_pixels}"
            )
        sizes = np.broadcast_to(np.asarray(pixel_size, dtype=np.float64), (2,)).copy()
        if not np.all(sizes > 0):
            raise ParamsFileError(f"pixel_size must be positive; got {pixel_size}")
        if precision not in ("single", "double"):
            raise ParamsFileError(
                f"precision must be 'single' or 'double'; got {precision!r}"
            )
        if resolution_factor <= 0:
            raise ParamsFileError(
                f"resolution_factor must be > 0; got {resolution_factor}"
            )
        inplanes = 2 * int(n_pixels) if n_inplanes is None else int(n_inplanes)
        if inplanes <= 0:
            raise ParamsFileError(f"n_inplanes must be positive; got {n_inplanes}")
        if viewing_distance is None:
            viewing_distance = 1.0 / (4.0 * np.pi) / resolution_factor
        arrays = {
            "n_pixels": np.array([int(n_pixels)] * 2, dtype=np.int64),
            "pixel_size": sizes,
            "radius_max": np.array(
                resolution_factor * n_pixels * 0.25, dtype=np.float64
            ),
            "dist_radii": np.array((np.pi / 2.0) / (2.0 * np.pi), dtype=np.float64),
            "n_inplanes": np.array(inplanes, dtype=np.int64),
            "precision": np.array(precision),
            "viewing_distance": np.array(viewing_distance, dtype=np.float64),
            "atom_radii": none_array()
            if atom_radii is None
            else np.array(atom_radii, dtype=np.float64),
            "atom_selection": np.array(atom_selection),
            "use_protein_residue_model": np.array(bool(use_protein_residue_model)),
            "atom_shape": np.array(atom_shape),
        }
        return cls(arrays=arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ImageDescriptor:
        """Read a params file written by CryoLike or by cryolike, never unpickling.

        Raises
        ------
        ParamsFileError
            If a key is missing, holds a Python object where a value is expected,
            or has the wrong type or shape.
        InputFileError
            If the file is missing or not an npz archive.
        """
        file = Path(path).expanduser()
        if file.suffix != ".npz":
            raise InputFileError(f"{file}: a params file must be an .npz file")
        members = read_npz_safely(file, set(DESCRIPTOR_KEYS), error=InputFileError)
        missing = [key for key in DESCRIPTOR_KEYS if key not in members]
        if missing:
            raise ParamsFileError(
                f"{file}: params file lacks key(s) {', '.join(missing)}; expected the 11 "
                "keys of ImageDescriptor.save(). Recreate it with "
                "ImageDescriptor.from_individual_values(...).save(path)."
            )
        arrays: dict[str, np.ndarray] = {}
        for key in DESCRIPTOR_KEYS:
            value = members[key]
            if value is OBJECT_MEMBER:
                if key not in _OBJECT_ALLOWED:
                    raise ParamsFileError(
                        f"{file}: key {key!r} holds a Python object; expected a plain "
                        "value. cryolike never unpickles input files."
                    )
                arrays[key] = none_array()
            elif isinstance(value, np.ndarray):
                arrays[key] = value
        descriptor = cls(arrays=arrays)
        descriptor._validate(file)
        return descriptor

    def _validate(self, file: Path) -> None:
        checks: list[tuple[str, str, bool]] = []
        arr = self.arrays
        checks.append(
            (
                "n_pixels",
                "2 positive integers",
                arr["n_pixels"].dtype.kind in "iu"
                and arr["n_pixels"].shape in ((2,), ())
                and bool(np.all(arr["n_pixels"] > 0)),
            )
        )
        checks.append(
            (
                "pixel_size",
                "2 positive numbers",
                arr["pixel_size"].dtype.kind == "f"
                and arr["pixel_size"].shape in ((2,), ())
                and bool(np.all(arr["pixel_size"] > 0)),
            )
        )
        for key in ("radius_max", "dist_radii"):
            checks.append(
                (
                    key,
                    "a positive number",
                    arr[key].dtype.kind in "fiu"
                    and arr[key].size == 1
                    and float(arr[key].reshape(())) > 0,
                )
            )
        checks.append(
            (
                "n_inplanes",
                "a positive integer",
                arr["n_inplanes"].dtype.kind in "iu"
                and arr["n_inplanes"].size == 1
                and int(arr["n_inplanes"].reshape(())) > 0,
            )
        )
        checks.append(
            (
                "precision",
                "'single', 'double' or 'default'",
                arr["precision"].dtype.kind == "U"
                and str(arr["precision"].reshape(()))
                in ("single", "double", "default"),
            )
        )
        for key, expected, ok in checks:
            if not ok:
                raise ParamsFileError(
                    f"{file}: key {key!r} is {arr[key].dtype} {arr[key].shape} = "
                    f"{_short(arr[key])}; expected {expected}."
                )

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the 11-key npz that CryoLike's ``ImageDescriptor.load`` reads.

        Raises
        ------
        OutputExistsError
            If the file exists and ``overwrite`` is false.
        OutputError
            If the file cannot be written (written atomically: temporary name,
            fsync, rename).
        """
        file = Path(path).expanduser()
        if file.suffix != ".npz":
            file = file.with_name(file.name + ".npz")
        if file.exists() and not overwrite:
            raise OutputExistsError(
                f"{file}: already exists; pass {OVERWRITE} to replace it"
            )
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(file, lambda handle: write_npz(handle, self.arrays))
        except AtomicWriteError as err:
            raise OutputError(err.describe()) from err.cause
        return file

    @property
    def n_pixels(self) -> tuple[int, int]:
        """Image side lengths ``(n_x, n_y)`` in pixels."""
        values = np.broadcast_to(self.arrays["n_pixels"], (2,))
        return int(values[0]), int(values[1])

    @property
    def pixel_size_angstrom(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in Å."""
        values = np.broadcast_to(self.arrays["pixel_size"], (2,))
        return float(values[0]), float(values[1])

    @property
    def precision(self) -> Precision:
        """``'single'`` (complex64 output) or ``'double'`` (complex128)."""
        value = str(self.arrays["precision"].reshape(()))
        return "double" if value == "double" else "single"

    @property
    def polar_grid(self) -> PolarGrid:
        """The polar grid these parameters define."""
        return PolarGrid(
            radius_max=float(self.arrays["radius_max"].reshape(())),
            dist_radii=float(self.arrays["dist_radii"].reshape(())),
            n_inplanes=int(self.arrays["n_inplanes"].reshape(())),
        )

    def box_size_angstrom(self) -> float:
        """Box side in Å (``n_pixels[0] * pixel_size[0]``)."""
        return self.n_pixels[0] * self.pixel_size_angstrom[0]

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary of the grid."""
        grid = self.polar_grid
        return {
            "n_pixels": list(self.n_pixels),
            "pixel_size_angstrom": list(self.pixel_size_angstrom),
            "radius_max": grid.radius_max,
            "n_shells": grid.n_shells,
            "n_inplanes": grid.n_inplanes,
            "precision": self.precision,
            "nyquist_fraction": 4 * grid.radius_max / self.n_pixels[0],
        }

    def summary_lines(self) -> list[str]:
        """The grid, one ``name: value`` line per item (what :meth:`print` shows)."""
        return [f"{name}: {value}" for name, value in self.describe().items()]

    def print(self, file: TextIO | None = None) -> None:
        """Write :meth:`summary_lines` to ``file`` (standard output by default).

        CryoLike's API (its examples call ``image_parameters.print()``); the one
        library call whose purpose is printing, made only when the caller asks.
        """
        stream = sys.stdout if file is None else file
        stream.write("\n".join(self.summary_lines()) + "\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedGrid:
    """A request to derive the output grid from the data instead of a params file.

    The grid is the one :meth:`ImageDescriptor.from_individual_values` builds with
    CryoLike's defaults (``radius_max = n_pixels / 4``, shell spacing 0.25,
    ``2 * n_pixels`` angles per shell) for the images' box after downsampling
    and their pixel size (manual, metadata or MRC header). The run writes it to
    ``OUT/params.npz``, so that templates can use the same grid.

    Attributes
    ----------
    precision
        ``'single'`` (complex64 stacks) or ``'double'`` (complex128).
    """

    precision: Precision = "single"

    def __post_init__(self) -> None:
        if self.precision not in ("single", "double"):
            raise ParamsFileError(
                f"precision must be 'single' or 'double'; got {self.precision!r}"
            )

    def descriptor(self, n_pixels: int, pixel_size_angstrom: float) -> ImageDescriptor:
        """The grid for images of ``n_pixels`` at ``pixel_size_angstrom``.

        Parameters
        ----------
        n_pixels
            Image side after downsampling, pixels.
        pixel_size_angstrom
            Pixel size after downsampling, Å.

        Returns
        -------
        ImageDescriptor
        """
        return ImageDescriptor.from_individual_values(
            n_pixels=n_pixels,
            pixel_size=pixel_size_angstrom,
            precision=self.precision,
        )


def _short(value: np.ndarray) -> str:
    text = np.array2string(value, threshold=6)
    return text if len(text) < 60 else text[:57] + "..."


def finest_resolution_angstrom(descriptor: ImageDescriptor) -> float:
    """The finest resolution the outer shell reaches, Å."""
    grid = descriptor.polar_grid
    return descriptor.box_size_angstrom() / (2 * float(grid.radius_shells[-1]))


__all__ = [
    "DESCRIPTOR_KEYS",
    "GRID_KEYS",
    "DerivedGrid",
    "ImageDescriptor",
    "finest_resolution_angstrom",
]
