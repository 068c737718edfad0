"""Cartesian images → samples of their Fourier transform on the polar grid (finufft)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import finufft
import numpy as np

from cryolike_convert.transform.polar_grid import PolarGrid

#: finufft tolerance per precision: CryoLike's single-precision setting (1e-6) and a
#: double-precision one that keeps the transform exact to ~1e-12.
EPSILON = {"single": 1e-6, "double": 1e-12}
_FFTW_MEASURE = 0
_FFTW_ESTIMATE = 64


@dataclass(frozen=True, slots=True)
class _PlanKey:
    shape: tuple[int, int]
    radius_max: float
    dist_radii: float
    n_inplanes: int
    precision: str
    n_trans: int


_PLANS: dict[_PlanKey, finufft.Plan] = {}


def polar_frequencies(
    grid: PolarGrid, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Finufft coordinates of the grid points for images of ``shape``, float64.

    ``k1 = x * 2 pi * 2 / n_x`` along array axis 1 (MRC rows) and ``k2`` likewise
    along axis 2 (MRC columns), CryoLike's mapping.
    """
    x_points, y_points = grid.points()
    return ((x_points * 2 * np.pi) * 2) / shape[0], (
        (y_points * 2 * np.pi) * 2
    ) / shape[1]


def _plan(
    grid: PolarGrid, shape: tuple[int, int], precision: str, n_trans: int
) -> finufft.Plan:
    key = _PlanKey(
        shape, grid.radius_max, grid.dist_radii, grid.n_inplanes, precision, n_trans
    )
    plan = _PLANS.get(key)
    if plan is None:
        real = np.float32 if precision == "single" else np.float64
        plan = finufft.Plan(
            2,
            shape,
            n_trans=n_trans,
            eps=EPSILON[precision],
            isign=-1,
            dtype="complex64" if precision == "single" else "complex128",
            nthreads=1,
            fftw=_FFTW_MEASURE if n_trans > 1 else _FFTW_ESTIMATE,
        )
        k1, k2 = polar_frequencies(grid, shape)
        plan.setpts(
            np.ascontiguousarray(k1, dtype=real), np.ascontiguousarray(k2, dtype=real)
        )
        _PLANS[key] = plan
    return plan


def images_to_fourier_polar(
    images: np.ndarray,
    grid: PolarGrid,
    precision: Literal["single", "double"] = "single",
    chunk_pairs: int = 8,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Evaluate the Fourier transform of real images on the polar grid.

    ``F[m, s, t] = c * sum_{a,b} I[m,a,b] exp(-i (k1 a' + k2 b'))`` with
    ``a' = a - n_x // 2``, ``c = 4 pi / sqrt(n_x n_y)``, at the point of shell ``s``
    and angle ``2 pi t / T``. Two real images are packed into one complex transform
    and separated with the grid's antipodal symmetry (slot ``t + T/2`` is ``-k``).

    Parameters
    ----------
    images
        Real images, shape ``(n_images, n_x, n_y)``.
    grid
        The polar grid.
    precision
        ``'single'`` gives complex64 (finufft eps 1e-6), ``'double'`` complex128
        (eps 1e-12).
    chunk_pairs
        Image pairs per finufft call.
    out
        Optional C-contiguous array of the result's shape and dtype to fill.

    Returns
    -------
    np.ndarray
        Shape ``(n_images, n_shells, n_inplanes)``, complex64 or complex128.
    """
    n_images, n_x, n_y = images.shape
    complex_dtype = np.complex64 if precision == "single" else np.complex128
    n_shells, n_angles = grid.n_shells, grid.n_inplanes
    if out is None:
        out = np.empty((n_images, n_shells, n_angles), dtype=complex_dtype)
    if n_images == 0:
        return out
    scale = 2.0 / np.sqrt(n_x * n_y) * 2 * np.pi
    pack = n_angles % 2 == 0
    per_call = 2 * chunk_pairs if pack else chunk_pairs
    plan = _plan(grid, (n_x, n_y), precision, chunk_pairs)
    buffer = np.zeros((chunk_pairs, n_x, n_y), dtype=complex_dtype)
    mirrored = np.empty((chunk_pairs, n_shells, n_angles), dtype=complex_dtype)
    for start in range(0, n_images, per_call):
        block = images[start : start + per_call]
        buffer[:] = 0
        if pack:
            buffer[: (len(block) + 1) // 2].real = block[0::2]
            buffer[: len(block) // 2].imag = block[1::2]
        else:
            buffer[: len(block)].real = block
        result = plan.execute(buffer).reshape(chunk_pairs, n_shells, n_angles)
        if pack:
            _unpack_pairs(result, mirrored, scale / 2, out[start : start + len(block)])
        else:
            np.multiply(
                result[: len(block)], scale, out=out[start : start + len(block)]
            )
    return out


def _unpack_pairs(
    packed: np.ndarray, mirrored: np.ndarray, scale: float, out: np.ndarray
) -> np.ndarray:
    """Split transforms of ``A + iB`` into those of the real images ``A`` and ``B``.

    With ``Z(k) = F_A(k) + i F_B(k)`` and ``Z(-k)`` at angle slot ``t + T/2``:
    ``F_A = (Z + conj Z(-k)) / 2`` and ``F_B = -i (Z - conj Z(-k)) / 2``. Works in
    place on ``packed`` and ``mirrored`` (``(n_pairs, S, T)``) and writes ``out``
    (``(n_images, S, T)``, images ``2j`` and ``2j + 1`` from pair ``j``).
    """
    half = packed.shape[-1] // 2
    packed *= scale
    np.conjugate(packed[..., half:], out=mirrored[..., :half])
    np.conjugate(packed[..., :half], out=mirrored[..., half:])
    n_even, n_odd = (len(out) + 1) // 2, len(out) // 2
    np.add(packed[:n_even], mirrored[:n_even], out=out[0::2])
    odd = out[1::2]
    np.subtract(packed[:n_odd].imag, mirrored[:n_odd].imag, out=odd.real)
    np.subtract(mirrored[:n_odd].real, packed[:n_odd].real, out=odd.imag)
    return out
