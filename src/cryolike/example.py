"""The bundled example: generate a small CryoSPARC-like project and convert it.

Run ``python -m cryolike.example [OUTPUT_FOLDER]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from .compat import convert_particle_stacks_from_indexed_cryosparc_file
from .testing import make_cryosparc_project


def main(argv: list[str] | None = None) -> int:
    """Generate the example project under the given folder and convert it."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "example_output").resolve()
    project = make_cryosparc_project(
        root / "project", n_particles=60, box=64, pixel_size=1.7
    )
    report = convert_particle_stacks_from_indexed_cryosparc_file(
        params_input=project.params,
        file_cs=project.cs_file,
        folder_output=root / "stacks",
        batch_size=25,
        flag_plots=True,
        overwrite=True,
    )
    first = torch.load(
        report.output_dir / report.stacks[0]["files"]["fourier"], weights_only=True
    )
    lens = np.load(
        report.output_dir / report.stacks[0]["files"]["npz"], allow_pickle=False
    )
    lines = [
        f"example project: {project.root} ({project.n_particles} particles, "
        f"{len(project.stacks)} MRC stacks, {project.cs_file.name})",
        f"converted {report.n_converted} images into {report.n_stacks} stacks "
        f"in {report.elapsed_seconds:.1f} s: {report.output_dir}",
        f"  fft/particles_fourier_stack_000000.pt: {tuple(first.shape)} {first.dtype} "
        "(images × shells × angles, unit weighted L2 norm)",
        f"  fft/particles_fourier_stack_000000.npz: defocusU {lens['defocusU'][:3]} Å …, "
        f"voltage {float(lens['voltage']):g} kV",
        "  phys/: centred physical images; plots/: montages and power spectra; "
        "manifest.json: provenance and checksums",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
