"""CryoLike's tutorial and examples run with ``cryolike`` replaced by ``cryolike_convert``.

The calls below have the shapes of CryoLike's examples (``example/*.py``) and
tutorials (``read_cryosparc_file.rst``, ``read_star_file.rst``): the same function
names (including the tutorials' ``..._indexed_cryosparc`` and
``..._indexed_star_files``), keyword names and ``ImageDescriptor.print()``. They are
run as plain scripts, in a fresh interpreter, from the data's folder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cryolike_convert.testing import (
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_paired_star_inputs,
)

PARAMS_SCRIPT = """
from numpy import pi
from cryolike_convert import ImageDescriptor

image_parameters = ImageDescriptor.from_individual_values(
    n_pixels=32,
    pixel_size=1.7,
    resolution_factor=1.0,
    precision="single",
    viewing_distance=8.0 / (4.0 * pi),
    n_inplanes=64,
    use_protein_residue_model=True,
    atom_shape="hard-sphere",
)
image_parameters.print()
image_parameters.save("my_params.npz")
"""


def _run_script(folder: Path, script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _stacks(folder: Path) -> list[Path]:
    return sorted((folder / "fft").glob("particles_fourier_stack_*.pt"))


def test_params_example_prints_and_saves(tmp_path: Path) -> None:
    printed = _run_script(tmp_path, PARAMS_SCRIPT)
    assert "n_inplanes: 64" in printed
    assert "pixel_size_angstrom: [1.7, 1.7]" in printed
    assert (tmp_path / "my_params.npz").is_file()


@pytest.mark.parametrize(
    ("call", "n_stacks"),
    [
        ("file_cs='J5/J5_particles_selected.cs', folder_output='OUTDIR'", 1),
        (
            "file_cs='J5/J5_particles_selected.cs', "
            "folder_cryosparc='J3/extract', folder_output='OUTDIR'",
            1,
        ),
        ("file_cs='J5/J5_particles_selected.cs', batch_size=3", 4),
    ],
)
def test_cryosparc_tutorial(tmp_path: Path, call: str, n_stacks: int) -> None:
    project = make_cryosparc_project(tmp_path, n_particles=12, n_stacks=2)
    _run_script(
        project.root,
        PARAMS_SCRIPT
        + "from cryolike_convert import convert_particle_stacks_from_indexed_cryosparc\n"
        "convert_particle_stacks_from_indexed_cryosparc("
        f"params_input='my_params.npz', {call})\n",
    )
    out = project.root / ("OUTDIR" if "OUTDIR" in call else ".")
    assert len(_stacks(out)) == n_stacks


@pytest.mark.parametrize(
    ("extra", "n_stacks"),
    [("", 1), ("batch_size=4, n_stacks_max=2,", 2)],
)
def test_job_directory_tutorial(tmp_path: Path, extra: str, n_stacks: int) -> None:
    job = make_cryosparc_job(tmp_path / "cryosparc", job_number=4)
    _run_script(
        tmp_path,
        PARAMS_SCRIPT + "from cryolike_convert import "
        "convert_particle_stacks_from_cryosparc_job_directory\n"
        "convert_particle_stacks_from_cryosparc_job_directory("
        "params_input='my_params.npz', folder_cryosparc='cryosparc', "
        f"job_number=4, folder_output='OUTDIR', {extra})\n",
    )
    assert job.job_dir.is_dir()
    assert len(_stacks(tmp_path / "OUTDIR")) == n_stacks


def test_star_tutorials(tmp_path: Path) -> None:
    project = make_relion_project(tmp_path / "relion", n_particles=5)
    _run_script(
        project.root,
        PARAMS_SCRIPT
        + "from cryolike_convert.file_conversions.particle_stacks_wrappers import "
        "convert_particle_stacks_from_indexed_star_files\n"
        "convert_particle_stacks_from_indexed_star_files("
        "params_input='my_params.npz', "
        f"star_file='{project.star_file.relative_to(project.root)}', "
        "folder_output='OUTDIR', batch_size=3)\n",
    )
    assert len(_stacks(project.root / "OUTDIR")) == 2
    mrcs, stars, _ = write_paired_star_inputs(tmp_path / "paired", sizes=(3, 2))
    _run_script(
        tmp_path / "paired",
        PARAMS_SCRIPT + "from cryolike_convert import "
        "convert_particle_stacks_from_paired_star_and_mrc_files\n"
        "convert_particle_stacks_from_paired_star_and_mrc_files("
        "params_input='my_params.npz', folder_output='OUTDIR', "
        f"particle_file_list={[str(p) for p in mrcs]!r}, "
        f"star_file_list={[str(p) for p in stars]!r}, pixel_size=1.7, "
        "defocus_angle_is_degree=True, phase_shift_is_degree=True, "
        "skip_exist=False, flag_plots=True)\n",
    )
    assert len(_stacks(tmp_path / "paired" / "OUTDIR")) == 2
