"""Power spectra of polar Fourier images: the one place ``|F|²`` is averaged.

The conversion (per-stack plots) and ``inspect`` (overview plots) both feed blocks of
polar Fourier images to a :class:`PowerSpectrum` and read back its mean per grid
point (the 2-D spectrum) or per shell (the radially averaged one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cryolike_convert.transform.polar_grid import PolarGrid


def shell_frequencies_per_angstrom(grid: PolarGrid, box_angstrom: float) -> np.ndarray:
    """Spatial frequency of each shell, 1/Å, shape ``(n_shells,)``.

    A shell of radius ``r`` (cycles per half box) lies at ``2 r / box`` cycles/Å,
    the inverse of :meth:`PolarGrid.resolution_angstrom`.
    """
    return 2.0 * grid.radius_shells / box_angstrom


@dataclass
class PowerSpectrum:
    """Running mean of ``|F|²`` per polar grid point over the images added.

    Attributes
    ----------
    total
        Sum of ``|F|²`` over the images added, float64 of shape
        ``(n_shells, n_inplanes)``, or ``None`` before the first block.
    n_images
        Images added so far.
    """

    total: np.ndarray | None = field(default=None, repr=False)
    n_images: int = 0

    def add(self, fourier: np.ndarray) -> None:
        """Add a block of polar Fourier images, shape ``(n_images, n_shells, n_inplanes)``."""
        if len(fourier) == 0:
            return
        parts = np.ascontiguousarray(fourier).view(fourier.real.dtype)
        flat = parts.reshape(len(fourier), -1)  # real, imaginary interleaved
        squares = np.einsum("ij,ij->j", flat, flat, dtype=np.float64)
        block = squares.reshape(*fourier.shape[1:], 2).sum(axis=-1)
        self.total = block if self.total is None else self.total + block
        self.n_images += len(fourier)

    def mean(self) -> np.ndarray:
        """Mean ``|F|²`` per grid point, shape ``(n_shells, n_inplanes)``.

        Raises
        ------
        ValueError
            If no image was added.
        """
        if self.total is None or self.n_images == 0:
            raise ValueError("no image was added to the power spectrum")
        return self.total / self.n_images

    def radial(self) -> np.ndarray:
        """Radially averaged spectrum: mean ``|F|²`` per shell, shape ``(n_shells,)``."""
        return np.asarray(self.mean().mean(axis=1), dtype=np.float64)


__all__ = ["PowerSpectrum", "shell_frequencies_per_angstrom"]
