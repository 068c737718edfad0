"""The bundled example data (fixed seeds) and the demo that converts it.

``python -m cryolike_convert.example [FOLDER]`` (or ``cryolike-convert example
[FOLDER]``) writes the example data under ``FOLDER/data`` and converts the indexed
CryoSPARC file into ``FOLDER/stacks``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import (
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_paired_star_inputs,
)


@dataclass(frozen=True, slots=True)
class ExampleData:
    """Where the example data live (all under ``root``)."""

    root: Path
    params: Path
    params_half: Path
    cryosparc_project: Path
    cs_file: Path
    extract_dir: Path
    job_number: int
    star_file: Path
    paired_mrc: list[Path]
    paired_star: list[Path]


def make_example_data(root: str | Path) -> ExampleData:
    """Write the example data (fixed seeds) under ``root``.

    A CryoSPARC project with an indexed ``.cs`` file (60 particles of 64 px at
    1.7 Å in ``J3/extract``) and a job folder ``J4`` with
    both ``restack/`` and ``downsample/`` (12 images), a RELION project, paired
    STAR/MRC files, ``params.npz`` (64 px, 1.7 Å) and ``params_half.npz`` (32 px,
    3.4 Å, for 2× downsampling).
    """
    base = Path(root).expanduser().resolve()
    project = make_cryosparc_project(
        base / "cryosparc", n_particles=60, box=64, pixel_size=1.7
    )
    make_cryosparc_job(
        base / "cryosparc", job_number=4, box=64, folders=("restack", "downsample")
    )
    relion = make_relion_project(base / "relion", n_particles=24, box=64, n_stacks=2)
    mrcs, stars, _ = write_paired_star_inputs(base / "paired", sizes=(7, 6), box=64)
    params = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.7)
    half = ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=3.4)
    return ExampleData(
        root=base,
        params=params.save(base / "params.npz", overwrite=True),
        params_half=half.save(base / "params_half.npz", overwrite=True),
        cryosparc_project=project.root,
        cs_file=project.cs_file,
        extract_dir=project.root / "J3" / "extract",
        job_number=4,
        star_file=relion.star_file,
        paired_mrc=mrcs,
        paired_star=stars,
    )


def main(argv: list[str] | None = None) -> int:
    """Write the example data under the given folder and convert the ``.cs`` file."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "example_output").resolve()
    data = make_example_data(root / "data")
    report = convert_particle_stacks_from_indexed_cryosparc_file(
        params_input=data.params,
        file_cs=data.cs_file,
        folder_output=root / "stacks",
        batch_size=25,
        flag_plots=True,
        overwrite=True,
    )
    first = report.stacks[0]["files"]
    fourier = torch.load(report.output_dir / first["fourier"], weights_only=True)
    with np.load(report.output_dir / first["npz"], allow_pickle=False) as lens:
        defocus = lens["defocusU"][:3]
        voltage = float(lens["voltage"])
    lines = [
        f"example data: {data.root} (CryoSPARC project, job J4, RELION project, "
        "paired STAR files, params.npz)",
        f"converted {report.n_converted} images of {data.cs_file.name} into "
        f"{report.n_stacks} stacks in {report.elapsed_seconds:.1f} s: "
        f"{report.output_dir}",
        f"  fft/particles_fourier_stack_000000.pt: {tuple(fourier.shape)} "
        f"{fourier.dtype} (images × shells × angles, unit weighted L2 norm)",
        f"  fft/particles_fourier_stack_000000.npz: defocusU {defocus} Å …, "
        f"voltage {voltage:g} kV",
        "  phys/: centred physical images; plots/: montages and power spectra; "
        "manifest.json: provenance and checksums",
        f"next: cryolike-convert inspect {report.output_dir}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
