"""The image transform against an exact evaluation, closed forms and invariants.

The exact reference is written out here from ../shared/reference/cryolike_format.md
(§2.2 grid, §3.5 mapping), not taken from the code under test:

- shells ``r_s = (xi_s + 1) R / 2`` with ``xi_s`` the Gauss–Jacobi (alpha 0, beta 1)
  nodes, ``S = 1 + ceil(R / dist_radii)``; angles ``theta_t = 2 pi t / T``;
- ``x = r cos theta``, ``y = r sin theta``; ``k1 = x 2 pi 2 / n_x``, ``k2 = y 2 pi 2 / n_y``;
- ``F = c sum_{a,b} I[a,b] exp(-i (k1 a' + k2 b'))``, ``a' = a - floor(n_x / 2)``,
  ``c = 2 / sqrt(n_x n_y) 2 pi``; evaluated as a direct float64 sum over pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import roots_jacobi

from cryolike_convert.errors import DeviceError
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import make_projections
from cryolike_convert.transform.ducc_transform import DuccPolarTransform
from cryolike_convert.transform.engine import images_to_fourier_polar
from cryolike_convert.transform.polar_grid import PolarGrid
from cryolike_convert.transform.precision import Precision
from cryolike_convert.transform.preprocess import center_images, normalize_fourier
from cryolike_convert.transform.sparse_transform import SparsePolarTransform

#: The engine's promise (issue 12): max relative L2 per image vs the exact transform.
TOLERANCE = {"single": 2e-6, "double": 1e-11}


def reference_frequencies(
    radius_max: float, dist_radii: float, n_angles: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(k1, k2)`` of every grid point, ``(S, T)`` each, from the reference text."""
    n_shells = 1 + math.ceil(radius_max / dist_radii)
    nodes, _ = roots_jacobi(n_shells, 0.0, 1.0)
    radii = (nodes + 1.0) * radius_max / 2.0
    theta = 2 * np.pi * np.arange(n_angles) / n_angles
    x = radii[:, None] * np.cos(theta)
    y = radii[:, None] * np.sin(theta)
    return x * 2 * np.pi * 2 / shape[0], y * 2 * np.pi * 2 / shape[1]


