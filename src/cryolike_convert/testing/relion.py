"""Synthetic RELION inputs: STAR projects (3.0 and 3.1 styles) and paired STAR/MRC files.

Re-exported by :mod:`cryolike_convert.testing`; fixed seeds, so the same call writes
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import starfile

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing.images import make_projections, write_mrc_stack


def star_particle_rows(n_rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random RELION per-particle CTF and pose columns (angles in degrees)."""
    rng = np.random.default_rng(seed)
    defocus = rng.uniform(8000, 25000, size=n_rows)
    return {
        "rlnDefocusU": defocus + rng.uniform(0, 500, size=n_rows),
        "rlnDefocusV": defocus,
        "rlnDefocusAngle": rng.uniform(-90, 90, size=n_rows),
        "rlnPhaseShift": rng.uniform(0, 40, size=n_rows),
        "rlnCtfBfactor": np.zeros(n_rows),
        "rlnCtfScalefactor": np.ones(n_rows),
        "rlnAngleRot": rng.uniform(-180, 180, size=n_rows),
        "rlnAngleTilt": rng.uniform(0, 180, size=n_rows),
        "rlnAnglePsi": rng.uniform(-180, 180, size=n_rows),
    }


def write_star(path: Path, blocks: dict[str, dict[str, object]]) -> Path:
    """Write STAR data blocks (``{block name: {label: column}}``) with ``starfile``."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = {name: pd.DataFrame(columns) for name, columns in blocks.items()}
    starfile.write(frames, path, float_format="%.10g")
    return path


@dataclass(frozen=True, slots=True)
class RelionProject:
    """Paths of a generated RELION-like project."""

    root: Path
    star_file: Path
    stacks: list[Path]
    params: Path
    images: np.ndarray
    image_names: list[str]
    n_particles: int
    box: int
    pixel_size: float


def make_relion_project(
    root: Path,
    n_particles: int = 12,
    box: int = 32,
    pixel_size: float = 1.7,
    n_stacks: int = 2,
    seed: int = 0,
    style: str = "3.1",
    header_pixel_size: float | None = None,
) -> RelionProject:
    """Write a RELION-like project.

    ``Extract/job005/stack_*.mrcs`` and a shuffled ``Select/job010/particles.star``
    with project-relative ``rlnImageName``.

    ``style='3.1'`` writes ``data_optics`` + ``data_particles`` with
    ``rlnImagePixelSize``; ``style='3.0'`` writes one block with the optics values
    per row and ``rlnDetectorPixelSize``/``rlnMagnification``. ``images`` holds the
    source image of each STAR row, in row order.
    """
    rng = np.random.default_rng(seed)
    images = make_projections(n_particles, box, seed=seed)
    header = pixel_size if header_pixel_size is None else header_pixel_size
    stacks, names = [], []
    for number, members in enumerate(np.array_split(np.arange(n_particles), n_stacks)):
        relative = f"Extract/job005/stack_{chr(ord('a') + number)}.mrcs"
        stacks.append(write_mrc_stack(root / relative, images[members], header))
        names += [f"{index + 1:06d}@{relative}" for index in range(len(members))]
    order = rng.permutation(n_particles)
    particles: dict[str, object] = {"rlnImageName": [names[i] for i in order]}
    particles.update(star_particle_rows(n_particles, seed + 1))
    optics: dict[str, list[float]] = {
        "rlnVoltage": [300.0],
        "rlnSphericalAberration": [2.7],
        "rlnAmplitudeContrast": [0.1],
    }
    if style == "3.1":
        particles["rlnOpticsGroup"] = np.ones(n_particles, dtype=int)
        optics = {"rlnOpticsGroup": [1], **optics, "rlnImagePixelSize": [pixel_size]}
        blocks: dict[str, dict[str, object]] = {
            "optics": dict(optics),
            "particles": particles,
        }
    else:
        detector_um = 5.0
        optics["rlnDetectorPixelSize"] = [detector_um]
        optics["rlnMagnification"] = [detector_um * 1e4 / pixel_size]
        particles.update({k: np.repeat(v, n_particles) for k, v in optics.items()})
        blocks = {"": particles}
    star = write_star(root / "Select" / "job010" / "particles.star", blocks)
    params = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel_size)
    params_path = params.save(root / "params.npz", overwrite=True)
    return RelionProject(
        root,
        star,
        stacks,
        params_path,
        images[order],
        [names[i] for i in order],
        n_particles,
        box,
        pixel_size,
    )


def write_paired_star_inputs(
    root: Path,
    sizes: tuple[int, ...] = (7, 6),
    box: int = 32,
    pixel_size: float = 1.7,
    seed: int = 0,
) -> tuple[list[Path], list[Path], Path]:
    """One ``.mrcs`` and one single-block STAR per micrograph, plus ``params.npz``.

    Returns ``(mrc_files, star_files, params)``; row ``i`` of each STAR describes
    image ``i`` of its stack. The MRC headers carry ``pixel_size``.
    """
    images = make_projections(sum(sizes), box, seed=seed)
    mrc_files, star_files = [], []
    start = 0
    for number, size in enumerate(sizes):
        stem = root / f"mic_{number:04d}_particles"
        mrc_files.append(
            write_mrc_stack(
                stem.with_suffix(".mrcs"), images[start : start + size], pixel_size
            )
        )
        rows: dict[str, object] = dict(star_particle_rows(size, seed + 1 + number))
        rows.update(
            rlnSphericalAberration=np.full(size, 2.7),
            rlnVoltage=np.full(size, 300.0),
            rlnAmplitudeContrast=np.full(size, 0.1),
        )
        star_files.append(write_star(stem.with_suffix(".star"), {"": rows}))
        start += size
    params = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel_size)
    return mrc_files, star_files, params.save(root / "params.npz", overwrite=True)


def cs_table_to_star(table: np.ndarray, path: Path, pixel_size: float) -> Path:
    """Write the particles of an indexed ``.cs`` table as a RELION 3.1 STAR file.

    ``blob/path``/``blob/idx`` become ``rlnImageName`` (1-based); the CTF values
    are written in RELION units (degrees).
    """
    names = [
        f"{int(idx) + 1:06d}@{bytes(blob).decode().lstrip('>')}"
        for blob, idx in zip(table["blob/path"], table["blob/idx"], strict=True)
    ]
    optics = {
        "rlnOpticsGroup": [1],
        "rlnVoltage": [float(table["ctf/accel_kv"][0])],
        "rlnSphericalAberration": [float(table["ctf/cs_mm"][0])],
        "rlnAmplitudeContrast": [float(table["ctf/amp_contrast"][0])],
        "rlnImagePixelSize": [pixel_size],
    }
    particles = {
        "rlnImageName": names,
        "rlnOpticsGroup": np.ones(len(table), dtype=int),
        "rlnDefocusU": table["ctf/df1_A"].astype(np.float64),
        "rlnDefocusV": table["ctf/df2_A"].astype(np.float64),
        "rlnDefocusAngle": np.degrees(table["ctf/df_angle_rad"].astype(np.float64)),
        "rlnPhaseShift": np.degrees(table["ctf/phase_shift_rad"].astype(np.float64)),
    }
    return write_star(path, {"optics": optics, "particles": particles})
