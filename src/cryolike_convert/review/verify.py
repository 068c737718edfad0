"""Checking a finished output folder against its manifest and its params file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryolike_convert.errors import ConversionError, InputFileError
from cryolike_convert.formats.checksum import matches
from cryolike_convert.formats.npz import OBJECT_MEMBER, read_npz_safely
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS, ImageDescriptor
from cryolike_convert.output.layout import OutputLayout, recorded_checksums
from cryolike_convert.output.stack_npz import (
    REQUIRED_NPZ_KEYS,
    member_problem,
    same_bits,
)
from cryolike_convert.review.inspect import load_output_manifest, stack_file
from cryolike_convert.transform.precision import complex_dtype


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an output folder: the file and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        """``path: message``."""
        return f"{self.path}: {self.message}"


@dataclass(slots=True, kw_only=True)
class VerificationReport:
    """What :func:`verify_output` checked and found."""

    root: Path
    params_path: Path | None = None
    n_stacks: int = 0
    n_images: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def add(self, path: Path | str, message: str) -> None:
        """Record a problem with ``path``."""
        self.problems.append(Problem(str(path), message))


def _reference_arrays(
    layout: OutputLayout,
    manifest: dict[str, Any],
    params: Path | None,
    report: VerificationReport,
) -> dict[str, object] | None:
    if params is None:
        recorded = manifest.get("inputs", {}).get("params", {}).get("path")
        params = Path(recorded) if recorded else None
    if params is None:
        stacks = manifest.get("stacks", [])
        if not stacks:
            return None
        try:
            params = stack_file(layout, stacks[0], "npz")
        except ConversionError as err:
            report.add(layout.manifest, str(err))
            return None
    report.params_path = params
    try:
        ImageDescriptor.load(params)
        return read_npz_safely(params, set(DESCRIPTOR_KEYS), error=InputFileError)
    except ConversionError as err:
        report.add(params, f"params file cannot be used ({err})")
        return None


def _check_manifest(
    layout: OutputLayout, manifest: dict[str, Any], report: VerificationReport
) -> None:
    where = layout.manifest
    if manifest.get("status") != "complete":
        report.add(
            where,
            f"run status is {manifest.get('status')!r}, not 'complete'; "
            "finish it with convert --resume",
        )
    stacks = manifest.get("stacks", [])
    numbers = [entry.get("number") for entry in stacks]
    if numbers != list(range(len(stacks))):
        report.add(
            where, f"stacks are numbered {numbers}; expected 0..{len(stacks) - 1}"
        )
    totals = manifest.get("totals", {})
    converted = sum(int(entry.get("n_images", 0)) for entry in stacks)
    if totals.get("n_converted") != converted or totals.get("n_stacks") != len(stacks):
        report.add(
            where,
            f"totals {totals} disagree with the {len(stacks)} stack entries "
            f"holding {converted} images",
        )
    accounted = converted + int(totals.get("n_skipped", 0))
    accounted += int(totals.get("n_unconverted", 0))
    if manifest.get("n_rows") is not None and accounted != manifest["n_rows"]:
        report.add(
            where,
            f"{manifest['n_rows']} input rows but {accounted} converted, skipped "
            "or unconverted",
        )
    listed = {
        layout.root / str(name)
        for entry in stacks
        for name in entry.get("files", {}).values()
    }
    for path in layout.existing_stack_files():
        if path not in listed:
            report.add(path, "stack file not listed in manifest.json")


def _check_files(
    layout: OutputLayout, entry: dict[str, Any], report: VerificationReport
) -> bool:
    """Check names, presence and checksums; return whether the names are right."""
    expected = {
        kind: layout.relative(path)
        for kind, path in layout.stack_files(int(entry.get("number", -1))).items()
    }
    if entry.get("files") != expected:
        report.add(
            layout.manifest,
            f"stack {entry.get('number')} lists files "
            f"{entry.get('files')}; expected {expected}",
        )
        return False
    checksums = recorded_checksums(entry)
    for kind, relative in expected.items():
        path = layout.root / relative
        if not path.is_file():
            report.add(path, "file is missing")
        elif not matches(path, checksums.get(kind)):
            report.add(path, "checksum differs from manifest.json (file changed)")
    return True


def _check_npz(
    path: Path,
    n_images: int,
    reference: dict[str, object] | None,
    report: VerificationReport,
) -> dict[str, object]:
    try:
        members = read_npz_safely(path, error=InputFileError)
    except ConversionError as err:
        report.add(path, str(err))
        return {}
    missing = [key for key in REQUIRED_NPZ_KEYS if key not in members]
    if missing:
        report.add(path, f"lacks key(s) {', '.join(missing)}")
    for key in REQUIRED_NPZ_KEYS:
        problem = (
            member_problem(key, members.get(key), n_images) if key in members else None
        )
        if problem:
            report.add(path, f"key {key!r} {problem}")
    count = members.get("n_images")
    if isinstance(count, np.ndarray) and count.size == 1 and int(count) != n_images:
        report.add(path, f"n_images is {int(count)}; manifest.json says {n_images}")
    for key in DESCRIPTOR_KEYS if reference is not None else ():
        ours, theirs = members.get(key), reference.get(key)  # type: ignore[union-attr]
        same = (ours is OBJECT_MEMBER and theirs is OBJECT_MEMBER) or (
            isinstance(ours, np.ndarray)
            and isinstance(theirs, np.ndarray)
            and same_bits(ours, theirs)
        )
        if key in members and not same:
            report.add(
                path, f"key {key!r} is not bit-identical to {report.params_path}"
            )
    return members


def _check_source_rows(
    path: Path,
    entry: dict[str, Any],
    members: dict[str, object],
    report: VerificationReport,
) -> None:
    ranges = entry.get("source_rows", [])
    expanded = np.concatenate(
        [np.arange(start, stop) for start, stop in ranges] or [np.empty(0, np.int64)]
    )
    if expanded.size != int(entry["n_images"]):
        report.add(
            path,
            f"manifest.json source_rows cover {expanded.size} rows; "
            f"n_images is {entry['n_images']}",
        )
    rows = members.get("source_row")
    if isinstance(rows, np.ndarray) and not np.array_equal(rows, expanded):
        report.add(path, "source_row differs from the manifest.json source_rows")


def _check_tensor(
    path: Path,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    report: VerificationReport,
) -> None:
    try:
        tensor = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # any failure means an unreadable file
        report.add(path, f"cannot be read as a tensor ({type(err).__name__}: {err})")
        return
    if not isinstance(tensor, torch.Tensor):
        report.add(path, f"holds {type(tensor).__name__}, not a tensor")
        return
    if tuple(tensor.shape) != shape or tensor.dtype != dtype:
        report.add(
            path,
            f"is {tensor.dtype} {list(tensor.shape)}; expected {dtype} {list(shape)}",
        )
    elif not bool(torch.isfinite(tensor).all()):
        report.add(path, "holds non-finite values")


def _check_stack(
    layout: OutputLayout,
    entry: dict[str, Any],
    descriptor: ImageDescriptor | None,
    reference: dict[str, object] | None,
    report: VerificationReport,
) -> None:
    if not _check_files(layout, entry, report):
        return
    n_images = int(entry["n_images"])
    npz = stack_file(layout, entry, "npz")
    if npz.is_file():
        members = _check_npz(npz, n_images, reference, report)
        _check_source_rows(npz, entry, members, report)
    if descriptor is None:
        return
    grid = descriptor.polar_grid
    expected = {
        "fourier": (
            (n_images, grid.n_shells, grid.n_inplanes),
            torch.from_numpy(np.empty(0, complex_dtype(descriptor.precision))).dtype,
        ),
        "phys": ((n_images, *descriptor.n_pixels), torch.float32),
    }
    for kind, (shape, dtype) in expected.items():
        path = stack_file(layout, entry, kind)
        if path.is_file():
            _check_tensor(path, shape, dtype, report)


def verify_output(
    root: str | Path, params: str | Path | None = None
) -> VerificationReport:
    """Re-read every stack of an output folder and check it.

    Checks the manifest (status, contiguous numbering, totals, stray files), every
    file's checksum, each npz's keys, dtypes, shapes and counts, the tensors' shapes
    ``[n, S, T]`` / ``[n, H, W]`` and dtypes against the precision, and that the
    descriptor keys are bit-identical to the params file.

    Parameters
    ----------
    root
        The output folder.
    params
        The params file to compare with; by default the one recorded in the
        manifest (or, for an in-memory descriptor, the first stack's npz).

    Returns
    -------
    VerificationReport
        Every problem found, each naming its file.

    Raises
    ------
    OutputError
        If the folder has no readable manifest.
    """
    layout, manifest = load_output_manifest(root)
    report = VerificationReport(root=layout.root)
    _check_manifest(layout, manifest, report)
    given = Path(params).expanduser() if params is not None else None
    reference = _reference_arrays(layout, manifest, given, report)
    descriptor = None
    if reference is not None and report.params_path is not None:
        descriptor = ImageDescriptor.load(report.params_path)
    for entry in manifest.get("stacks", []):
        _check_stack(layout, entry, descriptor, reference, report)
        report.n_stacks += 1
        report.n_images += int(entry.get("n_images", 0))
    return report
