"""Rebuilding a damaged manifest from the stacks on disk, each checked against the inputs.

When a resumed run finds ``manifest.json`` damaged, it does not throw its stacks
away: for every planned stack whose three files exist, the ``.npz`` written beside
the tensors must hold exactly what this run would write for that stack (grid keys
bit-identical to the params file, the same source rows, files, indices and lens
values), and both ``.pt`` files must load as tensors of the expected dtype and
shape. Such a stack is adopted (its checksums recomputed); any other is converted
again. Pixel values themselves are not recomputed: files are written under a
temporary name and renamed only when complete, so a stack file with the right
name and shape is one this package finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from cryolike_convert.errors import ConversionError
from cryolike_convert.formats.checksum import file_checksum
from cryolike_convert.formats.npz import OBJECT_MEMBER, read_npz_safely
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.manifest import row_ranges
from cryolike_convert.output.stack_npz import same_bits, stack_npz_arrays

_FOURIER_DTYPES = {"single": torch.complex64, "double": torch.complex128}


def _same_member(expected: np.ndarray, stored: object) -> bool:
    if expected.dtype.hasobject:
        return stored is OBJECT_MEMBER
    return isinstance(stored, np.ndarray) and same_bits(expected, stored)


def _tensor_fits(path: Path, dtype: torch.dtype, shape: tuple[int, ...]) -> bool:
    try:
        tensor = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except Exception:  # any failure means a file that cannot be adopted
        return False
    return (
        isinstance(tensor, torch.Tensor)
        and tensor.dtype == dtype
        and tuple(tensor.shape) == shape
    )


def recovered_entry(
    layout: OutputLayout,
    number: int,
    rows: ParticleMetadata,
    descriptor: ImageDescriptor,
    reference_pixel_size: float | None,
    stack_range: tuple[int, int] | None,
    make_plots: bool,
) -> dict[str, Any] | None:
    """The manifest entry of stack ``number`` if its files on disk are its planned content.

    Returns ``None`` when any file is missing, a link, unreadable, or differs
    from what this run would write for ``rows``; that stack is then redone.
    """
    paths = layout.stack_files(number)
    if any(path.is_symlink() or not path.is_file() for path in paths.values()):
        return None
    plots = layout.plot_files(number) if make_plots else {}
    if any(path.is_symlink() or not path.is_file() for path in plots.values()):
        return None
    expected = stack_npz_arrays(descriptor, rows, reference_pixel_size, stack_range)
    try:
        stored = read_npz_safely(paths["npz"])
    except ConversionError:
        return None
    if set(stored) != set(expected):
        return None
    if not all(_same_member(value, stored[key]) for key, value in expected.items()):
        return None
    grid = descriptor.polar_grid
    n_images = len(rows)
    if not _tensor_fits(
        paths["phys"], torch.float32, (n_images, *descriptor.n_pixels)
    ) or not _tensor_fits(
        paths["fourier"],
        _FOURIER_DTYPES[descriptor.precision],
        (n_images, grid.n_shells, grid.n_inplanes),
    ):
        return None
    return {
        "number": number,
        "n_images": n_images,
        "files": {kind: layout.relative(path) for kind, path in paths.items()},
        "checksums": {kind: file_checksum(path) for kind, path in paths.items()},
        "plots": {kind: layout.relative(path) for kind, path in plots.items()},
        "source_rows": row_ranges(rows.source_row),
        "skipped": [],
    }


__all__ = ["recovered_entry"]
