"""Figures of converted stacks: montages, power spectra and CTF panels (never shown).

Each ``*_figure`` builder returns a :class:`matplotlib.figure.Figure` (no pyplot
state, so builders may run in threads and tests can read the axes);
:func:`save_figure` writes one as PNG atomically. The power spectrum itself is
computed in :mod:`cryolike_convert.transform.spectrum`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cryolike_convert.errors import INSTALL_HINTS, MissingDependencyError
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.layout import write_atomic
from cryolike_convert.transform.spectrum import (
    PowerSpectrum,
    shell_frequencies_per_angstrom,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Most images in a montage (as CryoLike).
MAX_IMAGES = 16
#: Resolutions (Å) that may label the top axis of the power spectrum.
_RESOLUTION_TICKS = (200, 100, 50, 30, 20, 15, 10, 8, 6, 5, 4, 3.5, 3, 2.5, 2, 1.5, 1)
_DPI = 100


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is a core dependency
        raise MissingDependencyError(
            f"plots need matplotlib: {INSTALL_HINTS['matplotlib']}"
        ) from err
    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def save_figure(figure: Figure, path: Path) -> str:
    """Write ``figure`` as PNG atomically (temporary name, fsync, rename).

    Returns
    -------
    str
        The recorded checksum of the PNG.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, lambda handle: figure.savefig(handle, format="png"))


def image_labels(
    source_row: np.ndarray, source_uid: np.ndarray | None = None
) -> list[str]:
    """Montage labels: ``row N`` and, when known, ``uid U`` on a second line."""
    if source_uid is None:
        return [f"row {int(row):,}" for row in source_row]
    return [
        f"row {int(row):,}\nuid {int(uid)}"
        for row, uid in zip(source_row, source_uid, strict=True)
    ]


def sample_description(n_shown: int, n_total: int, how: str) -> str:
    """Say what a figure shows: ``'16 of 2,000 images, evenly spaced'``."""
    if n_shown >= n_total:
        return f"all {n_total:,} image{'s' if n_total != 1 else ''}"
    return f"{n_shown:,} of {n_total:,} images, {how}"


def _grid_shape(n_images: int) -> tuple[int, int]:
    cols = max(1, math.ceil(math.sqrt(n_images)))
    return max(1, math.ceil(n_images / cols)), cols


def _montage_axes(figure: Figure, n_images: int) -> list[Axes]:
    rows, cols = _grid_shape(n_images)
    axes = figure.subplots(rows, cols, squeeze=False)
    for axis in axes.flat[n_images:]:
        axis.set_axis_off()
    for axis in axes.flat[:n_images]:
        axis.set_xticks([])
        axis.set_yticks([])
    return list(axes.flat)


