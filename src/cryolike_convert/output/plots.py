"""Figures of converted stacks: image montages and the power spectrum (never shown)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cryolike_convert.errors import INSTALL_HINTS, MissingDependencyError
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.layout import write_atomic

MAX_IMAGES = 16


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - matplotlib is a core dependency
        raise MissingDependencyError(
            f"plots need matplotlib: {INSTALL_HINTS['matplotlib']}"
        ) from err
    return plt


def _save(plt: Any, figure: Any, path: Path) -> None:
    """Save a figure as PNG atomically (temporary name, fsync, rename) and close it."""
    try:
        write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=80))
    finally:
        plt.close(figure)


def _grid_shape(n_images: int) -> tuple[int, int]:
    rows = max(1, math.ceil(math.sqrt(n_images)))
    return rows, max(1, math.ceil(n_images / rows))


def plot_physical_montage(images: np.ndarray, path: Path, title: str) -> None:
    """Up to 16 centred physical images, rows down, grey scale."""
    plt = _pyplot()
    shown = images[:MAX_IMAGES]
    rows, cols = _grid_shape(len(shown))
    figure, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, image in zip(axes.flat, shown, strict=False):
        axis.imshow(image, cmap="gray", origin="lower")
    figure.suptitle(title)
    _save(plt, figure, path)


def plot_fourier_montage(
    fourier: np.ndarray, descriptor: ImageDescriptor, path: Path, title: str
) -> None:
    """Up to 16 polar Fourier images: log10 |F| against angle and shell radius."""
    plt = _pyplot()
    grid = descriptor.polar_grid
    shown = fourier[:MAX_IMAGES]
    rows, cols = _grid_shape(len(shown))
    figure, axes = plt.subplots(
        rows,
        cols,
        figsize=(2 * cols, 2 * rows),
        squeeze=False,
        subplot_kw={"projection": "polar"},
    )
    theta = np.append(grid.theta_shell, 2 * np.pi)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, image in zip(axes.flat, shown, strict=False):
        magnitude = np.log10(
            np.abs(np.concatenate([image, image[:, :1]], axis=1)) + 1e-12
        )
        axis.pcolormesh(
            theta, grid.radius_shells, magnitude, shading="auto", cmap="viridis"
        )
    figure.suptitle(
        title + "\nlog10 |F|: angle θ around, shell radius outward (DC at centre)"
    )
    _save(plt, figure, path)


def power_spectrum(fourier: np.ndarray) -> np.ndarray:
    """Mean over images and angles of ``|F|^2`` per shell, shape ``(n_shells,)``."""
    return np.asarray(np.mean(np.abs(fourier) ** 2, axis=(0, 2)), dtype=np.float64)


def plot_radial_power(
    power: np.ndarray, descriptor: ImageDescriptor, path: Path, title: str
) -> None:
    """Plot a radially averaged power spectrum against resolution.

    Parameters
    ----------
    power
        Mean ``|F|^2`` per shell, shape ``(n_shells,)`` (see :func:`power_spectrum`).
    descriptor
        The output grid; shell radii become resolutions in Å.
    path
        Where the PNG goes.
    title
        Figure title.
    """
    plt = _pyplot()
    grid = descriptor.polar_grid
    resolution = grid.resolution_angstrom(descriptor.box_size_angstrom())
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.loglog(resolution, power, marker=".", linewidth=1)
    axis.invert_xaxis()
    axis.set_xlabel("resolution (Å)")
    axis.set_ylabel("mean |F|² (normalised)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    _save(plt, figure, path)


def plot_defocus_histogram(
    defocus_u_angstrom: np.ndarray,
    defocus_v_angstrom: np.ndarray,
    path: Path,
    title: str,
) -> None:
    """Histogram of the per-image defocus U and V values.

    Parameters
    ----------
    defocus_u_angstrom, defocus_v_angstrom
        Defocus along the two astigmatism axes, Å, shape ``(n_images,)``.
    path
        Where the PNG goes.
    title
        Figure title.
    """
    plt = _pyplot()
    values = np.concatenate([defocus_u_angstrom, defocus_v_angstrom])
    finite = values[np.isfinite(values)]
    span = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if span[0] == span[1]:
        span = (span[0] - 0.5, span[1] + 0.5)
    bins = np.linspace(span[0], span[1], max(5, min(50, finite.size // 4)) + 1)
    figure, axis = plt.subplots(figsize=(5, 3.5))
    for values_one, label in (
        (defocus_u_angstrom, "defocus U"),
        (defocus_v_angstrom, "defocus V"),
    ):
        axis.hist(values_one, bins=bins, histtype="step", linewidth=1.5, label=label)
    axis.set_xlabel("defocus (Å)")
    axis.set_ylabel("number of images")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    _save(plt, figure, path)


def save_stack_plots(
    images: np.ndarray,
    fourier: np.ndarray,
    descriptor: ImageDescriptor,
    paths: dict[str, Path],
    power: np.ndarray | None = None,
) -> None:
    """Write the three plots of one stack to ``paths``.

    The keys of ``paths`` are ``phys``, ``fourier`` and ``power_spectrum``.

    ``images``/``fourier`` may be the first images only; ``power`` is then the
    stack's whole radial power spectrum (default: that of ``fourier``).
    """
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    stem = paths["phys"].stem.replace("particles_phys_", "")
    if len(images) == 0:
        return
    plot_physical_montage(images, paths["phys"], f"{stem}: physical images")
    plot_fourier_montage(
        fourier, descriptor, paths["fourier"], f"{stem}: polar Fourier"
    )
    plot_radial_power(
        power_spectrum(fourier) if power is None else power,
        descriptor,
        paths["power_spectrum"],
        f"{stem}: power spectrum",
    )
