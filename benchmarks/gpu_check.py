"""Check and time the transform on CUDA against the CPU engine (needs a GPU).

Usage: ``python benchmarks/gpu_check.py [--device cuda] [--images N]``

For boxes 128, 256 and 512 (CryoLike's default grid), prints per precision: the max
relative L2 difference per image between ``device='cuda'`` and ``device='cpu'``
(the promise: within 1e-6 in single precision; double is compared with 1e-11), the
accuracy of the CUDA output against a direct float64 sum at sampled grid points,
whether two CUDA runs and a split run give identical bytes, the plan build time and
images/s on each device (transform only; CUDA results are copied back to the host,
so the timings include the transfers). Exits 1 if a promise is broken.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from bench_transform import exact_samples

from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import make_projections
from cryolike_convert.transform.engine import images_to_fourier_polar, transform_plan
from cryolike_convert.transform.preprocess import center_images

PROMISE = {"single": 1e-6, "double": 1e-11}


def relative(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = actual.reshape(len(actual), -1)
    expected = expected.reshape(len(expected), -1)
    error = np.linalg.norm(actual - expected, axis=1) / np.linalg.norm(expected, axis=1)
    return float(error.max())


def rate(images: np.ndarray, box: int, precision: str, device: str) -> float:
    grid = ImageDescriptor.from_individual_values(box, 1.0).polar_grid
    started = time.perf_counter()
    images_to_fourier_polar(images, grid, precision, device=device)  # type: ignore[arg-type]
    return len(images) / (time.perf_counter() - started)


def check_box(box: int, precision: str, device: str, n_images: int) -> bool:
    grid = ImageDescriptor.from_individual_values(box, 1.0).polar_grid
    images = center_images(make_projections(8, box, seed=box))
    if precision == "double":
        images = images.astype(np.float64)
    started = time.perf_counter()
    transform_plan(grid, (box, box), precision, device)  # type: ignore[arg-type]
    build = time.perf_counter() - started
    on_device = images_to_fourier_polar(images, grid, precision, device=device)  # type: ignore[arg-type]
    on_cpu = images_to_fourier_polar(images, grid, precision)  # type: ignore[arg-type]
    again = images_to_fourier_polar(images, grid, precision, device=device)  # type: ignore[arg-type]
    split = np.concatenate(
        [
            images_to_fourier_polar(part, grid, precision, device=device)  # type: ignore[arg-type]
            for part in np.split(images, [3])
        ]
    )
    rng = np.random.default_rng(box)
    shells, angles, exact = exact_samples(images.astype(np.float64), box, 200, rng)
    difference = relative(on_device, on_cpu)
    accuracy = relative(on_device[:, shells, angles], exact)
    many = np.concatenate([images] * max(1, n_images // len(images)))
    cpu_rate = rate(many, box, precision, "cpu")
    rate(many[: 2 * len(images)], box, precision, device)  # warm-up
    device_rate = rate(many, box, precision, device)
    ok = difference <= PROMISE[precision]
    print(
        f"box {box:3d} {precision}: {device} vs cpu {difference:.2e} "
        f"({'ok' if ok else 'BROKEN'}), vs exact {accuracy:.2e}, "
        f"same bytes twice {again.tobytes() == on_device.tobytes()}, "
        f"split {split.tobytes() == on_device.tobytes()}; "
        f"plan {build:.2f} s; images/s cpu {cpu_rate:.0f}, {device} {device_rate:.0f} "
        f"({len(many)} images)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(f"torch {torch.__version__} sees no CUDA device; nothing to check")
        sys.exit(1)
    print(f"{torch.cuda.get_device_name()} | torch {torch.__version__}")
    results = [
        check_box(box, precision, args.device, args.images // (box // 128) ** 2)
        for precision in ("single", "double")
        for box in (128, 256, 512)
    ]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
