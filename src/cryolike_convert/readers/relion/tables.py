"""RELION STAR tables: the label table, reading the data blocks, the optics join."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import starfile

from cryolike_convert.errors import InputFileError, MetadataError, MissingFieldError
from cryolike_convert.readers.detect import describe_mismatch, sniff_file


@dataclass(frozen=True, slots=True)
class RelionLabel:
    """How one RELION label is read: target column, requirement, unit, default."""

    column: str
    required: bool = False
    degrees: bool = False
    default: float | None = None


#: RELION label → how it is read. The only place RELION labels are spelled out.
RELION_LABELS: dict[str, RelionLabel] = {
    "rlnImageName": RelionLabel("image_name"),
    "rlnOpticsGroup": RelionLabel("optics_group"),
    "rlnDefocusU": RelionLabel("defocus_u_angstrom", required=True),
    "rlnDefocusV": RelionLabel("defocus_v_angstrom", required=True),
    "rlnDefocusAngle": RelionLabel("defocus_angle_rad", required=True, degrees=True),
    "rlnPhaseShift": RelionLabel("phase_shift_rad", degrees=True, default=0.0),
    "rlnSphericalAberration": RelionLabel("spherical_aberration_mm", required=True),
    "rlnVoltage": RelionLabel("voltage_kv", required=True),
    "rlnAmplitudeContrast": RelionLabel("amplitude_contrast_fraction", default=0.1),
    "rlnAngleRot": RelionLabel("angle_rotation_rad", degrees=True),
    "rlnAngleTilt": RelionLabel("angle_tilt_rad", degrees=True),
    "rlnAnglePsi": RelionLabel("angle_psi_rad", degrees=True),
    "rlnCtfBfactor": RelionLabel("ctf_bfactor", default=0.0),
    "rlnCtfScalefactor": RelionLabel("ctf_scalefactor", default=1.0),
    "rlnImagePixelSize": RelionLabel("pixel_size_angstrom"),
    "rlnDetectorPixelSize": RelionLabel("detector_pixel_size_um"),
    "rlnMagnification": RelionLabel("magnification"),
}
#: ParticleMetadata column → RELION label, for messages.
FIELD_LABELS: dict[str, str] = {
    spec.column: label for label, spec in RELION_LABELS.items()
}


def label(column: str) -> str:
    """The RELION label of one of our column names (for messages)."""
    return FIELD_LABELS[column]


def load_star_table(path: Path) -> Any:
    """The particle table of a STAR file as a DataFrame, optics joined in.

    RELION 3.1+ files (``data_optics`` + ``data_particles``) are joined on
    ``rlnOpticsGroup``: every particle must find its group, and a column present
    in both blocks keeps the particle's value. A file with one data block (RELION
    3.0 and older, or paired mode) is used as it is.

    Raises
    ------
    InputFileError
        If the file cannot be read or holds no usable data block.
    MissingFieldError, MetadataError
        For a broken optics join (see :func:`join_optics`).
    """
    if path.is_dir() or sniff_file(path) in ("cs", "csg", "mrc"):
        raise InputFileError(
            describe_mismatch(path, "a RELION STAR file") or f"{path}: not a STAR file"
        )
    try:
        blocks = starfile.read(path, always_dict=True)
    except FileNotFoundError as err:
        raise InputFileError(f"{path}: file not found") from err
    except Exception as err:
        raise InputFileError(f"{path}: cannot be read as a STAR file ({err})") from err
    blocks = {name: _as_frame(block) for name, block in blocks.items()}
    if "particles" in blocks:
        particles = blocks["particles"]
        optics = blocks.get("optics")
        if optics is not None:
            particles = join_optics(path, particles, optics)
    elif len(blocks) == 1:
        particles = next(iter(blocks.values()))
    else:
        found = ", ".join(f"data_{name}" for name in blocks) or "no data block"
        raise InputFileError(
            f"{path}: found {found}; expected data_particles (with data_optics) or "
            "a single data block with one row per particle"
        )
    if len(particles) == 0:
        raise MetadataError(f"{path}: holds no particles (0 rows)", path=path)
    return particles.reset_index(drop=True)


def _as_frame(block: Any) -> Any:
    return pd.DataFrame([block]) if isinstance(block, dict) else block


def join_optics(path: Path, particles: Any, optics: Any) -> Any:
    """Add each particle's optics-group columns (the particle's own value wins).

    Raises
    ------
    MissingFieldError
        If either block lacks ``rlnOpticsGroup``.
    MetadataError
        If a group is listed twice in ``data_optics``, or a particle's group is
        not in it (naming the first such row and the count).
    """
    key = label("optics_group")
    for block, table in (("data_particles", particles), ("data_optics", optics)):
        if key not in table.columns:
            raise MissingFieldError(
                f"{path}: {block} has no {key} column, so particles cannot be "
                "matched to their optics group; expected a RELION 3.1 file",
                path=path,
                field=key,
            )
    groups = pd.Index(optics[key])
    if groups.has_duplicates:
        twice = groups[groups.duplicated()][0]
        raise MetadataError(
            f"{path}: data_optics lists {key} {twice} more than once",
            path=path,
            field=key,
            value=twice,
        )
    where = groups.get_indexer(particles[key])
    if (where < 0).any():
        row = int(np.flatnonzero(where < 0)[0])
        raise MetadataError(
            f"{path}: {row_text(particles, row)} — {key} "
            f"{particles[key].iloc[row]} is not in data_optics (known groups: "
            f"{', '.join(str(g) for g in groups[:10])}; {int((where < 0).sum())} "
            "row(s) affected). Add the group to data_optics or fix the rows.",
            path=path,
            row=row,
            field=key,
            value=particles[key].iloc[row],
        )
    joined = particles.copy()
    for column in optics.columns:
        if column not in joined.columns:
            joined[column] = optics[column].to_numpy()[where]
    return joined


def row_text(table: Any, row: int) -> str:
    """``data_particles row N (rlnImageName '…')`` for messages (row 0-based)."""
    name = label("image_name")
    if name in table.columns:
        return f"data_particles row {row} ({name} '{table[name].iloc[row]}')"
    return f"data_particles row {row}"


__all__ = [
    "FIELD_LABELS",
    "RELION_LABELS",
    "RelionLabel",
    "join_optics",
    "label",
    "load_star_table",
    "row_text",
]
