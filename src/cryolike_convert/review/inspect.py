"""Reading back a finished output folder: its summary and overview plots."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryolike_convert.errors import OutputError
from cryolike_convert.formats.npz import read_npz_safely
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.manifest import read_manifest
from cryolike_convert.output.removal import layout_file

#: The per-image lens arrays read for the summary and the defocus histogram.
LENS_SUMMARY_KEYS: tuple[str, ...] = ("defocusU", "defocusV", "phaseShift")
#: File names of the overview plots written by :func:`write_overview_plots`.
OVERVIEW_PLOTS: dict[str, str] = {
    "physical": "overview_physical_images.png",
    "fourier": "overview_fourier_magnitudes.png",
    "power_spectrum": "overview_power_spectrum.png",
    "defocus": "overview_defocus_histogram.png",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSummary:
    """What an output folder holds, read from its manifest and npz files.

    Attributes
    ----------
    root
        The output folder.
    status
        ``'complete'``, or ``'running'`` for an interrupted run.
    n_rows, n_stacks, n_images
        Rows of the input table, stacks written, images converted.
    grid
        The grid as the manifest records it (``n_pixels``, ``n_shells``, ...).
    pixel_size
        Source and output pixel size (Å) and where the source value came from.
    defocus_u_angstrom, defocus_v_angstrom, phase_shift_rad
        ``(min, max)`` over all images, or ``None`` when there are no images.
    skipped
        Every skipped row: ``{"row": int, "reason": str}``.
    unconverted
        Rows left out on purpose (``n_rows``, ``reason``, ``rows`` ranges).
    without_images
        Rows no image belongs to (job folders): ``{"rows": ranges, "reason": str}``.
    warnings
        Oddities of the input that the run worked around or reported.
    """

    root: Path
    status: str
    n_rows: int
    n_stacks: int
    n_images: int
    grid: dict[str, Any]
    pixel_size: dict[str, Any]
    defocus_u_angstrom: tuple[float, float] | None
    defocus_v_angstrom: tuple[float, float] | None
    phase_shift_rad: tuple[float, float] | None
    skipped: list[dict[str, Any]]
    unconverted: dict[str, Any]
    without_images: list[dict[str, Any]]
    warnings: list[str]


def load_output_manifest(root: str | Path) -> tuple[OutputLayout, dict[str, Any]]:
    """Open an output folder and read its manifest.

    Raises
    ------
    OutputError
        If the folder or its ``manifest.json`` is missing or unreadable.
    """
    layout = OutputLayout(Path(root).expanduser().resolve())
    if not layout.root.is_dir():
        raise OutputError(f"{layout.root}: no such output folder")
    manifest = read_manifest(layout)
    if manifest is None:
        raise OutputError(
            f"{layout.root}: has no manifest.json; not a cryolike output folder"
        )
    return layout, manifest


def stack_file(layout: OutputLayout, entry: dict[str, Any], kind: str) -> Path:
    """The path of one file (``fourier``, ``npz`` or ``phys``) of a manifest entry.

    Raises
    ------
    OutputError
        If the manifest names a file outside the output layout (``..``, an
        absolute path, another name): it is never opened.
    """
    relative = entry.get("files", {}).get(kind)
    path = layout_file(layout, relative)
    if path is None:
        raise OutputError(
            f"{layout.manifest}: stack {entry.get('number')} names {relative!r} as its "
            f"{kind} file, which is not a file of the output layout"
        )
    return path


def read_lens_values(
    layout: OutputLayout, manifest: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Concatenate defocus U/V (Å) and phase shift (rad) over all stacks.

    Raises
    ------
    InputFileError
        If a stack's npz file is missing or unreadable.
    """
    parts: dict[str, list[np.ndarray]] = {key: [] for key in LENS_SUMMARY_KEYS}
    for entry in manifest.get("stacks", []):
        members = read_npz_safely(
            stack_file(layout, entry, "npz"), set(LENS_SUMMARY_KEYS)
        )
        for key in LENS_SUMMARY_KEYS:
            value = members.get(key)
            if isinstance(value, np.ndarray):
                parts[key].append(np.asarray(value, dtype=np.float64).reshape(-1))
    return {
        key: np.concatenate(arrays) if arrays else np.empty(0)
        for key, arrays in parts.items()
    }


def _value_range(values: np.ndarray) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return float(finite.min()), float(finite.max())


