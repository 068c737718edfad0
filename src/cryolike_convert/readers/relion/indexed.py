"""RELION ``.star`` files → ParticleMetadata (read through ``starfile``)."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryolike_convert.errors import (
    ConversionWarning,
    InvalidFieldError,
    MissingFieldError,
)
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.readers.relion.tables import (
    FIELD_LABELS,
    RELION_LABELS,
    label,
    load_star_table,
    row_text,
)
from cryolike_convert.readers.result import ReadResult, relative_search_dirs

#: Columns read into ParticleMetadata from the table (the lens and pose values).
_VALUE_COLUMNS: tuple[str, ...] = (
    "defocus_u_angstrom",
    "defocus_v_angstrom",
    "defocus_angle_rad",
    "phase_shift_rad",
    "spherical_aberration_mm",
    "voltage_kv",
    "amplitude_contrast_fraction",
    "angle_rotation_rad",
    "angle_tilt_rad",
    "angle_psi_rad",
    "ctf_bfactor",
    "ctf_scalefactor",
)
#: Defaults worth a warning: they change the CTF when the guess is wrong.
_WARN_DEFAULTS: frozenset[str] = frozenset({"amplitude_contrast_fraction"})
_RELION_JOB = re.compile(r"^job\d+$")


@dataclass(frozen=True, slots=True)
class StarTable:
    """One STAR file read into ParticleMetadata, with what was filled in.

    Attributes
    ----------
    metadata
        The particles, in STAR row order.
    defaulted
        ``{label: value}`` for every absent column that was filled with a default.
    pixel_size_source
        The label(s) the pixel size came from, or ``None`` when the STAR has none.
    """

    metadata: ParticleMetadata
    defaulted: dict[str, float]
    pixel_size_source: str | None


def numeric_column(path: Path, table: Any, field: str) -> np.ndarray:
    """One column as finite float64 values.

    Raises
    ------
    InvalidFieldError
        Naming the first row whose value is not a finite number, and the count.
    """
    values: np.ndarray = np.asarray(
        pd.to_numeric(table[field], errors="coerce"), dtype=np.float64
    )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidFieldError(
            f"{path}: {row_text(table, row)} — {field} is {table[field].iloc[row]!r}; "
            f"expected a finite number ({bad.size} row(s) affected). Fix or remove "
            "these rows.",
            path=path,
            row=row,
            field=field,
            value=table[field].iloc[row],
        )
    return values


def _value_columns(
    path: Path, table: Any, degrees: dict[str, bool]
) -> tuple[dict[str, Any], dict[str, float]]:
    missing = [
        name
        for name, spec in RELION_LABELS.items()
        if spec.required and name not in table.columns
    ]
    if missing:
        raise MissingFieldError(
            f"{path}: missing column(s) {', '.join(missing)}; expected them in "
            "data_particles or data_optics",
            path=path,
            field=missing[0],
        )
    columns: dict[str, np.ndarray] = {}
    defaulted: dict[str, float] = {}
    for column in _VALUE_COLUMNS:
        name = label(column)
        spec = RELION_LABELS[name]
        if name in table.columns:
            values = numeric_column(path, table, name)
            in_degrees = degrees.get(column, spec.degrees)
            columns[column] = np.radians(values) if in_degrees else values
        elif spec.default is not None:
            columns[column] = np.full(len(table), spec.default, dtype=np.float64)
            defaulted[name] = spec.default
    for name in sorted(set(defaulted) & {label(c) for c in _WARN_DEFAULTS}):
        warnings.warn(
            f"{path}: no {name} column; using the default {defaulted[name]:g} for "
            "every particle",
            ConversionWarning,
            stacklevel=3,
        )
    return columns, defaulted


def pixel_size_column(path: Path, table: Any) -> tuple[np.ndarray | None, str | None]:
    """Per-row pixel size in Å and its source label(s), or ``(None, None)``.

    ``rlnImagePixelSize`` wins; otherwise RELION 3.0's
    ``rlnDetectorPixelSize`` (µm) · 1e4 / ``rlnMagnification``.

    Raises
    ------
    InvalidFieldError
        For a value that is not a positive finite number, naming the row.
    """
    image, detector, magnification = (
        label(c)
        for c in ("pixel_size_angstrom", "detector_pixel_size_um", "magnification")
    )
    if image in table.columns:
        values, source = numeric_column(path, table, image), image
    elif detector in table.columns and magnification in table.columns:
        values = numeric_column(path, table, detector) * 1e4
        values = values / numeric_column(path, table, magnification)
        source = f"{detector}·1e4/{magnification}"
    else:
        return None, None
    bad = np.flatnonzero(~(values > 0) | ~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise InvalidFieldError(
            f"{path}: {row_text(table, row)} — pixel size from {source} is "
            f"{values[row]:g} Å; expected > 0",
            path=path,
            row=row,
            field=source,
            value=float(values[row]),
        )
    return values, source


def parse_image_names(path: Path, table: Any) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rlnImageName`` (``NNNNNN@stack``, 1-based) into paths and indices.

    Raises
    ------
    MissingFieldError
        If the column is absent.
    InvalidFieldError
        For an entry without ``@``, a non-integer, ``0@`` or a negative number.
    """
    name = label("image_name")
    if name not in table.columns:
        raise MissingFieldError(
            f"{path}: missing column {name}; an indexed STAR file needs "
            "'NNNNNN@stack.mrcs' per particle (use paired mode for per-stack STARs)",
            path=path,
            field=name,
        )
    stored: list[str] = []
    numbers = np.empty(len(table), dtype=np.int64)
    for row, value in enumerate(table[name].astype(str)):
        number_text, at, stack = value.partition("@")
        number = (
            int(number_text) if re.fullmatch(r"\s*[+-]?\d+\s*", number_text) else None
        )
        if not at or not stack or number is None or number < 1:
            problem = "an image number below 1" if number is not None else "malformed"
            raise InvalidFieldError(
                f"{path}: {row_text(table, row)} — {name} is {problem}; expected "
                "'NNNNNN@stack.mrcs' with NNNNNN counting from 1",
                path=path,
                row=row,
                field=name,
                value=value,
            )
        stored.append(stack)
        numbers[row] = number - 1
    return np.array(stored, dtype=str), numbers


