"""CTF-modulated synthetic particles: images whose power spectra show Thon rings.

:func:`make_projections` draws smooth blobs without a CTF. Here a molecule of many
sharp atoms is projected, an ice background is added, both are multiplied by the
contrast transfer function of each image's own defocus (RELION/CTFFIND conventions:
defocus angle from the column axis) and an envelope, and white detector noise goes
on top, so the data look like extracted particles and their stack-averaged power
spectrum shows Thon rings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing.cryosparc import ExampleProject, cs_table, write_cs
from cryolike_convert.testing.images import random_rotations, write_mrc_stack


def electron_wavelength_angstrom(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Å for an acceleration voltage in kV."""
    volts = voltage_kv * 1e3
    return float(12.2642598 / np.sqrt(volts * (1 + 0.97848e-6 * volts)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Optics:
    """Microscope constants shared by all images (CryoSPARC's ``ctf/*`` units)."""

    voltage_kv: float = 300.0
    spherical_aberration_mm: float = 2.7
    amplitude_contrast_fraction: float = 0.1
    bfactor_angstrom2: float = 60.0


def ctf_2d(
    box: int,
    pixel_size_angstrom: float,
    defocus_u_angstrom: float,
    defocus_v_angstrom: float,
    defocus_angle_rad: float,
    optics: Optics,
) -> np.ndarray:
    """The CTF on the ``np.fft.fftfreq`` grid of a ``box × box`` image.

    ``gamma = π λ Δf(θ) k² − π/2 Cs λ³ k⁴``, ``CTF = −(√(1−A²) sin gamma + A cos gamma)``
    with ``Δf(θ) = (U+V)/2 + (U−V)/2 cos 2(θ − angle)``, ``θ`` measured from the
    column axis; shape ``(box, box)``, float64 (no envelope).
    """
    frequencies = np.fft.fftfreq(box, d=pixel_size_angstrom)
    k_rows, k_cols = np.meshgrid(frequencies, frequencies, indexing="ij")
    k_squared = k_rows**2 + k_cols**2
    theta = np.arctan2(k_rows, k_cols)
    mean = (defocus_u_angstrom + defocus_v_angstrom) / 2
    half_difference = (defocus_u_angstrom - defocus_v_angstrom) / 2
    defocus = mean + half_difference * np.cos(2 * (theta - defocus_angle_rad))
    wavelength = electron_wavelength_angstrom(optics.voltage_kv)
    cs_angstrom = optics.spherical_aberration_mm * 1e7
    gamma = np.pi * wavelength * defocus * k_squared - (
        np.pi / 2 * cs_angstrom * wavelength**3 * k_squared**2
    )
    amplitude = optics.amplitude_contrast_fraction
    return np.asarray(
        -(np.sqrt(1 - amplitude**2) * np.sin(gamma) + amplitude * np.cos(gamma))
    )


def make_ctf_projections(
    defocus_u_angstrom: np.ndarray,
    defocus_v_angstrom: np.ndarray,
    defocus_angle_rad: np.ndarray,
    box: int,
    pixel_size_angstrom: float,
    optics: Optics = Optics(),
    seed: int = 0,
    n_atoms: int = 1500,
    snr: float = 0.5,
) -> np.ndarray:
    """CTF-modulated noisy projections, one per defocus triple, float32 ``(n, box, box)``.

    Each image is ``CTF · envelope · (particle + ice)`` plus white noise; the
    particle is a random molecule of ``n_atoms`` point atoms in a sphere of a
    third of the box, seen in a random orientation; the envelope is a B-factor
    and 1.5 Å Gaussian atoms. ``snr`` is the particle's variance before the CTF
    over that of ice plus noise (each half of the rest).
    """
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_atoms, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = box * pixel_size_angstrom / 3
    atoms = directions * radius * rng.uniform(0, 1, size=(n_atoms, 1)) ** (1 / 3)
    frequencies = np.fft.fftfreq(box, d=pixel_size_angstrom)
    k_squared = frequencies[:, None] ** 2 + frequencies[None, :] ** 2
    atom_sigma = 1.5  # Å
    envelope = np.exp(
        -(optics.bfactor_angstrom2 / 4 + 2 * np.pi**2 * atom_sigma**2) * k_squared
    )
    rotations = random_rotations(len(defocus_u_angstrom), rng)
    images = np.empty((len(rotations), box, box), dtype=np.float32)
    for index, rotation in enumerate(rotations):
        pixels = (atoms @ rotation.T)[:, :2] / pixel_size_angstrom + box // 2
        density = np.zeros((box, box))
        rows, cols = np.clip(np.round(pixels).astype(int), 0, box - 1).T
        np.add.at(density, (rows, cols), 1.0)
        density *= np.sqrt(snr) / np.std(density)
        ice = rng.normal(scale=np.sqrt(0.5), size=(box, box))
        ctf = ctf_2d(
            box,
            pixel_size_angstrom,
            float(defocus_u_angstrom[index]),
            float(defocus_v_angstrom[index]),
            float(defocus_angle_rad[index]),
            optics,
        )
        signal = np.fft.ifft2(np.fft.fft2(density + ice) * ctf * envelope).real
        noise = rng.normal(scale=np.sqrt(0.5), size=(box, box))
        images[index] = signal + noise
    return images


def make_ctf_cryosparc_project(
    root: Path,
    n_particles: int = 200,
    box: int = 64,
    pixel_size: float = 1.5,
    n_stacks: int = 2,
    defocus_range_angstrom: tuple[float, float] = (14000.0, 17000.0),
    seed: int = 0,
) -> ExampleProject:
    """Write an indexed CryoSPARC-like project of CTF-modulated particles.

    Like :func:`~cryolike_convert.testing.make_cryosparc_project`, but rows are in
    stack order, and every image carries the CTF its row describes (defocus drawn
    from ``defocus_range_angstrom``, up to 600 Å astigmatism).
    """
    rng = np.random.default_rng(seed)
    per_stack = np.array_split(np.arange(n_particles), n_stacks)
    paths = [
        f"J2/extract/micrograph_{number:03d}_particles.mrc"
        for number, members in enumerate(per_stack)
        for _ in members
    ]
    indices = np.concatenate([np.arange(len(members)) for members in per_stack])
    table = cs_table(n_particles, seed + 1, paths, indices, pixel_size)
    table["blob/shape"] = box
    defocus_v = rng.uniform(*defocus_range_angstrom, size=n_particles)
    table["ctf/df1_A"] = defocus_v + rng.uniform(0, 600, size=n_particles)
    table["ctf/df2_A"] = defocus_v
    images = make_ctf_projections(
        table["ctf/df1_A"],
        table["ctf/df2_A"],
        table["ctf/df_angle_rad"],
        box,
        pixel_size,
        seed=seed,
    )
    stacks = [
        write_mrc_stack(root / paths[members[0]], images[members], pixel_size)
        for members in per_stack
    ]
    cs_file = write_cs(root / "J3" / "J3_particles.cs", table)
    params = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel_size)
    params_path = params.save(root / "params.npz", overwrite=True)
    return ExampleProject(
        root, cs_file, stacks, params_path, n_particles, box, pixel_size
    )
