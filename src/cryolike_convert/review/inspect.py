"""Reading back a finished output folder: its summary and overview plots."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cryolike_convert.errors import InputFileError, OutputError
from cryolike_convert.formats.npz import read_npz_safely
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.manifest import read_manifest
from cryolike_convert.output.plots import MAX_IMAGES, LensValues, image_labels
from cryolike_convert.output.removal import layout_file
from cryolike_convert.transform.spectrum import PowerSpectrum

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The npz lens members read for the summary and the CTF panels.
LENS_KEYS_READ: tuple[str, ...] = (
    "defocusU",
    "defocusV",
    "defocusAngle",
    "phaseShift",
    "voltage",
    "sphericalAberration",
    "amplitudeContrast",
)
_PER_STACK = frozenset({"voltage", "sphericalAberration", "amplitudeContrast"})
#: File names of the overview plots written by :func:`write_overview_plots`.
OVERVIEW_PLOTS: dict[str, str] = {
    "physical": "overview_physical_images.png",
    "fourier": "overview_fourier_magnitudes.png",
    "power_spectrum": "overview_power_spectrum.png",
    "ctf": "overview_ctf.png",
}
#: Images averaged for the overview power spectrum (evenly spaced).
SPECTRUM_IMAGES = 1024


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


def read_lens(layout: OutputLayout, manifest: dict[str, Any]) -> LensValues:
    """Read the CTF parameters of every image of every stack.

    Raises
    ------
    InputFileError
        If a stack's npz file is missing or unreadable.
    """
    parts: dict[str, list[np.ndarray]] = {key: [] for key in LENS_KEYS_READ}
    for entry in manifest.get("stacks", []):
        path = stack_file(layout, entry, "npz")
        members = read_npz_safely(path, set(LENS_KEYS_READ), error=InputFileError)
        n_images = int(entry["n_images"])
        for key in LENS_KEYS_READ:
            value = members.get(key)
            array = (
                np.asarray(value, dtype=np.float64).reshape(-1)
                if isinstance(value, np.ndarray)
                else np.full(1 if key in _PER_STACK else n_images, np.nan)
            )
            parts[key].append(array[:1] if key in _PER_STACK else array)
    joined = {
        key: np.concatenate(arrays) if arrays else np.empty(0)
        for key, arrays in parts.items()
    }
    return LensValues(
        defocus_u_angstrom=joined["defocusU"],
        defocus_v_angstrom=joined["defocusV"],
        defocus_angle_rad=joined["defocusAngle"],
        phase_shift_rad=joined["phaseShift"],
        voltage_kv=joined["voltage"],
        spherical_aberration_mm=joined["sphericalAberration"],
        amplitude_contrast_fraction=joined["amplitudeContrast"],
        n_images_per_stack=np.array(
            [int(e["n_images"]) for e in manifest.get("stacks", [])], dtype=np.int64
        ),
    )


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
    lens = read_lens(layout, manifest)
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
        defocus_u_angstrom=_value_range(lens.defocus_u_angstrom),
        defocus_v_angstrom=_value_range(lens.defocus_v_angstrom),
        phase_shift_rad=_value_range(lens.phase_shift_rad),
        skipped=sorted(skipped, key=lambda item: int(item["row"])),
        unconverted=dict(manifest.get("unconverted", {})),
        without_images=list(manifest.get("rows_without_images", [])),
        warnings=[str(text) for text in manifest.get("warnings", [])],
    )


def open_stack_tensor(path: Path) -> torch.Tensor:
    """Memory-map a stack's ``.pt`` file: only the rows that are indexed get read.

    Raises
    ------
    OutputError
        If the file is missing or does not hold one tensor.
    """
    try:
        tensor = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as err:
        raise OutputError(f"{path}: cannot be read as a tensor ({err})") from err
    if not isinstance(tensor, torch.Tensor):
        raise OutputError(f"{path}: holds {type(tensor).__name__}, not a tensor")
    return tensor


def evenly_spaced(n_total: int, n_wanted: int) -> np.ndarray:
    """At most ``n_wanted`` positions spread evenly over ``0 .. n_total - 1``, ascending."""
    if n_total <= 0 or n_wanted <= 0:
        return np.empty(0, dtype=np.int64)
    if n_wanted >= n_total:
        return np.arange(n_total, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, n_total - 1, n_wanted)).astype(np.int64))


def _stack_starts(manifest: dict[str, Any]) -> np.ndarray:
    counts = [int(entry["n_images"]) for entry in manifest.get("stacks", [])]
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


def _by_stack(
    manifest: dict[str, Any], positions: np.ndarray
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """``(manifest entry, positions within that stack)`` for ascending output positions."""
    starts = _stack_starts(manifest)
    stack_of = np.searchsorted(starts, positions, side="right") - 1
    stacks = manifest.get("stacks", [])
    for number in dict.fromkeys(stack_of.tolist()):
        yield stacks[number], positions[stack_of == number] - starts[number]


def iter_stack_rows(
    layout: OutputLayout,
    manifest: dict[str, Any],
    kind: str,
    positions: np.ndarray,
    block: int = 64,
) -> Iterator[np.ndarray]:
    """Read the images at ascending output ``positions`` (source order), in blocks.

    Only those rows are read from the memory-mapped ``.pt`` files.

    Parameters
    ----------
    layout, manifest
        The output folder and its manifest.
    kind
        ``'fourier'`` (``(k, n_shells, n_inplanes)`` blocks) or ``'phys'``
        (``(k, ny, nx)``).
    positions
        Indices into all images of the output, ascending.
    block
        Most images per yielded array.

    Raises
    ------
    OutputError
        If a file cannot be read or holds fewer images than the manifest says.
    """
    for entry, local in _by_stack(manifest, positions):
        path = stack_file(layout, entry, kind)
        for start in range(0, len(local), block):
            # Mapped anew for each block: the pages read go when the map does.
            tensor = open_stack_tensor(path)
            if len(tensor) != int(entry["n_images"]):
                raise OutputError(
                    f"{path}: holds {len(tensor)} images; manifest.json says "
                    f"{entry['n_images']}"
                )
            rows = tensor[torch.from_numpy(local[start : start + block])].numpy()
            del tensor
            yield rows


def read_image_labels(
    layout: OutputLayout, manifest: dict[str, Any], positions: np.ndarray
) -> list[str]:
    """Montage labels (source row and uid) of the images at output ``positions``.

    Raises
    ------
    InputFileError
        If a stack's npz file is missing or unreadable.
    """
    labels: list[str] = []
    for entry, local in _by_stack(manifest, positions):
        members = read_npz_safely(
            stack_file(layout, entry, "npz"),
            {"source_row", "source_uid"},
            error=InputFileError,
        )
        rows, uids = members.get("source_row"), members.get("source_uid")
        if not isinstance(rows, np.ndarray):
            number = int(entry["number"])
            labels += [f"stack {number} image {int(i)}" for i in local]
            continue
        labels += image_labels(
            rows[local], uids[local] if isinstance(uids, np.ndarray) else None
        )
    return labels


def overview_figures(
    root: str | Path, max_spectrum_images: int = SPECTRUM_IMAGES
) -> dict[str, Figure]:
    """Build the overview figures of an output folder (keys of :data:`OVERVIEW_PLOTS`).

    The montages show :data:`~cryolike_convert.output.plots.MAX_IMAGES` images
    evenly spaced over the whole output in source order, labelled with their
    source row and uid; the power spectrum averages ``|F|²`` over up to
    ``max_spectrum_images`` evenly spaced images; the CTF panels cover every image.
    Only the rows drawn are read from the memory-mapped stacks.

    Raises
    ------
    OutputError
        If the folder has no readable manifest or no image.
    """
    from cryolike_convert.output.plots import (
        ctf_figure,
        fourier_montage_figure,
        physical_montage_figure,
        power_spectrum_figure,
        sample_description,
    )

    layout, manifest = load_output_manifest(root)
    n_total = int(_stack_starts(manifest)[-1])
    if n_total == 0:
        raise OutputError(f"{layout.root}: holds no images to plot")
    descriptor = ImageDescriptor.load(stack_file(layout, manifest["stacks"][0], "npz"))
    shown = evenly_spaced(n_total, MAX_IMAGES)
    labels = read_image_labels(layout, manifest, shown)
    what = sample_description(len(shown), n_total, "evenly spaced in source order")
    name = layout.root.name
    power = PowerSpectrum()
    averaged = evenly_spaced(n_total, max_spectrum_images)
    for fourier in iter_stack_rows(layout, manifest, "fourier", averaged):
        power.add(fourier)
    spectrum_what = sample_description(len(averaged), n_total, "evenly spaced")
    lens = read_lens(layout, manifest)
    return {
        "physical": physical_montage_figure(
            np.concatenate(list(iter_stack_rows(layout, manifest, "phys", shown))),
            labels,
            f"{name}: physical images, {what}",
        ),
        "fourier": fourier_montage_figure(
            np.concatenate(list(iter_stack_rows(layout, manifest, "fourier", shown))),
            descriptor,
            labels,
            f"{name}: polar Fourier images, {what}",
        ),
        "power_spectrum": power_spectrum_figure(
            power, descriptor, f"{name}: power spectrum, mean of {spectrum_what}"
        ),
        "ctf": ctf_figure(lens, f"{name}: CTF parameters of {n_total:,} images"),
    }


def write_overview_plots(
    root: str | Path,
    plots_dir: str | Path,
    max_spectrum_images: int = SPECTRUM_IMAGES,
) -> dict[str, Path]:
    """Write the overview PNGs of an output folder (see :func:`overview_figures`).

    Parameters
    ----------
    root
        The output folder.
    plots_dir
        Folder for the PNGs (created if needed); names as in :data:`OVERVIEW_PLOTS`.
    max_spectrum_images
        Images averaged for the power spectrum.

    Returns
    -------
    dict
        Plot kind to the PNG path.

    Raises
    ------
    OutputError
        If the folder has no readable manifest or no image.
    """
    from cryolike_convert.output.plots import save_figure

    figures = overview_figures(root, max_spectrum_images)
    folder = Path(plots_dir).expanduser()
    paths = {kind: folder / OVERVIEW_PLOTS[kind] for kind in figures}
    for kind, figure in figures.items():
        save_figure(figure, paths[kind])
    return paths
