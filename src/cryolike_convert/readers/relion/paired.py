"""Paired RELION inputs: MRC stacks each described row by row by its own STAR file."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cryolike_convert.errors import (
    ConversionError,
    ImageStackError,
    InputFileError,
    spelled,
)
from cryolike_convert.metadata import concatenate_metadata
from cryolike_convert.options import OptionError
from cryolike_convert.readers.mrc import inspect_stack
from cryolike_convert.readers.paths import resolve_stored_path
from cryolike_convert.readers.relion.indexed import (
    StarTable,
    load_star_table,
    star_table_metadata,
)
from cryolike_convert.readers.result import ReadResult


def as_path_list(
    files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> list[Path]:
    """One path or a sequence of paths → a list of expanded paths."""
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    return [Path(item).expanduser() for item in items]


def read_paired_star(
    mrc_files: Sequence[Path],
    star_files: Sequence[Path],
    *,
    defocus_angle_is_degree: bool = True,
    phase_shift_is_degree: bool = True,
) -> ReadResult:
    """Read one STAR per MRC stack; row ``i`` of a STAR describes image ``i``.

    ``rlnImageName`` is ignored. Every readable stack must hold exactly as many
    images as its STAR has rows; this is checked for all pairs before anything is
    written. Missing or unreadable stacks are left to the pipeline's stack check
    (so ``on_missing='skip'`` can skip them). A relative MRC path is taken from the
    current folder. ``group`` is the pair number and ``source_row`` the running
    image number.

    Raises
    ------
    OptionError
        If the two lists differ in length or are empty.
    InputFileError
        Listing every STAR file that does not exist.
    ImageStackError
        Listing every pair whose row and image counts differ.
    MetadataError
        As :func:`read_star_table`, naming the STAR file, row and field.
    """
    if len(mrc_files) != len(star_files) or not mrc_files:
        raise OptionError(
            f"{spelled('particle_file_list', '--mrc')} has {len(mrc_files)} file(s) "
            f"but {spelled('star_file_list', '--star')} has {len(star_files)}; give "
            "one STAR file per MRC stack, in the same order"
        )
    missing = [str(path) for path in star_files if not path.is_file()]
    if missing:
        raise InputFileError(f"STAR file(s) not found: {', '.join(missing)}")
    degrees = {
        "defocus_angle_rad": defocus_angle_is_degree,
        "phase_shift_rad": phase_shift_is_degree,
    }
    search_dirs = (("cwd", Path.cwd()),)
    parts, problems = [], []
    defaulted: dict[str, float] = {}
    for number, (mrc, star) in enumerate(zip(mrc_files, star_files, strict=True)):
        read = _read_pair(number, mrc, star, degrees)
        defaulted.update(read.defaulted)
        found = resolve_stored_path(str(mrc), None, search_dirs).path
        problems += _count_problem(star, found, len(read.metadata))
        parts.append(read.metadata)
    if problems:
        raise ImageStackError(
            f"{len(problems)} STAR/MRC pair(s) do not match; nothing was written:\n  "
            + "\n  ".join(problems)
            + "\nPaired mode matches STAR row i to image i, so the counts must agree."
        )
    metadata = concatenate_metadata(parts)
    metadata = dataclasses.replace(
        metadata, source_row=np.arange(len(metadata), dtype=np.int64)
    )
    return ReadResult(
        mode="star_paired",
        metadata=metadata,
        metadata_files=tuple(star_files),
        search_dirs=search_dirs,
        details={
            "stacks": [str(path) for path in mrc_files],
            "degrees": [defocus_angle_is_degree, phase_shift_is_degree],
            "defaults": defaulted,
        },
    )


def _read_pair(
    number: int, mrc: Path, star: Path, degrees: dict[str, bool]
) -> StarTable:
    table = load_star_table(star)
    stored = (np.full(len(table), str(mrc)), np.arange(len(table), dtype=np.int64))
    read = star_table_metadata(star, table, stored, degrees)
    metadata = dataclasses.replace(
        read.metadata, group=np.full(len(table), number, dtype=np.int64)
    )
    return dataclasses.replace(read, metadata=metadata)


def _count_problem(star: Path, stack: Path | None, n_rows: int) -> list[str]:
    if stack is None:
        return []
    try:
        n_images = inspect_stack(stack).n_images
    except ConversionError:
        return []  # reported by the pipeline's stack check
    if n_images == n_rows:
        return []
    return [f"{star} has {n_rows} row(s) but {stack} holds {n_images} image(s)"]


__all__ = ["as_path_list", "read_paired_star"]
