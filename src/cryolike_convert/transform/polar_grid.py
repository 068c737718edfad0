"""The Fourier polar grid: Gauss–Jacobi shells, uniform angles, quadrature weights."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import roots_jacobi


@dataclass(frozen=True, slots=True)
class PolarGrid:
    """A uniform polar grid in CryoLike's conventions (pure numpy).

    Coordinates are in "cycles per half box": a point at radius ``r`` has spatial
    frequency ``2 r / box`` cycles/Å. Points are ordered shell-major, ``p = s*T + t``.

    Parameters
    ----------
    radius_max
        Outer radius ``R``.
    dist_radii
        Nominal spacing between shells; ``n_shells = 1 + ceil(R / dist_radii)``.
    n_inplanes
        Number of angles ``T`` per shell; ``theta_t = 2 pi t / T``.
    """

    radius_max: float
    dist_radii: float
    n_inplanes: int
    radius_shells: np.ndarray = field(init=False, repr=False)
    weight_shells: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.radius_max > 0 and self.dist_radii > 0 and self.n_inplanes > 0):
            raise ValueError(
                "PolarGrid needs radius_max > 0, dist_radii > 0 and n_inplanes > 0; got "
                f"{self.radius_max}, {self.dist_radii}, {self.n_inplanes}"
            )
        n_shells = 1 + math.ceil(self.radius_max / self.dist_radii)
        nodes, weights = roots_jacobi(n_shells, 0.0, 1.0)
        half = self.radius_max / 2.0
        radii = (nodes + 1.0) * half
        shell_weights = weights * (2 * np.pi) * half**2 / (2 * np.pi) ** 2
        object.__setattr__(self, "radius_shells", radii)
        object.__setattr__(self, "weight_shells", shell_weights)

    @property
    def n_shells(self) -> int:
        """Number of radial shells ``S``."""
        return int(self.radius_shells.size)

    @property
    def n_points(self) -> int:
        """Number of grid points ``S * T``."""
        return self.n_shells * self.n_inplanes

    @property
    def theta_shell(self) -> np.ndarray:
        """Angles of one shell, radians, shape ``(T,)``."""
        return np.linspace(0.0, 2 * np.pi, self.n_inplanes, endpoint=False)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the grid points ``(x, y)``, each float64 of shape ``(S*T,)``."""
        radius = np.repeat(self.radius_shells, self.n_inplanes)
        theta = np.tile(self.theta_shell, self.n_shells)
        return radius * np.cos(theta), radius * np.sin(theta)

    def integration_weights(self) -> np.ndarray:
        """Quadrature weights for ∫∫ f r dr dθ, float64 of shape ``(S, T)``."""
        per_point = np.repeat(self.weight_shells, self.n_inplanes) / self.n_inplanes
        return (per_point * (2 * np.pi) ** 2).reshape(self.n_shells, self.n_inplanes)

    def resolution_angstrom(self, box_angstrom: float) -> np.ndarray:
        """Resolution of each shell, Å, for a box of the given size, shape ``(S,)``."""
        return box_angstrom / (2.0 * self.radius_shells)


def pixel_frequencies(
    grid: PolarGrid, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The grid points as phases per pixel, ``(k1, k2)``, float64 of shape ``(S*T,)``.

    ``k1 = x * 2 pi * 2 / n_x`` along image axis 1 (MRC rows) and ``k2`` likewise along
    axis 2 (MRC columns), evaluated as ``((x * 2 pi) * 2) / n`` like CryoLike; a point
    at radius ``n / 4`` (Nyquist) has phase ``pi`` per pixel.
    """
    x_points, y_points = grid.points()
    return ((x_points * 2 * np.pi) * 2) / shape[0], (
        (y_points * 2 * np.pi) * 2
    ) / shape[1]