def exact_transform(images: np.ndarray, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
    """Direct float64 sum over pixels at points ``k1, k2`` (any shape)."""
    n_x, n_y = images.shape[1:]
    a = np.arange(n_x) - n_x // 2
    b = np.arange(n_y) - n_y // 2
    phase_a = np.exp(-1j * np.outer(k1.ravel(), a))
    phase_b = np.exp(-1j * np.outer(k2.ravel(), b))
    rows = np.einsum("mab,pb->mpa", images.astype(np.float64), phase_b)
    values = np.einsum("mpa,pa->mp", rows, phase_a)
    scale = 2.0 / np.sqrt(n_x * n_y) * 2 * np.pi
    exact: np.ndarray = (values * scale).reshape((len(images), *k1.shape))
    return exact


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Max over images of the relative L2 error (first axis = image)."""
    actual = actual.reshape(len(actual), -1)
    expected = expected.reshape(len(expected), -1)
    errors = np.linalg.norm(actual - expected, axis=1) / np.linalg.norm(
        expected, axis=1
    )
    return float(errors.max())


def realistic_images(n_images: int, box: int, seed: int) -> np.ndarray:
    """Noisy projections, centred and scaled as the pipeline does."""
    return center_images(make_projections(n_images, box, seed=seed))


def sample_points(
    n_shells: int, n_angles: int, n_points: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(shell, angle)`` indices, always with the outermost shell's Nyquist."""
    rng = np.random.default_rng(seed)
    shells = np.concatenate([[n_shells - 1, 0], rng.integers(0, n_shells, n_points)])
    angles = np.concatenate(
        [[n_angles // 4, n_angles - 1], rng.integers(0, n_angles, n_points)]
    )
    return shells, angles


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("box", [32, 64, 128, 320, 512])
def test_matches_exact_sum_on_noisy_particles(precision: Precision, box: int) -> None:
    descriptor = ImageDescriptor.from_individual_values(box, 1.0, precision=precision)
    grid = descriptor.polar_grid
    images = realistic_images(2, box, seed=box)
    source = images if precision == "single" else images.astype(np.float64)
    fourier = images_to_fourier_polar(source, grid, precision)
    k1, k2 = reference_frequencies(box / 4, 0.25, 2 * box, (box, box))
    assert fourier.shape == (2, *k1.shape)
    assert fourier.dtype == (np.complex64 if precision == "single" else np.complex128)
    shells, angles = sample_points(k1.shape[0], k1.shape[1], n_points=150, seed=box)
    expected = exact_transform(images, k1[shells, angles], k2[shells, angles])
    assert relative_error(fourier[:, shells, angles], expected) <= TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize(
    ("shape", "n_angles", "radius_max"),
    [((16, 16), 32, 4.0), ((17, 17), 33, 4.25), ((16, 20), 30, 4.0), ((12, 12), 8, 5)],
)
def test_every_point_matches_exact_sum(
    precision: Precision, shape: tuple[int, int], n_angles: int, radius_max: float
) -> None:
    # Odd boxes, an odd angle count (no antipodal mirror), rectangular images and a
    # grid reaching past Nyquist (radius 5 on 12 px) all follow the same formula.
    rng = np.random.default_rng(7)
    images = rng.normal(size=(3, *shape)).astype(np.float32)
    grid = PolarGrid(radius_max=radius_max, dist_radii=0.25, n_inplanes=n_angles)
    source = images if precision == "single" else images.astype(np.float64)
    fourier = images_to_fourier_polar(source, grid, precision)
    k1, k2 = reference_frequencies(radius_max, 0.25, n_angles, shape)
    expected = exact_transform(images, k1, k2)
    assert relative_error(fourier, expected) <= TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
def test_sparse_engine_on_cpu_matches_exact_sum(precision: Precision) -> None:
    # The torch engine (the CUDA path) run on CPU, in both precisions.
    grid = PolarGrid(radius_max=16.0, dist_radii=0.25, n_inplanes=128)
    images = realistic_images(3, 64, seed=3)
    transform = SparsePolarTransform(grid, (64, 64), precision, "cpu")
    dtype = np.complex64 if precision == "single" else np.complex128
    fourier = transform(images, np.empty((3, grid.n_shells, 128), dtype=dtype))
    k1, k2 = reference_frequencies(16.0, 0.25, 128, (64, 64))
    shells, angles = sample_points(k1.shape[0], k1.shape[1], n_points=300, seed=1)
    expected = exact_transform(images, k1[shells, angles], k2[shells, angles])
    assert relative_error(fourier[:, shells, angles], expected) <= TOLERANCE[precision]


def _devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_device_output_is_exact_and_matches_cpu_engine(device: str) -> None:
    # CPU always; CUDA too where torch sees a GPU (the promise: within 1e-6 of CPU).
    grid = ImageDescriptor.from_individual_values(48, 1.0).polar_grid
    images = realistic_images(5, 48, seed=5)
    on_device = images_to_fourier_polar(images, grid, "single", device=device)
    k1, k2 = reference_frequencies(12.0, 0.25, 96, (48, 48))
    shells, angles = sample_points(k1.shape[0], k1.shape[1], n_points=200, seed=2)
    expected = exact_transform(images, k1[shells, angles], k2[shells, angles])
    assert relative_error(on_device[:, shells, angles], expected) <= TOLERANCE["single"]
    on_cpu = images_to_fourier_polar(images, grid, "single")
    assert relative_error(on_device, on_cpu) <= 1e-6


@pytest.mark.parametrize("precision", ["single", "double"])
def test_any_real_array_layout_is_accepted(precision: Precision) -> None:
    # Read-only (memory-mapped) stacks, strided views and either float width.
    grid = PolarGrid(radius_max=6.0, dist_radii=0.25, n_inplanes=24)
    images = make_projections(4, 24, seed=1)
    expected = images_to_fourier_polar(images, grid, precision)
    read_only = images.copy()
    read_only.flags.writeable = False
    wide = np.zeros((4, 24, 48), dtype=np.float64)
    wide[:, :, ::2] = images
    for variant in (read_only, wide[:, :, ::2], images[::-1][::-1]):
        result = images_to_fourier_polar(variant, grid, precision)
        assert result.tobytes() == expected.tobytes()


@pytest.mark.parametrize("device", ["cuda:99", "tpu", "no such device"])
def test_unusable_device_is_refused(device: str) -> None:
    grid = PolarGrid(radius_max=4.0, dist_radii=0.25, n_inplanes=16)
    with pytest.raises(DeviceError, match="device"):
        images_to_fourier_polar(np.ones((1, 16, 16)), grid, device=device)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_centred_gaussian_matches_closed_form(precision: Precision) -> None:
    n, sigma = 64, 3.0
    axis = np.arange(n) - n // 2
    image = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma**2))
    grid = PolarGrid(radius_max=n / 4, dist_radii=0.25, n_inplanes=2 * n)
    dtype = np.float32 if precision == "single" else np.float64
    fourier = images_to_fourier_polar(image[None].astype(dtype), grid, precision)
    k1, k2 = reference_frequencies(n / 4, 0.25, 2 * n, (n, n))
    # Sampled Gaussian: its DFT is the periodised continuous one; at sigma 3 the
    # aliases are below 1e-30, so the closed form holds to rounding.
    exact = (
        (4 * np.pi / n)
        * 2
        * np.pi
        * sigma**2
        * np.exp(-(sigma**2) * (k1**2 + k2**2) / 2)
    )
    assert relative_error(fourier, exact[None]) <= TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
def test_zero_frequency_is_scaled_image_sum(precision: Precision) -> None:
    # A grid whose points all lie within 1e-12 of the origin: exp(...) is 1 to rounding.
    grid = PolarGrid(radius_max=1e-12, dist_radii=1e-12, n_inplanes=8)
    # Uncentred particles: their sums are far from zero.
    images = make_projections(2, 40, seed=2).astype(np.float64)
    fourier = images_to_fourier_polar(images, grid, precision)
    expected = (4 * np.pi / 40) * images.sum(axis=(1, 2))
    expected = np.broadcast_to(expected[:, None, None], fourier.shape)
    assert relative_error(fourier, expected) <= TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
def test_rotation_by_one_angular_step_is_a_cyclic_shift(precision: Precision) -> None:
    n = 48
    grid = PolarGrid(radius_max=n / 4, dist_radii=0.25, n_inplanes=96)
    centres = np.array([(5.0, -3.0), (-6.0, 4.5), (1.0, 7.0)])
    step = 2 * np.pi / grid.n_inplanes
    rotation = np.array([[np.cos(step), -np.sin(step)], [np.sin(step), np.cos(step)]])
    axis = np.arange(n) - n // 2

    def blobs(points: np.ndarray) -> np.ndarray:
        image = np.zeros((n, n))
        for r, c in points:
            image += np.exp(
                -((axis[:, None] - r) ** 2 + (axis[None, :] - c) ** 2) / 12.5
            )
        return image

    dtype = np.float32 if precision == "single" else np.float64
    images = np.stack([blobs(centres), blobs(centres @ rotation.T)]).astype(dtype)
    fourier = images_to_fourier_polar(images, grid, precision)
    shifted = np.roll(fourier[0], 1, axis=-1)
    assert relative_error(fourier[1:], shifted[None]) <= TOLERANCE[precision]


@pytest.mark.parametrize("precision", ["single", "double"])
def test_transform_is_linear(precision: Precision) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 1, 24, 24))
    grid = PolarGrid(radius_max=6.0, dist_radii=0.25, n_inplanes=48)
    fa, fb, fab = (
        images_to_fourier_polar(x, grid, precision) for x in (a, b, 2 * a - 3 * b)
    )
    assert relative_error(fab, 2 * fa - 3 * fb) <= 4 * TOLERANCE[precision]


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
    precision: Precision, values: list[complex], sums: list[float]
) -> None:
    """CryoLike's verified values (reference §3.8): centre, transform, normalise."""
    descriptor = ImageDescriptor.from_individual_values(32, 2.0, precision=precision)
    grid = descriptor.polar_grid
    images = center_images(reference_images())
    assert images[0, 19, 14] == 1.0
    source = images if precision == "single" else images.astype(np.float64)
    fourier = normalize_fourier(
        images_to_fourier_polar(source, grid, precision),
        grid.integration_weights(),
    )
    picks = [
        fourier[0, 0, 0],
        fourier[0, 5, 7],
        fourier[0, 32, 63],
        fourier[1, 12, 0],
        fourier[1, 20, 33],
    ]
    # single: CryoLike's own single path is finufft at eps 1e-6 (about 1e-6 off the
    # exact values); double: both sides are exact to ~1e-12.
    atol = 2e-6 if precision == "single" else 1e-9
    np.testing.assert_allclose(picks, values, rtol=0, atol=atol)
    np.testing.assert_allclose(fourier.real.sum(axis=(1, 2)), sums, rtol=1e-5)
    power = (np.abs(fourier) ** 2 * grid.integration_weights()).sum(axis=(1, 2))
    np.testing.assert_allclose(power, 1.0, rtol=1e-6)


