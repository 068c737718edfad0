"""A type-2 NUFFT as fixed linear maps: kernel deconvolution and sparse interpolation.

For a centred image ``I[a', b']`` (``a' = a - n_x // 2``) and a point ``(k1, k2)`` in
radians per pixel, ``sum I exp(-i (k1 a' + k2 b'))`` is, to the kernel's accuracy,
``sum_j phi(k1/h_x - j1) phi(k2/h_y - j2) G[j1, j2]``, where ``G`` is the DFT of the
image divided by ``Phi(a' h_x) Phi(b' h_y)`` and zero-padded to the fine grid
(``h = 2 pi / n_fine``, pixel ``a'`` at index ``a' mod n_fine``). The weights are
computed once per grid in float64; applying them is an FFT and a sparse product.

Real images have Hermitian spectra, so only the half spectrum ``0 <= j2 <= n_fine_y/2``
(``rfft2``) is computed. The matrix reads an *extended* half spectrum: columns
``j2`` from ``-low_columns`` to ``n_columns - low_columns - 1``, where the cells outside
the half spectrum are copies (``j2 mod n_fine_y`` inside it) or mirrors
(``conj G[-j1, -j2]``) filled in before the product. Its weights are real, so it acts
on real and imaginary parts alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from cryolike_convert.transform.spreading_kernel import SpreadingKernel

#: Points per construction chunk; bounds the float64 temporaries to a few tens of MB.
_CHUNK_POINTS = 16384


@dataclass(frozen=True)
class Interpolation:
    """The sparse map from the extended half spectrum to the point values.

    Attributes
    ----------
    matrix
        CSR, shape ``(n_points, n_fine_x * n_columns)``, int32 indices; row ``p``
        holds the weights of point ``p``, column ``j1 * n_columns + low_columns + j2``.
    low_columns
        Extended columns before ``j2 = 0``.
    n_columns
        Extended columns per fine-grid row.
    """

    matrix: scipy.sparse.csr_matrix
    low_columns: int
    n_columns: int


def fine_shape(shape: tuple[int, int], kernel: SpreadingKernel) -> tuple[int, int]:
    """The oversampled grid ``(n_fine_x, n_fine_y)`` for images of ``shape``."""
    return shape[0] * kernel.oversampling, shape[1] * kernel.oversampling


def deconvolution_factors(
    shape: tuple[int, int], kernel: SpreadingKernel
) -> np.ndarray:
    """``1 / (Phi(a' h_x) Phi(b' h_y))`` per pixel, float64 of ``shape``."""
    factors = []
    for n_pixels, n_fine in zip(shape, fine_shape(shape, kernel), strict=True):
        centred = np.arange(n_pixels) - n_pixels // 2
        factors.append(1.0 / kernel.fourier(centred * (2 * np.pi / n_fine)))
    return np.outer(factors[0], factors[1])


def build_interpolation(
    k1: np.ndarray,
    k2: np.ndarray,
    shape: tuple[int, int],
    kernel: SpreadingKernel,
    dtype: type[np.floating],
) -> Interpolation:
    """The interpolation weights of points ``(k1, k2)`` for images of ``shape``.

    Parameters
    ----------
    k1, k2
        Point frequencies in radians per pixel along image axes 1 and 2, float64
        of shape ``(n_points,)``.
    shape
        Image shape ``(n_x, n_y)``.
    kernel
        The spreading kernel.
    dtype
        Value type of the matrix (the weights are computed in float64).
    """
    n_fine_x, n_fine_y = fine_shape(shape, kernel)
    first_2 = _first_cells(k2, n_fine_y, kernel)
    low = max(0, -int(first_2.min(initial=0)))
    high = int(first_2.max(initial=0)) + kernel.width
    n_columns = low + max(n_fine_y // 2 + 1, high)
    pieces = []
    for start in range(0, len(k1), _CHUNK_POINTS):
        chunk = slice(start, start + _CHUNK_POINTS)
        cells_1, weights_1 = _footprint(k1[chunk], n_fine_x, kernel)
        cells_2, weights_2 = _footprint(k2[chunk], n_fine_y, kernel)
        columns = (cells_1 % n_fine_x)[:, :, None] * n_columns + (low + cells_2)[
            :, None, :
        ]
        weights = weights_1[:, :, None] * weights_2[:, None, :]
        rows = np.broadcast_to(np.arange(len(columns))[:, None, None], columns.shape)
        piece = scipy.sparse.coo_matrix(
            (weights.ravel(), (rows.ravel(), columns.ravel())),
            shape=(len(columns), n_fine_x * n_columns),
        ).tocsr()
        piece.sum_duplicates()
        pieces.append(
            (piece.indptr[1:], piece.indices.astype(np.int32), piece.data.astype(dtype))
        )
    indptr = [np.zeros(1, dtype=np.int64)]
    for ends, _, _ in pieces:
        indptr.append(ends.astype(np.int64) + int(indptr[-1][-1]))
    matrix = scipy.sparse.csr_matrix(
        (
            np.concatenate([values for _, _, values in pieces]),
            np.concatenate([columns for _, columns, _ in pieces]),
            np.concatenate(indptr).astype(np.int32),
        ),
        shape=(len(k1), n_fine_x * n_columns),
    )
    return Interpolation(matrix=matrix, low_columns=low, n_columns=n_columns)


def _first_cells(k: np.ndarray, n_fine: int, kernel: SpreadingKernel) -> np.ndarray:
    """The first fine-grid cell (not wrapped) of each point's footprint."""
    position = k * (n_fine / (2 * np.pi))
    return np.ceil(position - kernel.width / 2).astype(np.int64)


def _footprint(
    k: np.ndarray, n_fine: int, kernel: SpreadingKernel
) -> tuple[np.ndarray, np.ndarray]:
    """Fine-grid cells (not wrapped) and kernel weights of each point, ``(n, w)``."""
    position = k * (n_fine / (2 * np.pi))
    cells = _first_cells(k, n_fine, kernel)[:, None] + np.arange(kernel.width)
    return cells, kernel.values(position[:, None] - cells)
