"""A folder written by cryolike passes CryoLike's reading rules (reference §9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import ExampleProject

IMAGE_KEYS = (
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
LENS_KEYS = (
    "defocusU",
    "defocusV",
    "defocusAngle",
    "phaseShift",
    "sphericalAberration",
    "voltage",
    "amplitudeContrast",
    "angleRotation",
    "angleTilt",
    "anglePsi",
    "ref_pixel_size",
    "files",
    "idxs",
    "ctfBfactor",
    "ctfScalefactor",
)


def load_like_cryolike(folder: Path, n_stacks: int, template: Path) -> int:
    """Mimic LikelihoodFileManager: every stack 0..n-1, 26 keys, exact grid, lens per image."""
    params = np.load(template, allow_pickle=True)
    images = 0
    for number in range(n_stacks):
        tensor = torch.load(
            folder / f"fft/particles_fourier_stack_{number:06d}.pt", weights_only=True
        )
        assert isinstance(tensor, torch.Tensor)
        stack = np.load(
            folder / f"fft/particles_fourier_stack_{number:06d}.npz", allow_pickle=True
        )
        assert set(IMAGE_KEYS + LENS_KEYS) <= set(stack.files)
        for key in ("n_pixels", "pixel_size"):
            assert np.array_equal(stack[key], params[key])
        for key in ("radius_max", "dist_radii", "n_inplanes"):
            assert stack[key].item() == params[key].item()
        n_shells = 1 + int(
            np.ceil(stack["radius_max"].item() / stack["dist_radii"].item())
        )
        assert tuple(tensor.shape) == (
            len(tensor),
            n_shells,
            stack["n_inplanes"].item(),
        )
        for key in ("defocusU", "defocusV", "defocusAngle", "phaseShift"):
            assert len(stack[key]) == len(tensor)
        assert stack["n_images"].item() == len(tensor)
        images += len(tensor)
    assert not (folder / f"fft/particles_fourier_stack_{n_stacks:06d}.pt").exists()
    return images


def test_output_is_readable_by_cryolike_rules(
    project: ExampleProject, tmp_path: Path
) -> None:
    report = convert(
        project.params,
        project.cs_file,
        folder_output=tmp_path / "out",
        batch_size=20,
        flag_plots=False,
    )
    assert load_like_cryolike(tmp_path / "out", report.n_stacks, project.params) == 48


def test_downsampled_output_carries_the_params_grid(
    project: ExampleProject, tmp_path: Path
) -> None:
    half = ImageDescriptor.from_individual_values(16, 3.4, precision="double")
    params = half.save(tmp_path / "half.npz")
    report = convert(
        params,
        project.cs_file,
        folder_output=tmp_path / "out",
        batch_size=30,
        downsample_factor=2,
        downsample_type="max",
        flag_plots=False,
    )
    assert load_like_cryolike(tmp_path / "out", report.n_stacks, params) == 48
    tensor = torch.load(
        tmp_path / "out/fft/particles_fourier_stack_000000.pt", weights_only=True
    )
    assert tensor.dtype == torch.complex128
    phys = torch.load(
        tmp_path / "out/phys/particles_phys_stack_000000.pt", weights_only=True
    )
    assert phys.dtype == torch.float32
    assert tuple(phys.shape) == (30, 16, 16)