def test_ducc_and_sparse_engines_agree_in_double() -> None:
    grid = PolarGrid(radius_max=10.0, dist_radii=0.25, n_inplanes=80)
    images = realistic_images(2, 40, seed=9).astype(np.float64)
    out = np.empty((2, grid.n_shells, 80), dtype=np.complex128)
    ducc = DuccPolarTransform(grid, (40, 40))(images, out.copy())
    sparse = SparsePolarTransform(grid, (40, 40), "double", "cpu")(images, out.copy())
    assert relative_error(sparse, ducc) <= 2 * TOLERANCE["double"]


# --- Determinism: output bytes are a function of the inputs and options only ---

_PROCESS_SCRIPT = """
import hashlib, sys, threading
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from cryolike_convert.errors import DeviceError
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.transform.precision import Precision
from cryolike_convert.testing import make_projections
from cryolike_convert.transform.engine import images_to_fourier_polar
grid = ImageDescriptor.from_individual_values(64, 1.0).polar_grid
images = make_projections(6, 64, seed=11)
digest = hashlib.sha256()
for precision in ("single", "double"):
    digest.update(images_to_fourier_polar(images, grid, precision).tobytes())
print(digest.hexdigest())
"""


def _stack_digest(images: np.ndarray, grid: PolarGrid) -> str:
    import hashlib

    digest = hashlib.sha256()
    precisions: tuple[Precision, ...] = ("single", "double")
    for precision in precisions:
        digest.update(images_to_fourier_polar(images, grid, precision).tobytes())
    return digest.hexdigest()


