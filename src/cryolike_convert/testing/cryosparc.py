"""Synthetic CryoSPARC inputs: ``.cs`` files, indexed projects and job folders.

Used by the tests, the documentation and the bundled example. Everything is drawn
from a fixed seed, so the same call always writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing.images import make_projections, write_mrc_stack

CS_CTF_DTYPE: list[tuple[str, str]] = [
    ("ctf/type", "S9"),
    ("ctf/exp_group_id", "<u4"),
    ("ctf/accel_kv", "<f4"),
    ("ctf/cs_mm", "<f4"),
    ("ctf/amp_contrast", "<f4"),
    ("ctf/df1_A", "<f4"),
    ("ctf/df2_A", "<f4"),
    ("ctf/df_angle_rad", "<f4"),
    ("ctf/phase_shift_rad", "<f4"),
]


def cs_table(
    n_rows: int,
    seed: int = 0,
    paths: list[str] | None = None,
    indices: np.ndarray | None = None,
    pixel_size: float | None = 1.7,
    path_width: int = 64,
) -> np.ndarray:
    """A CryoSPARC-v4-shaped structured array with random CTF values.

    With ``paths`` the ``blob/*`` fields are included (indexed mode), otherwise the
    table looks like a job's passthrough file.
    """
    rng = np.random.default_rng(seed)
    dtype: list[tuple[str, str] | tuple[str, str, tuple[int, ...]]] = [("uid", "<u8")]
    if paths is not None:
        dtype += [
            ("blob/path", f"S{path_width}"),
            ("blob/idx", "<u4"),
            ("blob/shape", "<u4", (2,)),
        ]
        if pixel_size is not None:
            dtype += [("blob/psize_A", "<f4")]
        dtype += [("blob/sign", "<f4")]
    dtype += CS_CTF_DTYPE
    table = np.zeros(n_rows, dtype=dtype)
    table["uid"] = rng.integers(1, 2**63, size=n_rows, dtype=np.uint64)
    if paths is not None:
        table["blob/path"] = [p.encode() for p in paths]
        table["blob/idx"] = indices if indices is not None else np.arange(n_rows)
        if pixel_size is not None:
            table["blob/psize_A"] = pixel_size
        table["blob/sign"] = -1.0
    table["ctf/type"] = b"spline"
    table["ctf/accel_kv"] = 300.0
    table["ctf/cs_mm"] = 2.7
    table["ctf/amp_contrast"] = 0.1
    defocus = rng.uniform(8000, 25000, size=n_rows)
    table["ctf/df1_A"] = defocus + rng.uniform(0, 500, size=n_rows)
    table["ctf/df2_A"] = defocus
    table["ctf/df_angle_rad"] = rng.uniform(-np.pi / 2, np.pi / 2, size=n_rows)
    table["ctf/phase_shift_rad"] = 0.0
    return table


def write_cs(path: Path, table: np.ndarray) -> Path:
    """Write a ``.cs`` file as CryoSPARC does: ``np.save`` through a handle (no suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.save(handle, table)
    return path


@dataclass(frozen=True, slots=True)
class ExampleProject:
    """Paths of a generated CryoSPARC-like project."""

    root: Path
    cs_file: Path
    stacks: list[Path]
    params: Path
    n_particles: int
    box: int
    pixel_size: float


def make_cryosparc_project(
    root: Path,
    n_particles: int = 48,
    box: int = 32,
    pixel_size: float = 1.7,
    n_stacks: int = 3,
    seed: int = 0,
    job: int = 5,
) -> ExampleProject:
    """Write a CryoSPARC-like project with an indexed ``.cs`` file.

    ``J3/extract/stack_*.mrc`` and a shuffled
    ``J<job>/J<job>_particles_selected.cs`` whose ``blob/path`` is project-relative,
    plus ``params.npz`` for the box.
    """
    rng = np.random.default_rng(seed)
    images = make_projections(n_particles, box, seed=seed)
    per_stack = np.array_split(np.arange(n_particles), n_stacks)
    stacks, paths, indices = [], [], []
    for number, members in enumerate(per_stack):
        relative = f"J3/extract/stack_{chr(ord('a') + number)}.mrc"
        stacks.append(write_mrc_stack(root / relative, images[members], pixel_size))
        paths += [relative] * len(members)
        indices += list(range(len(members)))
    order = rng.permutation(n_particles)
    table = cs_table(
        n_particles,
        seed=seed + 1,
        paths=[paths[i] for i in order],
        indices=np.array(indices)[order],
        pixel_size=pixel_size,
    )
    table["blob/shape"] = box
    cs_file = write_cs(root / f"J{job}" / f"J{job}_particles_selected.cs", table)
    params = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel_size)
    params_path = params.save(root / "params.npz", overwrite=True)
    return ExampleProject(
        root, cs_file, stacks, params_path, n_particles, box, pixel_size
    )


@dataclass(frozen=True, slots=True)
class ExampleJob:
    """Paths of a generated CryoSPARC job folder."""

    project: Path
    job_number: int
    job_dir: Path
    params: Path
    images: np.ndarray


def make_cryosparc_job(
    project: Path,
    job_number: int = 4,
    counts: tuple[int, ...] = (4, 4, 4),
    folders: tuple[str, ...] = ("restack",),
    missing: tuple[int, ...] = (),
    n_rows: int | None = None,
    box: int = 32,
    pixel_size: float = 1.7,
    ctf_in_passthrough: bool = True,
    seed: int = 0,
) -> ExampleJob:
    """Write a job folder ``J<n>``.

    It holds ``J<n>_passthrough_particles.cs`` and stacks
    ``batch_XXXXXX_restacked.mrc`` / ``batch_XXXXXX_downsample.mrc``.

    ``counts`` gives the images per stack file; the numbers in ``missing`` are not
    written (a gap). The ``.cs`` has ``n_rows`` rows (default: one per image). With
    ``ctf_in_passthrough=False`` the CTF fields live in ``J<n>_particles.cs``.
    """
    job_dir = project / f"J{job_number}"
    images = make_projections(sum(counts), box, seed=seed)
    words = {"restack": "restacked", "downsample": "downsample"}
    for folder in folders:
        start = 0
        for number, count in enumerate(counts):
            if number not in missing:
                name = f"batch_{number:06d}_{words[folder]}.mrc"
                write_mrc_stack(
                    job_dir / folder / name, images[start : start + count], pixel_size
                )
            start += count
    rows = sum(counts) if n_rows is None else n_rows
    table = cs_table(rows, seed=seed + 1, paths=None)
    if ctf_in_passthrough:
        write_cs(job_dir / f"J{job_number}_passthrough_particles.cs", table)
    else:
        write_cs(
            job_dir / f"J{job_number}_passthrough_particles.cs", table[["uid"]].copy()
        )
        shuffled = table[np.random.default_rng(seed).permutation(rows)]
        write_cs(job_dir / f"J{job_number}_particles.cs", shuffled)
    params = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel_size)
    params_path = params.save(project / "params.npz", overwrite=True)
    return ExampleJob(project, job_number, job_dir, params_path, images)
