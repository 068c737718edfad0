"""The polar grid against CryoLike's verified values (reference §2.2)."""

from __future__ import annotations

import numpy as np
import pytest

from cryolike_convert.transform.polar_grid import PolarGrid


def grid_r8() -> PolarGrid:
    return PolarGrid(radius_max=8.0, dist_radii=0.25, n_inplanes=64)


def test_shell_radii_and_weights_match_reference() -> None:
    grid = grid_r8()
    assert grid.n_shells == 33
    np.testing.assert_allclose(
        grid.radius_shells[:4],
        [
            0.02537445901947377,
            0.08485132737442225,
            0.17773271401500068,
            0.3032188976789021,
        ],
        rtol=1e-12,
    )
    assert grid.radius_shells[-1] == pytest.approx(7.9899972165333, rel=1e-12)
    np.testing.assert_allclose(
        grid.weight_shells[:4],
        [
            1.7192458358043e-4,
            1.03026045844798e-3,
            3.09289589783718e-3,
            6.8263948835611e-3,
        ],
        rtol=1e-10,
    )
    assert grid.weight_shells.sum() == pytest.approx(64 / (4 * np.pi), rel=1e-12)


def test_points_are_shell_major() -> None:
    grid = grid_r8()
    x, y = grid.points()
    assert grid.theta_shell[1] == pytest.approx(0.09817477042468103, rel=1e-14)
    assert x[65] == pytest.approx(0.0844427450408875, rel=1e-12)
    assert y[65] == pytest.approx(0.008316884462408233, rel=1e-12)


@pytest.mark.parametrize("n", [32, 64, 128])
def test_quadrature_integrates_disc_area_and_gaussian(n: int) -> None:
    grid = PolarGrid(radius_max=n / 4, dist_radii=0.25, n_inplanes=2 * n)
    weights = grid.integration_weights()
    assert weights.sum() == pytest.approx(np.pi * (n / 4) ** 2, rel=1e-10)
    sigma = n / 16
    radius = np.repeat(grid.radius_shells, grid.n_inplanes).reshape(weights.shape)
    integral = (np.exp(-(radius**2) / (2 * sigma**2)) * weights).sum()
    exact = 2 * np.pi * sigma**2 * (1 - np.exp(-((n / 4) ** 2) / (2 * sigma**2)))
    assert integral == pytest.approx(exact, rel=1e-8)


def test_resolution_axis_uses_box() -> None:
    grid = grid_r8()
    resolution = grid.resolution_angstrom(64.0)
    assert resolution[-1] == pytest.approx(64.0 / (2 * 7.9899972165333))
