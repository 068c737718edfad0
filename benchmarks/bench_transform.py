"""Transform-only speed (1 and 2 Python threads) and accuracy against an exact sum.

Usage: ``python benchmarks/bench_transform.py [--images N] [--skip-accuracy]``

Speed: single precision at boxes 128 and 256 (CryoLike's default grid, T = 2n),
images/s by wall clock, and images per CPU-second of this process (steadier on a
shared machine: an idle machine runs at most cores × that), with torch on one
intra-op thread so that Python threads are the only parallelism; plus one Python
thread with torch's default thread count.
Accuracy: max relative L2 per image against a direct float64 sum over pixels at a
random sample of grid points, for noisy particles at boxes 32–512.
"""

from __future__ import annotations

import argparse
import math
import threading
import time

import numpy as np
import torch
from scipy.special import roots_jacobi

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import make_projections
from cryolike_convert.transform.engine import images_to_fourier_polar, transform_plan
from cryolike_convert.transform.preprocess import center_images


def timed(images: np.ndarray, box: int, n_threads: int) -> tuple[float, float]:
    """Transform ``images`` split over ``n_threads`` Python threads: (wall, CPU) s."""
    grid = ImageDescriptor.from_individual_values(box, 1.0).polar_grid
    parts = np.array_split(images, n_threads)

    def work(part: np.ndarray) -> None:
        images_to_fourier_polar(part, grid, "single")

    threads = [threading.Thread(target=work, args=(part,)) for part in parts]
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - wall, time.process_time() - cpu


def speed(n_images: int) -> None:
    default_threads = torch.get_num_threads()
    print("transform only, single precision: images/s (wall) | images per CPU-second")
    for box in (128, 256):
        count = n_images if box == 128 else n_images // 4
        images = center_images(make_projections(8, box, seed=box))
        images = np.concatenate([images] * (count // 8))
        grid = ImageDescriptor.from_individual_values(box, 1.0).polar_grid
        started = time.perf_counter()
        transform_plan(grid, (box, box), "single")
        print(f"  box {box}: plan built in {time.perf_counter() - started:.2f} s")
        for label, torch_threads, n_threads in (
            ("1 Python thread, torch 1 thread ", 1, 1),
            ("2 Python threads, torch 1 thread", 1, 2),
            (f"1 Python thread, torch {default_threads} threads", default_threads, 1),
        ):
            torch.set_num_threads(torch_threads)
            timed(images[: 2 * 64], box, n_threads)  # warm the per-thread buffers
            wall, cpu = min(
                (timed(images, box, n_threads) for _ in range(3)), key=lambda t: t[0]
            )
            print(
                f"    {label}: {len(images) / wall:7.0f} | "
                f"{len(images) / cpu:7.0f}  ({len(images)} images)"
            )
    torch.set_num_threads(default_threads)


def exact_samples(
    images: np.ndarray, box: int, n_points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shell/angle indices and the direct float64 sum there (reference §2.2, §3.5)."""
    radius_max, n_angles = box / 4, 2 * box
    n_shells = 1 + math.ceil(radius_max / 0.25)
    radii = (roots_jacobi(n_shells, 0.0, 1.0)[0] + 1.0) * radius_max / 2
    shells = rng.integers(0, n_shells, n_points)
    angles = rng.integers(0, n_angles, n_points)
    theta = 2 * np.pi * angles / n_angles
    k1 = radii[shells] * np.cos(theta) * 2 * np.pi * 2 / box
    k2 = radii[shells] * np.sin(theta) * 2 * np.pi * 2 / box
    pixels = np.arange(box) - box // 2
    rows = np.einsum("mab,pb->mpa", images, np.exp(-1j * np.outer(k2, pixels)))
    values = np.einsum("mpa,pa->mp", rows, np.exp(-1j * np.outer(k1, pixels)))
    return shells, angles, values * (4 * np.pi / box)


def accuracy() -> None:
    print("accuracy: max relative L2 per image vs a direct float64 sum")
    print("  (4 noisy particles, 300 random grid points each)")
    rng = np.random.default_rng(0)
    for box in (32, 64, 128, 192, 256, 320, 384, 448, 512):
        grid = ImageDescriptor.from_individual_values(box, 1.0).polar_grid
        images = center_images(make_projections(4, box, seed=box))
        shells, angles, exact = exact_samples(images.astype(np.float64), box, 300, rng)
        errors = []
        for precision in ("single", "double"):
            source = images if precision == "single" else images.astype(np.float64)
            fourier = images_to_fourier_polar(source, grid, precision)  # type: ignore[arg-type]
            sampled = fourier[:, shells, angles]
            error = np.linalg.norm(sampled - exact, axis=1) / np.linalg.norm(
                exact, axis=1
            )
            errors.append(error.max())
        print(f"  box {box:3d}: single {errors[0]:.2e}   double {errors[1]:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    speed(args.images)
    if not args.skip_accuracy:
        accuracy()


if __name__ == "__main__":
    main()