def test_bytes_are_equal_across_processes_and_torch_thread_counts() -> None:
    import subprocess
    import sys

    grid = ImageDescriptor.from_individual_values(64, 1.0).polar_grid
    here = _stack_digest(make_projections(6, 64, seed=11), grid)
    # Another process, with torch (MKL, OpenMP) on one thread instead of the default.
    result = subprocess.run(
        [sys.executable, "-c", _PROCESS_SCRIPT, "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == here


@pytest.mark.parametrize("precision", ["single", "double"])
def test_bytes_do_not_depend_on_block_split(precision: Precision) -> None:
    # 70 images span three internal batches of the sparse engine (32 + 32 + 6).
    grid = ImageDescriptor.from_individual_values(24, 1.0).polar_grid
    images = make_projections(70, 24, seed=4)
    whole = images_to_fourier_polar(images, grid, precision)
    for split in ([1, 6], [5, 64], [63, 65], [69]):
        parts = [
            images_to_fourier_polar(part, grid, precision)
            for part in np.split(images, split)
        ]
        assert np.concatenate(parts).tobytes() == whole.tobytes()


@pytest.mark.parametrize("precision", ["single", "double"])
def test_concurrent_threads_give_the_same_bytes(precision: Precision) -> None:
    import threading

    from cryolike_convert.transform.engine import clear_plans

    grid = ImageDescriptor.from_individual_values(36, 1.0).polar_grid
    images = make_projections(16, 36, seed=8)
    expected = images_to_fourier_polar(images, grid, precision)
    clear_plans()  # the threads race to build the plan as well
    results: dict[int, bytes] = {}

    def work(index: int) -> None:
        block = images[4 * index : 4 * index + 4]
        results[index] = images_to_fourier_polar(block, grid, precision).tobytes()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert b"".join(results[index] for index in range(4)) == expected.tobytes()