def star_table_metadata(
    path: Path,
    table: Any,
    stored: tuple[np.ndarray, np.ndarray],
    degrees: dict[str, bool] | None = None,
) -> StarTable:
    """Build :class:`StarTable` from a loaded table and the image locations."""
    columns, defaulted = _value_columns(path, table, degrees or {})
    pixel_size, source = pixel_size_column(path, table)
    stored_path, stored_index = stored
    metadata = ParticleMetadata(
        source_path=path,
        source_row=np.arange(len(table), dtype=np.int64),
        stored_path=stored_path,
        stored_index=stored_index,
        stack_index=stored_index.astype(np.int64),
        pixel_size_angstrom=pixel_size,
        field_labels={
            **FIELD_LABELS,
            "stack_index": "rlnImageName",
            "stored_path": "rlnImageName",
        },
        **columns,
    )
    return StarTable(metadata, defaulted, source)


def read_star_table(path: str | Path) -> StarTable:
    """Read an indexed RELION STAR file (one row per particle, ``rlnImageName``).

    Angles (``rlnDefocusAngle``, ``rlnPhaseShift``, ``rlnAngle*``) are converted
    from degrees to radians (float64). Missing ``rlnPhaseShift`` → 0,
    ``rlnAmplitudeContrast`` → 0.1 (with a :class:`ConversionWarning`),
    ``rlnCtfBfactor`` → 0, ``rlnCtfScalefactor`` → 1.

    Raises
    ------
    InputFileError
        If the file is missing or not a STAR file.
    MissingFieldError
        Listing every missing required column.
    InvalidFieldError, MetadataError
        Naming the file, the 0-based row with its ``rlnImageName`` and the field.
    """
    file = Path(path).expanduser()
    table = load_star_table(file)
    return star_table_metadata(file, table, parse_image_names(file, table))


def read_indexed_star(
    path: str | os.PathLike[str], *, project_dir: str | os.PathLike[str] | None = None
) -> ReadResult:
    """Read an indexed RELION STAR file (``rlnImageName`` per particle).

    Relative image paths are looked for in the current folder, then the RELION
    project folder (``project_dir``, else guessed from
    ``<project>/<JobType>/jobNNN/file.star``), then the STAR file's own folder.

    Raises
    ------
    ConversionError
        As :func:`read_star_table`.
    """
    file = Path(path).expanduser()
    table = read_star_table(file)
    project = (
        Path(project_dir).expanduser()
        if project_dir
        else infer_relion_project_dir(file)
    )
    return ReadResult(
        mode="star_indexed",
        metadata=table.metadata,
        metadata_files=(file,),
        search_dirs=relative_search_dirs(project, file),
        details={
            "project_dir": str(project) if project else None,
            "defaults": table.defaulted,
            "pixel_size_column": table.pixel_size_source,
        },
    )


def read_star_metadata(path: str | Path) -> ParticleMetadata:
    """Read an indexed RELION STAR file into :class:`ParticleMetadata`.

    See :func:`read_star_table`.

    Raises
    ------
    ConversionError
        As :func:`read_star_table`.
    """
    return read_star_table(path).metadata


def infer_relion_project_dir(star_path: Path) -> Path | None:
    """The RELION project folder of ``<project>/<JobType>/jobNNN/file.star``."""
    parent = star_path.resolve().parent
    return parent.parent.parent if _RELION_JOB.match(parent.name) else None


__all__ = [
    "RELION_LABELS",
    "StarTable",
    "infer_relion_project_dir",
    "load_star_table",
    "numeric_column",
    "parse_image_names",
    "pixel_size_column",
    "read_indexed_star",
    "read_star_metadata",
    "read_star_table",
    "row_text",
    "star_table_metadata",
]