def summarize_output(root: str | Path) -> OutputSummary:
    """Summarize an output folder (manifest plus the lens values of every stack).

    Raises
    ------
    OutputError
        If the folder has no readable manifest.
    InputFileError
        If a stack's npz file is missing or unreadable.
    """
    layout, manifest = load_output_manifest(root)
    lens = read_lens_values(layout, manifest)
    stacks = manifest.get("stacks", [])
    skipped = list(manifest.get("skipped", []))
    skipped += [item for entry in stacks for item in entry.get("skipped", [])]
    return OutputSummary(
        root=layout.root,
        status=str(manifest.get("status", "unknown")),
        n_rows=int(
            manifest.get("totals", {}).get("n_rows") or manifest.get("n_rows") or 0
        ),
        n_stacks=len(stacks),
        n_images=sum(int(entry["n_images"]) for entry in stacks),
        grid=dict(manifest.get("grid", {})),
        pixel_size=dict(manifest.get("pixel_size", {})),
        defocus_u_angstrom=_value_range(lens["defocusU"]),
        defocus_v_angstrom=_value_range(lens["defocusV"]),
        phase_shift_rad=_value_range(lens["phaseShift"]),
        skipped=sorted(skipped, key=lambda item: int(item["row"])),
        unconverted=dict(manifest.get("unconverted", {})),
        without_images=list(manifest.get("rows_without_images", [])),
        warnings=[str(text) for text in manifest.get("warnings", [])],
    )


def _load_tensor(path: Path) -> np.ndarray:
    tensor = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(tensor, torch.Tensor):
        raise OutputError(f"{path}: holds {type(tensor).__name__}, not a tensor")
    return tensor.numpy()


def _fourier_stacks(
    layout: OutputLayout, manifest: dict[str, Any], max_images: int
) -> Iterator[np.ndarray]:
    remaining = max_images
    for entry in manifest.get("stacks", []):
        if remaining <= 0:
            return
        fourier = _load_tensor(stack_file(layout, entry, "fourier"))[:remaining]
        remaining -= len(fourier)
        yield fourier


def write_overview_plots(
    root: str | Path,
    plots_dir: str | Path,
    max_spectrum_images: int = 1024,
) -> dict[str, Path]:
    """Write overview PNGs of an output folder.

    The montages show the first images of the first stack; the power spectrum
    averages ``|F|^2`` over up to ``max_spectrum_images`` images; the defocus
    histogram covers every image.

    Parameters
    ----------
    root
        The output folder.
    plots_dir
        Folder for the PNGs (created if needed); names as in :data:`OVERVIEW_PLOTS`.
    max_spectrum_images
        Images read for the power spectrum.

    Returns
    -------
    dict
        Plot kind to the PNG path.

    Raises
    ------
    OutputError
        If the folder has no readable manifest or no stack.
    """
    from cryolike_convert.output.plots import (
        plot_defocus_histogram,
        plot_fourier_montage,
        plot_physical_montage,
        plot_radial_power,
    )

    layout, manifest = load_output_manifest(root)
    stacks = manifest.get("stacks", [])
    if not stacks:
        raise OutputError(f"{layout.root}: holds no stacks to plot")
    folder = Path(plots_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / name for kind, name in OVERVIEW_PLOTS.items()}
    descriptor = ImageDescriptor.load(stack_file(layout, stacks[0], "npz"))
    physical = _load_tensor(stack_file(layout, stacks[0], "phys"))
    plot_physical_montage(
        physical, paths["physical"], f"{layout.root.name}: first physical images"
    )
    power_sum, n_images = None, 0
    for fourier in _fourier_stacks(layout, manifest, max_spectrum_images):
        if n_images == 0:
            plot_fourier_montage(
                fourier, descriptor, paths["fourier"], f"{layout.root.name}: polar"
            )
        power = np.sum(np.abs(fourier) ** 2, axis=(0, 2)) / fourier.shape[2]
        power_sum = power if power_sum is None else power_sum + power
        n_images += len(fourier)
    plot_radial_power(
        np.asarray(power_sum) / max(n_images, 1),
        descriptor,
        paths["power_spectrum"],
        f"power spectrum ({n_images} images)",
    )
    lens = read_lens_values(layout, manifest)
    plot_defocus_histogram(
        lens["defocusU"],
        lens["defocusV"],
        paths["defocus"],
        f"defocus of {lens['defocusU'].size} images",
    )
    return paths
