"""The image transform: closed forms, symmetries, a direct DFT, CryoLike's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.transform.engine import images_to_fourier_polar, polar_frequencies
from cryolike_convert.transform.polar_grid import PolarGrid
from cryolike_convert.transform.preprocess import (
    center_images,
    find_invalid_images,
    normalize_fourier,
)

TOLERANCE = {"single": 1e-5, "double": 1e-10}


def gaussian_image(
    n: int, centres: list[tuple[float, float]], sigma: float
) -> np.ndarray:
    axis = np.arange(n) - n // 2
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    image = np.zeros((n, n))
    for row, col in centres:
        image += np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))
    return image


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def direct_dft(images: np.ndarray, grid: PolarGrid) -> np.ndarray:
    n_x, n_y = images.shape[1:]
    k1, k2 = polar_frequencies(grid, (n_x, n_y))
    a = np.arange(n_x) - n_x // 2
    b = np.arange(n_y) - n_y // 2
    phase_a = np.exp(-1j * np.outer(k1, a))
    phase_b = np.exp(-1j * np.outer(k2, b))
    values = np.einsum("pa,mab,pb->mp", phase_a, images.astype(np.float64), phase_b)
    scale = 2.0 / np.sqrt(n_x * n_y) * 2 * np.pi
    exact: np.ndarray = values * scale
    return exact.reshape(len(images), grid.n_shells, grid.n_inplanes)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_centred_gaussian_matches_closed_form(precision: str) -> None:
    n, sigma = 64, 3.0
    grid = PolarGrid(radius_max=n / 4, dist_radii=0.25, n_inplanes=2 * n)
    image = gaussian_image(n, [(0.0, 0.0)], sigma)[None]
    dtype = np.float32 if precision == "single" else np.float64
    fourier = images_to_fourier_polar(image.astype(dtype), grid, precision)  # type: ignore[arg-type]
    k1, k2 = polar_frequencies(grid, (n, n))
    scale = 4 * np.pi / n
    exact = scale * 2 * np.pi * sigma**2 * np.exp(-(sigma**2) * (k1**2 + k2**2) / 2)
    assert relative_error(fourier.reshape(-1), exact) < TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
def test_rotation_by_one_angular_step_is_a_cyclic_shift(precision: str) -> None:
    n = 48
    grid = PolarGrid(radius_max=n / 4, dist_radii=0.25, n_inplanes=96)
    centres = [(5.0, -3.0), (-6.0, 4.5), (1.0, 7.0)]
    step = 2 * np.pi / grid.n_inplanes
    rotation = np.array([[np.cos(step), -np.sin(step)], [np.sin(step), np.cos(step)]])
    rotated = [tuple(rotation @ np.array(c)) for c in centres]
    dtype = np.float32 if precision == "single" else np.float64
    images = np.stack(
        [gaussian_image(n, centres, 2.5), gaussian_image(n, rotated, 2.5)]
    )
    fourier = images_to_fourier_polar(images.astype(dtype), grid, precision)  # type: ignore[arg-type]
    shifted = np.roll(fourier[0], 1, axis=-1)
    assert relative_error(fourier[1], shifted) < TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize(
    ("n_images", "n_inplanes"), [(1, 32), (3, 32), (8, 32), (5, 33)]
)
def test_matches_direct_dft(precision: str, n_images: int, n_inplanes: int) -> None:
    # Odd image counts exercise the pair packing's padding; an odd angle count the
    # unpacked path.
    rng = np.random.default_rng(7)
    images = rng.normal(size=(n_images, 16, 16)).astype(np.float32)
    grid = PolarGrid(radius_max=4.0, dist_radii=0.25, n_inplanes=n_inplanes)
    source = images if precision == "single" else images.astype(np.float64)
    fourier = images_to_fourier_polar(source, grid, precision, chunk_pairs=2)  # type: ignore[arg-type]
    expected = direct_dft(images, grid)
    for ours, exact in zip(fourier, expected, strict=False):
        assert relative_error(ours, exact) < TOLERANCE[precision]


def test_transform_is_linear() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 1, 24, 24))
    grid = PolarGrid(radius_max=6.0, dist_radii=0.25, n_inplanes=48)
    fa, fb, fab = (
        images_to_fourier_polar(x, grid, "double") for x in (a, b, 2 * a - 3 * b)
    )
    assert relative_error(fab, 2 * fa - 3 * fb) < 1e-10


def reference_images() -> np.ndarray:
    i, j = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    img1 = np.exp(-((i - 19) ** 2 + (j - 14) ** 2) / 8) + 0.001 * (32 * i + j) / 1024
    img2 = np.cos(2 * np.pi * 3 * i / 32) * np.sin(
        2 * np.pi * 5 * j / 32
    ) + 0.5 * np.exp(-((i - 10) ** 2 + (j - 22) ** 2) / 18)
    return np.stack([img1, img2]).astype(np.float32)


@pytest.mark.parametrize(
    ("precision", "values", "sums"),
    [
        (
            "single",
            [
                0.00163485692 - 0.0163179208j,
                0.385206074 - 0.105904818j,
                -8.40090506e-5 - 8.4743253e-4j,
                0.00546315825 + 0.00259496132j,
                -3.9490671e-5 - 3.03719553e-5j,
            ],
            [86.362076, 3.320225],
        ),
        (
            "double",
            [
                0.00163506186 - 0.0163179594j,
                0.385206061 - 0.105904803j,
                -8.40309981e-5 - 8.47435649e-4j,
                0.00546317417 + 0.00259498053j,
                -3.94800534e-5 - 3.03749671e-5j,
            ],
            [86.36210461, 3.32023117],
        ),
    ],
)
def test_reference_numbers(
    precision: str, values: list[complex], sums: list[float]
) -> None:
    """CryoLike's verified values (reference §3.8): centre, transform, normalise."""
    descriptor = ImageDescriptor.from_individual_values(32, 2.0, precision=precision)
    grid = descriptor.polar_grid
    images = center_images(reference_images())
    assert images[0, 19, 14] == 1.0
    source = images if precision == "single" else images.astype(np.float64)
    fourier = normalize_fourier(
        images_to_fourier_polar(source, grid, precision),  # type: ignore[arg-type]
        grid.integration_weights(),
    )
    picks = [
        fourier[0, 0, 0],
        fourier[0, 5, 7],
        fourier[0, 32, 63],
        fourier[1, 12, 0],
        fourier[1, 20, 33],
    ]
    # single: finufft eps 1e-6 on a complex64 transform vs the reference's float64 one
    atol = 2e-6 if precision == "single" else 1e-9
    np.testing.assert_allclose(picks, values, rtol=0, atol=atol)
    np.testing.assert_allclose(fourier.real.sum(axis=(1, 2)), sums, rtol=1e-5)
    power = (np.abs(fourier) ** 2 * grid.integration_weights()).sum(axis=(1, 2))
    np.testing.assert_allclose(power, 1.0, rtol=1e-6)


def test_flat_and_non_finite_images_are_found() -> None:
    images = np.ones((3, 4, 4), dtype=np.float32)
    images[1] = np.arange(16).reshape(4, 4)
    images[2, 0, 0] = np.nan
    problems = find_invalid_images(images)
    assert set(problems) == {0, 2}
    assert "flat" in problems[0]
    assert "NaN" in problems[2]
