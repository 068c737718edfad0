"""Up-front checks of a whole run: stacks, pixel size, grid and lens values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryolike_convert.errors import (
    PIXEL_SIZE,
    SKIP_MISSING,
    STACK_FOLDERS,
    ConversionError,
    GridMismatchError,
    ImageStackError,
    MetadataError,
    PixelSizeError,
    spelled,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import OptionError
from cryolike_convert.readers.mrc import StackInfo, inspect_stack
from cryolike_convert.readers.paths import ResolvedStack, clean_stored_path
from cryolike_convert.transform.preprocess import downsampled_geometry

MAX_LISTED = 20
PIXEL_SIZE_RTOL = 1e-4
GRID_PIXEL_SIZE_RTOL = 1e-3


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A metadata row that was not converted, and why."""

    position: int
    reason: str


@dataclass(frozen=True, slots=True)
class PixelSize:
    """The source pixel size (before downsampling) and where it came from."""

    angstrom: float
    source: str
    from_metadata: float | None


def _problem_list(problems: list[str]) -> str:
    listed = "\n  ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return listed + (f"\n  ... and {more} more" if more > 0 else "")


#: Rows named per problem before the rest is counted.
ROWS_LISTED = 5


def _rows_text(metadata: ParticleMetadata, rows: np.ndarray) -> str:
    """``N row(s): rows a, b, c, …`` (the first :data:`ROWS_LISTED` source rows)."""
    listed = ", ".join(str(int(r)) for r in metadata.source_row[rows[:ROWS_LISTED]])
    more = ", …" if len(rows) > ROWS_LISTED else ""
    return f"{len(rows)} row(s): row{'s' if len(rows) > 1 else ''} {listed}{more}"


def _missing_groups(
    metadata: ParticleMetadata, rows: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """Rows whose stack was not found, grouped by their (cleaned) stored path."""
    raw, inverse = np.unique(metadata.stored_path[rows], return_inverse=True)
    cleaned = [clean_stored_path(value) for value in raw]
    groups: dict[str, list[np.ndarray]] = {}
    inverse = inverse.reshape(-1)
    for code, stored in enumerate(cleaned):
        groups.setdefault(stored, []).append(rows[inverse == code])
    merged = [
        (stored, np.sort(np.concatenate(parts))) for stored, parts in groups.items()
    ]
    return sorted(merged, key=lambda item: int(item[1][0]))


def check_stacks(
    metadata: ParticleMetadata,
    resolution: list[ResolvedStack] | None,
    skip: bool,
) -> tuple[dict[str, StackInfo], list[SkippedRow]]:
    """Open every referenced stack's header and check every requested index.

    Returns the header of every readable stack and, when ``skip`` is set, the rows
    that cannot be converted, each with the reason for its own file. Without
    ``skip`` any problem raises, listing every problem (the first 20 and a count),
    before anything is written: one problem per missing or unreadable file, with
    its number of rows and the first of them, and one per out-of-range index.

    Raises
    ------
    ImageStackError
        If stacks are missing, unreadable or too short, and ``skip`` is false.
    """
    if metadata.stack_file_index is None:
        raise ConversionError(
            f"{metadata.source_path}: stack paths were never resolved"
        )
    resolved = {str(item.stored): item for item in resolution or []}
    infos: dict[str, StackInfo] = {}
    failures: dict[str, str] = {}
    for path in metadata.stack_files:
        try:
            infos[path] = inspect_stack(Path(path))
        except ConversionError as err:
            failures[path] = str(err)
    problems: list[str] = []
    skipped: list[SkippedRow] = []
    codes = metadata.stack_file_index + 1  # 0: not found
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(metadata.stack_files) + 1)
    groups = np.split(order, np.cumsum(counts)[:-1])
    per_file: list[tuple[str, np.ndarray, str]] = []
    if groups[0].size:
        for stored, rows in _missing_groups(metadata, groups[0]):
            per_file.append((stored, rows, _not_found(stored, resolved.get(stored))))
    for path, rows in zip(metadata.stack_files, groups[1:], strict=True):
        if rows.size and path in failures:
            per_file.append((path, rows, failures[path]))
    for _, rows, reason in sorted(per_file, key=lambda item: int(item[1][0])):
        problems.append(
            f"{metadata.row_label(int(rows[0]))}: {reason} ({_rows_text(metadata, rows)})"
        )
        skipped += [SkippedRow(int(row), reason) for row in rows]
    for path, rows in zip(metadata.stack_files, groups[1:], strict=True):
        if rows.size == 0 or path in failures:
            continue
        n_images = infos[str(path)].n_images
        bad = rows[metadata.stack_index[rows] >= n_images]
        for row in bad:
            reason = (
                f"{metadata.label('stack_index')} {int(metadata.stack_index[row])} is out "
                f"of range: {path} holds {n_images} image(s)"
            )
            problems.append(f"{metadata.row_label(int(row))}: {reason}")
            skipped.append(SkippedRow(int(row), reason))
    if problems and not skip:
        raise ImageStackError(
            f"{metadata.source_path}: {len(problems)} problem(s) with the image stacks; "
            f"nothing was written:\n  {_problem_list(problems)}\n"
            f"Fix the paths ({STACK_FOLDERS}) or pass {SKIP_MISSING} to convert the "
            "rest."
        )
    return infos, sorted(skipped, key=lambda item: item.position)


