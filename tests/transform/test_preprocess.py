"""Per-batch image operations: the invalid-image check, Fourier cropping, geometry."""

from __future__ import annotations

import numpy as np
import pytest

from cryolike_convert.transform.preprocess import (
    downsampled_geometry,
    find_invalid_images,
    fourier_crop_images,
)


def test_flat_and_non_finite_images_are_found() -> None:
    images = np.ones((3, 4, 4), dtype=np.float32)
    images[1] = np.arange(16).reshape(4, 4)
    images[2, 0, 0] = np.nan
    problems = find_invalid_images(images)
    assert set(problems) == {0, 2}
    assert "flat" in problems[0]
    assert "NaN" in problems[2]


def _cosines(
    coordinates: np.ndarray, terms: list[tuple[float, float, float, float]]
) -> np.ndarray:
    """Sum of a·cos(2π(fx·x + fy·y) + φ) sampled at ``coordinates`` (rows y, cols x)."""
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    image = np.zeros_like(x, dtype=np.float64)
    for fx, fy, amplitude, phase in terms:
        image += amplitude * np.cos(2 * np.pi * (fx * x + fy * y) + phase)
    return image


@pytest.mark.parametrize(("n", "box"), [(64, 24), (64, 33), (65, 32), (63, 31)])
def test_band_limited_image_survives_cropping_exactly(n: int, box: int) -> None:
    rng = np.random.default_rng(n + box)
    # Integer frequencies (cycles per n pixels) strictly inside the kept band.
    limit = (box - 1) // 2
    terms = [
        (kx / n, ky / n, rng.normal(), rng.uniform(0, 2 * np.pi))
        for kx, ky in rng.integers(-limit, limit + 1, size=(12, 2))
    ]
    image = _cosines(np.arange(n, dtype=np.float64), terms)
    cropped = fourier_crop_images(image[None], box)[0]
    # The same function sampled on the coarser grid: pixel j sits at j·n/box.
    expected = _cosines(np.arange(box) * n / box, terms)
    assert cropped.shape == (box, box)
    np.testing.assert_allclose(cropped, expected, rtol=0, atol=1e-11)
    single = fourier_crop_images(image[None].astype(np.float32), box)[0]
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=0, atol=2e-5 * len(terms))


def test_frequencies_beyond_the_box_are_removed() -> None:
    n, box = 64, 16
    coordinates = np.arange(n, dtype=np.float64)
    low = [(3 / n, -2 / n, 1.0, 0.4)]
    high = [(20 / n, 5 / n, 3.0, 1.1), (1 / n, -30 / n, 2.0, 0.2)]
    image = _cosines(coordinates, low + high)
    expected = _cosines(np.arange(box) * n / box, low)
    np.testing.assert_allclose(
        fourier_crop_images(image[None], box)[0], expected, atol=1e-11
    )


def test_constant_image_keeps_its_level_and_box_n_is_the_identity() -> None:
    images = np.full((2, 40, 40), 3.5, dtype=np.float32)
    np.testing.assert_allclose(fourier_crop_images(images, 10), 3.5, rtol=1e-6)
    assert fourier_crop_images(images, 40) is images


def test_each_image_is_cropped_on_its_own() -> None:
    rng = np.random.default_rng(3)
    images = rng.normal(size=(5, 32, 32))
    together = fourier_crop_images(images, 20)
    alone = np.stack([fourier_crop_images(image[None], 20)[0] for image in images])
    np.testing.assert_array_equal(together, alone)


def test_cropping_agrees_with_a_centred_numpy_crop() -> None:
    """Independent route: np.fft with fftshift, the central window, real part."""
    rng = np.random.default_rng(4)
    for n, box in [(32, 16), (33, 17), (32, 15)]:
        images = rng.normal(size=(3, n, n))
        shifted = np.fft.fftshift(np.fft.fft2(images), axes=(-2, -1))
        start = n // 2 - box // 2
        window = shifted[:, start : start + box, start : start + box]
        expected = np.fft.ifft2(np.fft.ifftshift(window, axes=(-2, -1))).real
        np.testing.assert_allclose(
            fourier_crop_images(images, box), expected * (box / n) ** 2, atol=1e-12
        )


@pytest.mark.parametrize("box", [0, 33])
def test_impossible_boxes_are_refused(box: int) -> None:
    with pytest.raises(ValueError, match="cannot Fourier-crop 32-px images"):
        fourier_crop_images(np.zeros((1, 32, 32)), box)
    with pytest.raises(ValueError, match="square"):
        fourier_crop_images(np.zeros((1, 32, 30)), 16)


def test_downsampled_geometry() -> None:
    assert downsampled_geometry(128, 1.0) == (128, 1.0)
    assert downsampled_geometry(128, 1.0, factor=2) == (64, 2.0)
    assert downsampled_geometry(65, 1.5, factor=2) == (32, 3.0)
    box, pixel = downsampled_geometry(320, 1.31, box=128)
    assert box == 128
    assert pixel == pytest.approx(3.275)
    # the box wins over the factor
    assert downsampled_geometry(100, 2.0, factor=4, box=50) == (50, 4.0)
