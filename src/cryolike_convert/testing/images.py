"""Synthetic particle images and MRC stacks (fixed seeds), shared by every factory."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniformly random 3-D rotation matrices, shape ``(n, 3, 3)``."""
    quaternions = rng.normal(size=(n, 4))
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    w, x, y, z = quaternions.T
    return np.stack(
        [
            np.stack(
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1
            ),
            np.stack(
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1
            ),
            np.stack(
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1
            ),
        ],
        axis=1,
    )


def make_projections(
    n_images: int, box: int, seed: int = 0, n_atoms: int = 24
) -> np.ndarray:
    """Noisy projections of a toy Gaussian-atom molecule, float32 ``(n, box, box)``.

    Dark protein on a grey background (as raw micrographs look), with a random
    orientation, offset, scale and noise per image.
    """
    rng = np.random.default_rng(seed)
    atoms = rng.normal(scale=box / 10, size=(n_atoms, 3))
    sigma = box / 32 + 0.6
    axis = np.arange(box) - box // 2
    rows, cols = np.meshgrid(axis, axis, indexing="ij")
    images = np.empty((n_images, box, box), dtype=np.float32)
    for index, rotation in enumerate(random_rotations(n_images, rng)):
        projected = atoms @ rotation.T
        shift = rng.normal(scale=1.0, size=2)
        image = np.zeros((box, box))
        for row, col in projected[:, :2] + shift:
            image += np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))
        offset, scale = rng.uniform(-1, 1), rng.uniform(0.5, 2)
        noise = rng.normal(scale=0.3, size=(box, box))
        images[index] = offset - scale * image + noise
    return images


def write_mrc_stack(path: Path, images: np.ndarray, pixel_size: float) -> Path:
    """Write a float32 image stack (space group 0) with the given voxel size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(images, dtype=np.float32))
        mrc.set_image_stack()
        mrc.voxel_size = pixel_size
    return path
