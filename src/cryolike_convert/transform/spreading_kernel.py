"""The exponential-of-semicircle spreading kernel of a type-2 NUFFT and its transform."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryolike_convert.transform.precision import Precision

#: Gauss–Legendre nodes for the kernel's Fourier transform; the integrand is smooth on
#: ``[0, w/2]`` and 200 nodes resolve it to rounding in float64.
_QUADRATURE_NODES = 200


@dataclass(frozen=True, slots=True)
class SpreadingKernel:
    """``phi(z) = exp(beta (sqrt(1 - (2 z / w)^2) - 1))`` on ``|z| <= w/2``, zero outside.

    ``z`` is measured in cells of a fine grid ``oversampling`` times finer than the
    image. With ``beta = 2.30 w`` and ``oversampling = 2`` (finufft's choice for that
    oversampling) the interpolation error falls by about ``exp(-2.2 w)``.

    Parameters
    ----------
    width
        ``w``, the number of fine-grid cells the kernel covers along each axis.
    oversampling
        Fine-grid size over image size, per axis (an integer).
    """

    width: int
    oversampling: int = 2

    @property
    def beta(self) -> float:
        """The kernel's shape parameter ``beta``."""
        return 2.30 * self.width

    def values(self, z: np.ndarray) -> np.ndarray:
        """``phi(z)`` for offsets ``z`` in fine-grid cells, float64."""
        t = 1.0 - (2.0 * np.asarray(z, dtype=np.float64) / self.width) ** 2
        inside = t >= 0
        root = np.sqrt(np.where(inside, t, 0.0))
        return np.where(inside, np.exp(self.beta * (root - 1.0)), 0.0)

    def fourier(self, xi: np.ndarray) -> np.ndarray:
        """``Phi(xi) = integral phi(z) exp(-i xi z) dz`` (real, even), float64."""
        nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
        half = self.width / 4.0
        z = (nodes + 1.0) * half
        integrand = np.cos(np.outer(np.asarray(xi, dtype=np.float64), z))
        transform: np.ndarray = integrand @ (weights * self.values(z))
        return 2.0 * half * transform


#: Kernel per precision: single reaches ~1e-7 relative (below float32 rounding of
#: the FFT at large boxes), double ~1e-13.
KERNELS: dict[Precision, SpreadingKernel] = {
    "single": SpreadingKernel(width=8),
    "double": SpreadingKernel(width=13),
}
