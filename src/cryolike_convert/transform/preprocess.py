"""Pure per-batch image operations: pooling, centring, Fourier normalisation."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

DownsampleType = Literal["mean", "max"]


def downsample_images(
    images: np.ndarray, factor: int, kind: DownsampleType
) -> np.ndarray:
    """Pool ``factor × factor`` blocks by their mean or max.

    Trailing rows and columns that do not fill a block are dropped. The same torch
    pooling as CryoLike is used, so the result is bit-identical. ``factor == 1`` returns the input.

    Parameters
    ----------
    images
        Shape ``(n_images, n_x, n_y)``, float32.

    Returns
    -------
    np.ndarray
        Shape ``(n_images, n_x // factor, n_y // factor)``, float32.
    """
    if factor == 1:
        return images
    tensor = torch.from_numpy(images).unsqueeze(1)
    pool = (
        torch.nn.functional.avg_pool2d
        if kind == "mean"
        else torch.nn.functional.max_pool2d
    )
    return pool(tensor, kernel_size=factor, stride=factor).squeeze(1).numpy()


def center_images(images: np.ndarray) -> np.ndarray:
    """Subtract each image's mean, then divide by its max |value| (float32, in place).

    Runs the same float32 torch reductions as CryoLike, so the result is bit-identical.

    Parameters
    ----------
    images
        Shape ``(n_images, n_x, n_y)``, float32; modified and returned.
    """
    tensor = torch.from_numpy(images)
    tensor -= tensor.mean(dim=(1, 2), keepdim=True)
    tensor /= tensor.abs().amax(dim=(1, 2), keepdim=True)
    return images


def find_invalid_images(images: np.ndarray) -> dict[int, str]:
    """Return ``{position: reason}`` for images that are non-finite or flat."""
    problems: dict[int, str] = {}
    finite = np.isfinite(images).all(axis=(1, 2))
    for position in np.flatnonzero(~finite):
        problems[int(position)] = "image holds NaN or Inf pixels"
    flat = images.max(axis=(1, 2)) == images.min(axis=(1, 2))
    for position in np.flatnonzero(flat & finite):
        problems[int(position)] = (
            "image is flat (all pixels equal), it cannot be normalised"
        )
    return problems


def normalize_fourier(fourier: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Scale each image to unit weighted L2 norm, ``sum |F|^2 W = 1``.

    Works in place on a C-contiguous array (and returns it); the sums run in
    float64.

    Parameters
    ----------
    fourier
        Shape ``(n_images, n_shells, n_inplanes)``, complex.
    weights
        Quadrature weights, shape ``(n_shells, n_inplanes)``.
    """
    fourier = np.ascontiguousarray(fourier)
    real_dtype = fourier.real.dtype
    flat = fourier.reshape(len(fourier), -1).view(real_dtype)
    pair_weights = np.repeat(weights.reshape(-1).astype(np.float64), 2)
    # One image at a time keeps the float64 temporary small (and cached). einsum,
    # not np.dot: BLAS would spread each sum over its own threads, which fight the
    # caller's threads (one block per thread) and tie the bits to the BLAS build.
    norms = np.sqrt(
        [
            np.einsum("i,i->", np.square(row).astype(np.float64), pair_weights)
            for row in flat
        ]
    )
    flat *= (1.0 / norms)[:, None].astype(real_dtype)
    return fourier