def _robust_limits(
    values: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5)
) -> tuple[float, float]:
    """Colour limits that ignore the extreme tails (e.g. a bright DC value)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(finite, percentiles)
    return (
        (float(low), float(high))
        if high > low
        else (float(low) - 0.5, float(low) + 0.5)
    )


def physical_montage_figure(
    images: np.ndarray, labels: list[str], title: str
) -> Figure:
    """Montage of physical images, in the order given, on one grey scale.

    Parameters
    ----------
    images
        Shape ``(n_images, ny, nx)``; at most :data:`MAX_IMAGES` are drawn, row 0
        at the bottom (``origin='lower'``, as CryoLike).
    labels
        One label per image (see :func:`image_labels`).
    title
        Figure title; say what was sampled (see :func:`sample_description`).
    """
    shown = images[:MAX_IMAGES]
    rows, cols = _grid_shape(len(shown))
    figure = _new_figure(1.8 * cols + 1.2, 1.9 * rows + 0.6)
    axes = _montage_axes(figure, len(shown))
    low, high = _robust_limits(np.asarray(shown))
    mappable = None
    for axis, image, label in zip(axes, shown, labels, strict=False):
        mappable = axis.imshow(image, cmap="gray", origin="lower", vmin=low, vmax=high)
        axis.set_title(label, fontsize=7)
    if mappable is not None:
        figure.colorbar(
            mappable,
            ax=axes,
            shrink=0.6,
            extend="both",
            label="pixel value (mean 0, max |value| 1)",
        )
    figure.suptitle(title)
    return figure


@dataclass(frozen=True, slots=True)
class _PolarMesh:
    """Cell corners of the polar grid in frequency coordinates (1/Å)."""

    columns: np.ndarray
    rows: np.ndarray
    frequency_max: float
    nyquist: float
    lowest: float


def _polar_mesh(descriptor: ImageDescriptor) -> _PolarMesh:
    """Corners of the polar grid's cells, ``(n_shells + 1, n_inplanes + 1)`` each.

    The grid's angle runs from the row axis towards the column axis (CryoLike), so
    a point lies at ``f sin θ`` along columns and ``f cos θ`` along rows: drawn
    this way, the spectrum has the orientation of the physical montage.
    """
    grid = descriptor.polar_grid
    box = descriptor.box_size_angstrom()
    shells = shell_frequencies_per_angstrom(grid, box)
    middles = (shells[1:] + shells[:-1]) / 2
    outer = 2 * shells[-1] - middles[-1] if middles.size else 2 * shells[-1]
    edges = np.concatenate([[0.0], middles, [outer]])
    step = 2 * np.pi / grid.n_inplanes
    theta = np.arange(grid.n_inplanes + 1) * step - step / 2
    return _PolarMesh(
        columns=edges[:, None] * np.sin(theta)[None, :],
        rows=edges[:, None] * np.cos(theta)[None, :],
        frequency_max=float(shells[-1]),
        nyquist=1.0 / (2 * descriptor.pixel_size_angstrom[0]),
        lowest=1.0 / box,
    )


def _frequency_limit(mesh: _PolarMesh) -> float:
    return max(mesh.nyquist, mesh.frequency_max)


def fourier_montage_figure(
    fourier: np.ndarray, descriptor: ImageDescriptor, labels: list[str], title: str
) -> Figure:
    """Montage of polar Fourier images: ``log10 |F|`` in the frequency plane.

    Parameters
    ----------
    fourier
        Shape ``(n_images, n_shells, n_inplanes)``; at most :data:`MAX_IMAGES`.
    descriptor
        The output grid (frequencies come from its box and pixel size).
    labels
        One label per image.
    title
        Figure title; say what was sampled.
    """
    shown = fourier[:MAX_IMAGES]
    mesh = _polar_mesh(descriptor)
    rows, cols = _grid_shape(len(shown))
    figure = _new_figure(1.8 * cols + 1.2, 1.9 * rows + 0.8)
    axes = _montage_axes(figure, len(shown))
    magnitude = np.log10(np.abs(shown) + 1e-12)
    # log |F| of noisy data has a long tail of near-zeros: clip the lowest 10 %.
    low, high = _robust_limits(magnitude, (10.0, 99.9))
    limit = _frequency_limit(mesh)
    mappable = None
    for axis, image, label in zip(axes, magnitude, labels, strict=False):
        mappable = axis.pcolormesh(
            mesh.columns,
            mesh.rows,
            image,
            cmap="magma",
            vmin=low,
            vmax=high,
            rasterized=True,
        )
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.set_aspect("equal")
        axis.set_facecolor("black")
        axis.set_title(label, fontsize=7)
    if mappable is not None:
        figure.colorbar(
            mappable, ax=axes, shrink=0.6, extend="both", label="log10 |F| (normalised)"
        )
    figure.suptitle(
        f"{title}\nfrequency plane ±{limit:.3g} 1/Å (Nyquist {mesh.nyquist:.3g} 1/Å), "
        "zero frequency at the centre, columns across, rows up",
        fontsize=10,
    )
    return figure


def _resolution_ticks(low: float, high: float) -> list[float]:
    """Å values whose frequencies fall in ``[low, high]`` and are not crowded."""
    chosen: list[float] = []
    min_gap = (high - low) / 12
    for value in _RESOLUTION_TICKS:
        frequency = 1 / value
        if not low <= frequency <= high:
            continue
        if chosen and frequency - 1 / chosen[-1] < min_gap:
            continue
        chosen.append(value)
    return chosen


def _draw_radial(
    axis: Axes, power: np.ndarray, mesh: _PolarMesh, shells: np.ndarray
) -> None:
    """Radially averaged spectrum, x from 1/box to Nyquist, Å labels on top."""
    visible = shells >= mesh.lowest * (1 - 1e-9)
    axis.semilogy(
        shells[visible], power[visible], linewidth=1.2, marker=".", markersize=3
    )
    upper = _frequency_limit(mesh)
    axis.set_xlim(mesh.lowest, upper)
    if mesh.frequency_max > mesh.nyquist * (1 + 1e-9):
        axis.axvline(mesh.nyquist, color="grey", linestyle="--", linewidth=1)
        axis.text(
            mesh.nyquist,
            0.02,
            " Nyquist",
            transform=axis.get_xaxis_transform(),
            va="bottom",
            fontsize=8,
            color="grey",
        )
    axis.set_xlabel("spatial frequency (1/Å)")
    axis.set_ylabel("mean |F|² per shell (images normalised)")
    axis.grid(True, which="major", alpha=0.3)
    top = axis.secondary_xaxis("top", functions=(_inverse, _inverse))
    top.set_xticks(_resolution_ticks(mesh.lowest, upper))
    top.set_xticklabels([f"{t:g}" for t in _resolution_ticks(mesh.lowest, upper)])
    top.set_xlabel("resolution (Å)")
    axis.text(
        0.98,
        0.97,
        "radially averaged",
        ha="right",
        va="top",
        transform=axis.transAxes,
        fontsize=9,
    )


def _inverse(values: Any) -> Any:
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(values == 0, np.inf, 1.0 / np.where(values == 0, 1.0, values))


def _draw_power_2d(
    figure: Figure, axis: Axes, power: np.ndarray, mesh: _PolarMesh, shells: np.ndarray
) -> None:
    logarithm = np.log10(np.maximum(power, 1e-30))
    low, high = _robust_limits(logarithm[shells >= mesh.lowest])
    mappable = axis.pcolormesh(
        mesh.columns,
        mesh.rows,
        logarithm,
        cmap="magma",
        vmin=low,
        vmax=high,
        rasterized=True,
    )
    limit = _frequency_limit(mesh)
    axis.set_xlim(-limit, limit)
    axis.set_ylim(-limit, limit)
    axis.set_aspect("equal")
    axis.set_facecolor("black")
    axis.set_xlabel("frequency along columns (1/Å)")
    axis.set_ylabel("frequency along rows (1/Å)")
    axis.set_title("2-D, averaged over images", fontsize=10)
    if mesh.frequency_max > mesh.nyquist * (1 + 1e-9):
        from matplotlib.patches import Circle

        axis.add_patch(
            Circle(
                (0, 0), mesh.nyquist, fill=False, color="white", linestyle="--", lw=0.8
            )
        )
    figure.colorbar(mappable, ax=axis, extend="both", label="log10 mean |F|²")


def power_spectrum_figure(
    power: PowerSpectrum, descriptor: ImageDescriptor, title: str
) -> Figure:
    """The radially averaged and the 2-D power spectrum, side by side.

    Parameters
    ----------
    power
        ``|F|²`` accumulated over the images (at least one).
    descriptor
        The output grid: shells become spatial frequencies ``2 r / box`` (1/Å).
    title
        Figure title; say which images were averaged.
    """
    mesh = _polar_mesh(descriptor)
    shells = shell_frequencies_per_angstrom(
        descriptor.polar_grid, descriptor.box_size_angstrom()
    )
    figure = _new_figure(11.0, 4.6)
    radial_axis, plane_axis = figure.subplots(1, 2, width_ratios=(1.25, 1))
    _draw_radial(radial_axis, power.radial(), mesh, shells)
    _draw_power_2d(figure, plane_axis, power.mean(), mesh, shells)
    figure.suptitle(title)
    return figure


@dataclass(frozen=True, slots=True, kw_only=True)
class LensValues:
    """CTF parameters of a set of images, as the per-stack npz files hold them.

    Attributes
    ----------
    defocus_u_angstrom, defocus_v_angstrom, defocus_angle_rad, phase_shift_rad
        One value per image, shape ``(n_images,)``.
    voltage_kv, spherical_aberration_mm, amplitude_contrast_fraction
        One value per stack, shape ``(n_stacks,)``.
    n_images_per_stack
        Images in each stack, shape ``(n_stacks,)``.
    """

    defocus_u_angstrom: np.ndarray
    defocus_v_angstrom: np.ndarray
    defocus_angle_rad: np.ndarray
    phase_shift_rad: np.ndarray
    voltage_kv: np.ndarray
    spherical_aberration_mm: np.ndarray
    amplitude_contrast_fraction: np.ndarray
    n_images_per_stack: np.ndarray


def _histogram(axis: Axes, series: list[tuple[np.ndarray, str]], xlabel: str) -> None:
    """Step histograms of finite values on shared bins, integer count ticks."""
    from matplotlib.ticker import MaxNLocator

    finite = [values[np.isfinite(values)] for values, _ in series]
    pooled = np.concatenate(finite) if finite else np.empty(0)
    if pooled.size == 0:
        axis.text(0.5, 0.5, "no values", ha="center", transform=axis.transAxes)
    else:
        low, high = float(pooled.min()), float(pooled.max())
        if high - low < 1e-9 * max(1.0, abs(low)):
            low, high = low - 0.5, high + 0.5
        n_bins = int(np.clip(np.sqrt(pooled.size / len(series)), 5, 50))
        bins = np.linspace(low, high, n_bins + 1)
        for index, (values, (_, label)) in enumerate(zip(finite, series, strict=True)):
            axis.hist(
                values,
                bins=bins.tolist(),
                histtype="step",
                linewidth=1.5,
                linestyle=("-", "--")[index % 2],
                label=label,
            )
        if len(series) > 1:
            axis.legend(fontsize=8)
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel(xlabel)
    axis.set_ylabel("images")


def _weighted_values(values: np.ndarray, counts: np.ndarray, unit: str) -> str:
    """``'300 kV'``, or ``'200 kV (1,000 images), 300 kV (24 images)'``."""
    totals: dict[float, int] = {}
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        totals[value] = totals.get(value, 0) + int(count)
    if len(totals) == 1:
        return f"{next(iter(totals)):g}{unit}"
    return ", ".join(
        f"{value:g}{unit} ({count:,} images)" for value, count in totals.items()
    )


def ctf_figure(lens: LensValues, title: str) -> Figure:
    """CTF panels: defocus U/V, astigmatism ``|U − V|``, its angle, and the optics.

    Parameters
    ----------
    lens
        The images' CTF parameters.
    title
        Figure title.
    """
    figure = _new_figure(10.0, 7.0)
    axes = figure.subplots(2, 2)
    _histogram(
        axes[0, 0],
        [
            (lens.defocus_u_angstrom, "defocus U"),
            (lens.defocus_v_angstrom, "defocus V"),
        ],
        "defocus (Å)",
    )
    axes[0, 0].set_title("defocus", fontsize=10)
    astigmatism = np.abs(lens.defocus_u_angstrom - lens.defocus_v_angstrom)
    _histogram(axes[0, 1], [(astigmatism, "|U − V|")], "astigmatism |U − V| (Å)")
    axes[0, 1].set_title("astigmatism", fontsize=10)
    _histogram(
        axes[1, 0],
        [(np.degrees(lens.defocus_angle_rad), "angle")],
        "astigmatism angle (°, as stored in defocusAngle)",
    )
    axes[1, 0].set_title("astigmatism angle", fontsize=10)
    _draw_optics(axes[1, 1], lens)
    figure.suptitle(title)
    return figure


def _draw_optics(axis: Axes, lens: LensValues) -> None:
    counts = lens.n_images_per_stack
    phase = lens.phase_shift_rad[np.isfinite(lens.phase_shift_rad)]
    if phase.size == 0:
        phase_text = "not given"
    elif phase.min() == phase.max():
        phase_text = f"{np.degrees(phase.min()):.3g}°"
    else:
        phase_text = f"{np.degrees(phase.min()):.3g}° to {np.degrees(phase.max()):.3g}°"
    lines = [
        f"images: {int(counts.sum()):,} in {len(counts):,} stack(s)",
        f"voltage: {_weighted_values(lens.voltage_kv, counts, ' kV')}",
        f"spherical aberration Cs: "
        f"{_weighted_values(lens.spherical_aberration_mm, counts, ' mm')}",
        f"amplitude contrast: "
        f"{_weighted_values(lens.amplitude_contrast_fraction, counts, '')}",
        f"phase shift: {phase_text}",
    ]
    axis.set_axis_off()
    axis.text(
        0.02,
        0.95,
        "\n".join(lines),
        va="top",
        ha="left",
        fontsize=10,
        transform=axis.transAxes,
        linespacing=1.8,
    )
    axis.set_title("optics", fontsize=10)


def save_stack_plots(
    images: np.ndarray,
    fourier: np.ndarray,
    descriptor: ImageDescriptor,
    paths: dict[str, Path],
    power: PowerSpectrum,
    labels: list[str],
) -> None:
    """Write the three plots of one stack (CryoLike's names) to ``paths``.

    Parameters
    ----------
    images, fourier
        The stack's first images, physical and polar (at most :data:`MAX_IMAGES`).
    descriptor
        The output grid.
    paths
        ``phys``, ``fourier`` and ``power_spectrum`` PNG paths.
    power
        The ``|F|²`` of every image of the stack.
    labels
        One label per image in ``images``.
    """
    if power.n_images == 0:
        return
    stem = paths["phys"].stem.replace("particles_phys_", "")
    shown = sample_description(
        min(len(images), MAX_IMAGES), power.n_images, "the first"
    )
    figures = {
        "phys": physical_montage_figure(images, labels, f"{stem}: {shown}"),
        "fourier": fourier_montage_figure(
            fourier, descriptor, labels, f"{stem}: {shown}"
        ),
        "power_spectrum": power_spectrum_figure(
            power,
            descriptor,
            f"{stem}: power spectrum, {sample_description(power.n_images, power.n_images, '')}",
        ),
    }
    for kind, figure in figures.items():
        save_figure(figure, paths[kind])
