"""Pure per-batch image operations: pooling, Fourier cropping, centring, normalisation."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.fft
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


def fourier_crop_images(images: np.ndarray, box: int) -> np.ndarray:
    """Downsample square images to ``box × box`` pixels by Fourier cropping.

    The standard method (cryoDRGN ``downsample``, RELION, CryoSPARC): Fourier
    transform, keep the central ``box × box`` frequencies (``-box//2`` to
    ``(box-1)//2`` along each axis), transform back, keep the real part (for an
    even ``box`` this splits the Nyquist frequency evenly between its two signs)
    and scale by ``(box / n)²`` so that pixel values keep their level. An image
    whose frequencies all lie strictly inside the kept band comes back exactly as
    that band-limited function sampled on the coarser grid. The pixel size grows
    by ``n / box`` (see :func:`downsampled_geometry`). FFTs in the input's
    precision on one thread, so the result is deterministic.

    Parameters
    ----------
    images
        Shape ``(n_images, n, n)``, float32 or float64.
    box
        Target side in pixels, ``1 <= box <= n``.

    Returns
    -------
    np.ndarray
        Shape ``(n_images, box, box)``, the input's dtype; the input itself when
        ``box == n``.

    Raises
    ------
    ValueError
        If the images are not square or ``box`` is not in ``[1, n]``.
    """
    n = images.shape[-1]
    if images.shape[-2] != n:
        raise ValueError(f"Fourier cropping needs square images; got {images.shape}")
    if not 1 <= box <= n:
        raise ValueError(f"cannot Fourier-crop {n}-px images to {box} px")
    if box == n:
        return images
    # Kept frequencies in FFT order: 0 … (box-1)//2, then -box//2 … -1.
    kept = np.concatenate([np.arange((box + 1) // 2), np.arange(n - box // 2, n)])
    spectrum = scipy.fft.fft2(images, workers=1)
    cropped = spectrum[..., kept[:, None], kept[None, :]]
    result = scipy.fft.ifft2(cropped, workers=1).real
    result *= (box / n) ** 2
    return np.ascontiguousarray(result, dtype=images.dtype)


def downsampled_geometry(
    n_pixels: int, pixel_size_angstrom: float, factor: int = 1, box: int | None = None
) -> tuple[int, float]:
    """Image side and pixel size after pooling by ``factor`` or cropping to ``box``.

    Parameters
    ----------
    n_pixels
        Side of the stored images, pixels.
    pixel_size_angstrom
        Their pixel size, Å.
    factor
        Pooling factor (trailing pixels that do not fill a block are dropped).
    box
        Fourier-cropping target box, pixels (wins over ``factor``).

    Returns
    -------
    tuple[int, float]
        ``(n_pixels_out, pixel_size_out_angstrom)``.
    """
    if box is not None:
        return box, pixel_size_angstrom * n_pixels / box
    return n_pixels // factor, pixel_size_angstrom * factor


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
