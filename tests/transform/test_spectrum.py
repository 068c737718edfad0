"""The one power spectrum: |F|² averages and the shell → spatial frequency mapping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing.ctf import (
    Optics,
    electron_wavelength_angstrom,
    make_ctf_projections,
)
from cryolike_convert.transform.engine import images_to_fourier_polar
from cryolike_convert.transform.preprocess import center_images
from cryolike_convert.transform.spectrum import (
    PowerSpectrum,
    shell_frequencies_per_angstrom,
)


def test_mean_and_radial_average_match_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    blocks = [
        (rng.normal(size=(n, 5, 8)) + 1j * rng.normal(size=(n, 5, 8))).astype(
            np.complex64
        )
        for n in (3, 0, 4)
    ]
    power = PowerSpectrum()
    for block in blocks:
        power.add(block)
    everything = np.concatenate(blocks).astype(np.complex128)
    expected = (everything.real**2 + everything.imag**2).mean(axis=0)
    assert power.n_images == 7
    np.testing.assert_allclose(power.mean(), expected, rtol=1e-6)
    np.testing.assert_allclose(power.radial(), expected.mean(axis=1), rtol=1e-6)


def test_an_empty_spectrum_has_no_mean() -> None:
    with pytest.raises(ValueError, match="no image"):
        PowerSpectrum().mean()


def test_shell_frequencies_are_inverse_resolutions_up_to_nyquist() -> None:
    descriptor = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.5)
    grid = descriptor.polar_grid
    frequencies = shell_frequencies_per_angstrom(grid, descriptor.box_size_angstrom())
    np.testing.assert_allclose(
        frequencies, 1 / grid.resolution_angstrom(descriptor.box_size_angstrom())
    )
    # radius_max = n/4 is Nyquist; the outermost Gauss-Jacobi node lies just inside.
    assert frequencies.max() < 1 / (2 * 1.5) < frequencies.max() * 1.01


def _first_ctf_zero(defocus_angstrom: float, optics: Optics) -> float:
    """Spatial frequency (1/Å) of the first zero of the CTF, solved independently."""
    wavelength = electron_wavelength_angstrom(optics.voltage_kv)
    cs = optics.spherical_aberration_mm * 1e7
    # CTF ∝ √(1−A²) sin(gamma) + A cos(gamma) is first zero at gamma = π − arcsin A.
    target = np.pi - np.arcsin(optics.amplitude_contrast_fraction)

    def gamma(k: float) -> float:
        return float(
            np.pi * wavelength * defocus_angstrom * k**2
            - np.pi / 2 * cs * wavelength**3 * k**4
            - target
        )

    return float(brentq(gamma, 1e-4, 0.3))


def test_polar_spectrum_puts_the_first_thon_ring_minimum_at_the_ctf_zero() -> None:
    """Images with one defocus: the radial spectrum dips where the CTF is zero."""
    box, pixel, defocus = 96, 1.5, 12000.0
    optics = Optics()
    n = 60
    images = make_ctf_projections(
        np.full(n, defocus), np.full(n, defocus), np.zeros(n), box, pixel, seed=4
    )
    descriptor = ImageDescriptor.from_individual_values(n_pixels=box, pixel_size=pixel)
    grid = descriptor.polar_grid
    power = PowerSpectrum()
    power.add(images_to_fourier_polar(center_images(images), grid))
    frequencies = shell_frequencies_per_angstrom(grid, descriptor.box_size_angstrom())
    zero = _first_ctf_zero(defocus, optics)
    window = (frequencies > zero * 0.7) & (frequencies < zero * 1.3)
    found = frequencies[window][np.argmin(power.radial()[window])]
    spacing = float(np.diff(frequencies).max())
    assert abs(found - zero) <= spacing
