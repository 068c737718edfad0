"""Resolving the image-stack paths written in metadata to files on disk."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryolike_convert.errors import ConversionError, InputFileError
from cryolike_convert.metadata import ParticleMetadata, decode_text
from cryolike_convert.readers.os_errors import os_reason

_JOB_DIR = re.compile(r"^J\d+$")


@dataclass(frozen=True, slots=True)
class ResolvedStack:
    """Where one stored path was found, and by which rule.

    ``problems`` says why candidates could not even be examined (a name too long,
    a loop of symbolic links, ...).
    """

    stored: str
    path: Path | None
    rule: str
    tried: tuple[Path, ...]
    problems: tuple[str, ...] = ()


def resolve_user_path(
    path: str | os.PathLike[str],
    what: str,
    error: type[ConversionError] = InputFileError,
) -> Path:
    """``path`` with ``~`` expanded, made absolute and free of links.

    Raises
    ------
    ConversionError
        ``error`` (default :class:`InputFileError`) naming the path and ``what`` it
        is, for any OS error (a name too long, a loop of symbolic links, ...).
    """
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as err:
        raise error(f"{path}: the {what} cannot be used ({os_reason(err)})") from err


def clean_stored_path(value: object) -> str:
    """Decode bytes as UTF-8 and strip one leading ``>`` (CryoSPARC's export marker)."""
    text = decode_text(value).strip()
    return text[1:] if text.startswith(">") else text


def infer_project_dir(metadata_path: Path) -> Path | None:
    """The CryoSPARC project folder: the parent of the ``J<n>`` folder holding the file."""
    try:
        parents = metadata_path.resolve().parents
    except (OSError, RuntimeError):
        return None
    for parent in parents:
        if _JOB_DIR.match(parent.name):
            return parent.parent
    return None


def candidate_paths(
    stored: str, folder: Path | None, search_dirs: Sequence[tuple[str, Path]]
) -> list[tuple[str, Path]]:
    """The ``(rule, path)`` candidates for a stored path, in the order they are tried."""
    if folder is not None:
        return [("folder", folder / Path(stored).name)]
    path = Path(stored).expanduser()
    if path.is_absolute():
        return [("absolute", path)]
    return [(rule, directory / path) for rule, directory in search_dirs]


def resolve_stored_path(
    stored: str, folder: Path | None, search_dirs: Sequence[tuple[str, Path]]
) -> ResolvedStack:
    """Find the file for one stored path (see :func:`candidate_paths`).

    A candidate that cannot be examined (an OS error) counts as not found, and
    the reason is kept in :attr:`ResolvedStack.problems`.
    """
    try:
        candidates = candidate_paths(stored, folder, search_dirs)
    except (RuntimeError, ValueError, OSError) as err:
        problem = f"{stored!r} cannot be used as a path ({os_reason(err)})"
        return ResolvedStack(stored, None, "missing", (), (problem,))
    problems: list[str] = []
    for rule, path in candidates:
        try:
            if path.is_file():
                return ResolvedStack(stored, Path(os.path.abspath(path)), rule, ())
        except (OSError, ValueError) as err:
            problems.append(f"{path}: {os_reason(err)}")
    tried = tuple(path for _, path in candidates)
    return ResolvedStack(stored, None, "missing", tried, tuple(problems))


def resolve_stack_paths(
    metadata: ParticleMetadata,
    folder: str | os.PathLike[str] | None = None,
    search_dirs: Sequence[tuple[str, Path]] = (),
) -> tuple[ParticleMetadata, list[ResolvedStack]]:
    """Resolve every row's stack file (``stack_files`` + ``stack_file_index``).

    The one place where stored paths become files. With ``folder``, each stored
    path's basename is looked up there; otherwise an absolute path is used as is
    and a relative one is tried in each of ``search_dirs`` (``(rule, folder)``
    pairs, from the reader's :class:`~cryolike_convert.readers.result.ReadResult`).
    Rows whose file is not found get index ``-1``; the returned list says, per
    distinct stored path, where it was found or what was tried. Stored paths that
    lead to the same file share one entry of the file table.
    """
    folder_path = Path(folder).expanduser() if folder not in (None, "") else None
    raw, raw_inverse = factorize(metadata.stored_path)
    cleaned = [clean_stored_path(value) for value in raw]
    unique = sorted(set(cleaned))
    number = {stored: index for index, stored in enumerate(unique)}
    resolved = [
        resolve_stored_path(stored, folder_path, search_dirs) for stored in unique
    ]
    files: dict[str, int] = {}
    codes = np.array(
        [
            files.setdefault(str(item.path), len(files)) if item.path else -1
            for item in resolved
        ],
        dtype=np.int64,
    )
    inverse = np.array([number[stored] for stored in cleaned], dtype=np.int64)
    row_codes = codes[inverse][raw_inverse] if len(inverse) else np.empty(0, np.int64)
    return dataclasses.replace(
        metadata, stack_files=tuple(files), stack_file_index=row_codes
    ), resolved


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``, fast when equal values come in runs.

    Metadata rows are mostly grouped by stack file, so the runs are compressed
    first and only one value per run is sorted.

    Parameters
    ----------
    values
        ``(n,)`` array of any sortable dtype (paths as bytes or text).

    Returns
    -------
    unique, inverse
        Sorted distinct values and, per element, the index of its value.
    """
    if values.size == 0:
        return np.unique(values), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    unique, run_inverse = np.unique(values[starts], return_inverse=True)
    lengths = np.diff(np.append(starts, values.size))
    return unique, np.repeat(run_inverse.reshape(-1), lengths)