def _printable(text: str) -> str:
    """``text`` with control characters (a NUL, a newline) written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _not_found(stored: str, resolved: ResolvedStack | None) -> str:
    """Why the stack file of stored path ``stored`` was not found, and where we looked."""
    shown = _printable(stored)
    if resolved is None:
        return f"stack file not found: {shown}"
    where = ", ".join(_printable(str(p)) for p in resolved.tried)
    text = f"stack file not found: {shown}"
    if resolved.problems:
        problems = _printable("; ".join(resolved.problems))
        text = f"stack file cannot be opened: {shown} ({problems})"
    return f"{text} (looked for: {where})" if where else text


def check_image_shape(infos: dict[str, StackInfo]) -> tuple[int, int]:
    """The one image shape of all stacks.

    Raises
    ------
    ImageStackError
        On mixed or non-square image shapes.
    """
    shapes: dict[tuple[int, int], list[str]] = {}
    for path, info in infos.items():
        shapes.setdefault(info.shape, []).append(path)
    if len(shapes) > 1:
        listed = "; ".join(
            f"{s[0]}×{s[1]} in {files[0]}" for s, files in shapes.items()
        )
        raise ImageStackError(
            f"stacks hold images of different sizes ({listed}); convert each box size "
            "separately with its own params file"
        )
    shape = next(iter(shapes))
    if shape[0] != shape[1]:
        raise ImageStackError(
            f"{shapes[shape][0]}: images are {shape[0]}×{shape[1]} pixels; expected "
            "square images"
        )
    return shape


def _unique_value(values: np.ndarray, rtol: float) -> float | None:
    distinct = np.unique(values.astype(np.float64))
    if distinct.size and np.all(
        np.abs(distinct - distinct[0]) <= rtol * abs(distinct[0])
    ):
        return float(values[0])
    return None


def determine_pixel_size(
    metadata: ParticleMetadata, infos: dict[str, StackInfo], manual: float | None
) -> PixelSize:
    """Manual pixel size > metadata (all rows must agree) > MRC header.

    Raises
    ------
    PixelSizeError
        On disagreement between rows, between manual and metadata values, or if
        no source gives a pixel size.
    """
    from_metadata: float | None = None
    if metadata.pixel_size_angstrom is not None and len(metadata):
        values = np.asarray(metadata.pixel_size_angstrom, dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if bad.size and not (manual is not None and bad.size == len(values)):
            row = int(bad[0])
            raise PixelSizeError(
                f"{metadata.source_path}: {metadata.row_label(row)} — "
                f"{metadata.label('pixel_size_angstrom')} is {values[row]:g} Å; expected "
                f"a positive, finite pixel size ({bad.size} row(s) affected). Fix the "
                "metadata, or pass pixel_size if no row has one."
            )
        from_metadata = None if bad.size else _unique_value(values, PIXEL_SIZE_RTOL)
        if from_metadata is None and not bad.size:
            distinct = np.unique(metadata.pixel_size_angstrom)
            raise PixelSizeError(
                f"{metadata.source_path}: rows disagree on the pixel size "
                f"({metadata.label('pixel_size_angstrom')}) "
                f"({', '.join(f'{v:g}' for v in distinct[:10])} Å); convert each pixel "
                "size separately"
            )
    if manual is not None:
        if (
            from_metadata is not None
            and abs(manual - from_metadata) > PIXEL_SIZE_RTOL * from_metadata
        ):
            raise PixelSizeError(
                f"{metadata.source_path}: "
                f"{spelled(f'pixel_size={manual:g}', f'--pixel-size {manual:g}')} Å was "
                f"given but the metadata ({metadata.label('pixel_size_angstrom')}) says "
                f"{from_metadata:g} Å; leave out {PIXEL_SIZE} or fix the metadata"
            )
        return PixelSize(float(manual), "manual", from_metadata)
    if from_metadata is not None:
        return PixelSize(float(from_metadata), "metadata", from_metadata)
    headers = np.array([info.voxel_size_angstrom for info in infos.values()])
    headers = headers[np.isfinite(headers) & (headers > 0)]
    value = _unique_value(headers, PIXEL_SIZE_RTOL) if headers.size else None
    if value is None:
        what = "disagree" if headers.size else "are unset (0)"
        raise PixelSizeError(
            f"{metadata.source_path}: no pixel size in the metadata and the MRC headers {what}; "
            f"pass {PIXEL_SIZE} (Å per pixel of the stored images)"
        )
    return PixelSize(value, "mrc_header", None)


#: Pooling factors above this look like a box size (``--downsample 128``).
FACTOR_HINT_ABOVE = 8


def downsample_hint(factor: int) -> str:
    """A hint for a pooling factor that was probably meant as a target box."""
    if factor <= FACTOR_HINT_ABOVE:
        return ""
    box = spelled(f"downsample_box={factor}", f"--box {factor}")
    return (
        f" Note: {spelled(f'downsample_factor={factor}', f'--downsample {factor}')} "
        f"pools {factor}×{factor}-pixel blocks; to downsample to a {factor}-px box "
        f"(Fourier cropping) use {box}."
    )


def check_grid(
    descriptor: ImageDescriptor,
    shape: tuple[int, int],
    pixel_size: float,
    factor: int,
    box: int | None = None,
) -> None:
    """The images after downsampling must be the params file's grid.

    Parameters
    ----------
    descriptor
        The params file's grid.
    shape
        Stored image shape, pixels.
    pixel_size
        Stored pixel size, Å.
    factor, box
        Pooling factor, or Fourier-cropping target box (wins when given).

    Raises
    ------
    GridMismatchError
        Saying which params file would fit.
    OptionError
        If ``box`` is larger than the images.
    """
    if box is None and factor > min(shape):
        raise GridMismatchError(
            f"the downsample factor {factor} exceeds the image box ({shape[0]}×"
            f"{shape[1]} px): pooling {factor}×{factor} blocks would leave no pixel. "
            f"Choose a factor of at most {min(shape)} (one that divides {shape[0]} "
            "keeps every pixel)."
        )
    if box is not None and box > shape[0]:
        raise OptionError(
            f"{spelled(f'downsample_box={box}', f'--box {box}')} is larger than the "
            f"images ({shape[0]} px); Fourier cropping only makes images smaller"
        )
    n_out, size_out = downsampled_geometry(shape[0], pixel_size, factor, box)
    n_params = descriptor.n_pixels
    size_params = descriptor.pixel_size_angstrom
    box_ok = n_params == (n_out, n_out)
    size_ok = all(abs(size_out - s) <= GRID_PIXEL_SIZE_RTOL * s for s in size_params)
    if box_ok and size_ok:
        return
    if box is not None:
        how = f", Fourier-cropped to {n_out} px at {size_out:g} Å"
    elif factor > 1:
        how = f", downsampled ×{factor} to {n_out} px at {size_out:g} Å"
    else:
        how = ""
    fits = spelled(
        f"ImageDescriptor.from_individual_values(n_pixels={n_out}, "
        f"pixel_size={size_out:g})",
        f"cryolike-convert params --n-pixels {n_out} --pixel-size {size_out:g}, or "
        "leave out --params to derive the grid from the data",
    )
    raise GridMismatchError(
        f"the images are {shape[0]} px at {pixel_size:g} Å{how}, but the params file "
        f"describes {n_params[0]} px at {size_params[0]:g} Å. A params file that "
        f"fits: {fits}.{downsample_hint(factor)}"
    )


def check_sign(metadata: ParticleMetadata, apply_sign: bool) -> None:
    """With ``apply_sign`` every row needs a sign of +1 or -1 (``blob/sign``).

    Raises
    ------
    MetadataError
        If the input has no sign column or a row's sign is not ±1.
    """
    if not apply_sign:
        return
    option = spelled("apply_sign=True", "--apply-sign")
    if metadata.sign is None:
        raise MetadataError(
            f"{metadata.source_path}: {option} was given but the input has no image "
            f"sign ({metadata.label('sign')}); leave it out",
            path=metadata.source_path,
            field=metadata.label("sign"),
        )
    bad = np.flatnonzero(np.abs(metadata.sign) != 1)
    if bad.size:
        row = int(bad[0])
        raise MetadataError(
            f"{metadata.source_path}: {metadata.row_label(row)} — "
            f"{metadata.label('sign')} is {metadata.sign[row]:g}; {option} expects "
            f"+1 or -1 ({bad.size} row(s) affected)",
            path=metadata.source_path,
            row=row,
            field=metadata.label("sign"),
            value=float(metadata.sign[row]),
        )


def check_lens_scalars(metadata: ParticleMetadata) -> None:
    """Voltage, Cs and amplitude contrast must be the same for every row.

    Raises
    ------
    MetadataError
        Naming the field and its distinct values.
    """
    for name, label in (
        ("voltage_kv", "voltage (kV)"),
        ("spherical_aberration_mm", "spherical aberration (mm)"),
        ("amplitude_contrast_fraction", "amplitude contrast"),
    ):
        values: np.ndarray = getattr(metadata, name)
        distinct = np.unique(values)
        if distinct.size > 1:
            first_other = int(np.flatnonzero(values != values[0])[0])
            raise MetadataError(
                f"{metadata.source_path}: {label} ({metadata.label(name)}) differs between rows "
                f"({', '.join(f'{v:g}' for v in distinct[:10])}); first change at "
                f"{metadata.row_label(first_other)}. Convert each group separately.",
                path=metadata.source_path,
                row=first_other,
                field=name,
            )
