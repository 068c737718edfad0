"""Rows that repeat an earlier row's image or uid: converted, but reported.

A repeated image (the same stack file and index) is converted once per row, so the
output holds the same particle twice; a repeated ``uid`` in an indexed ``.cs``
file usually means rows were concatenated twice. Neither stops the run: each is
reported with the count and the first rows, as a
:class:`~cryolike_convert.errors.ConversionWarning`, in the manifest (``warnings``
and ``duplicates``) and in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cryolike_convert.metadata import ParticleMetadata, decode_text

#: Repeats listed by row before the rest is counted.
MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class Duplicates:
    """Rows repeating an earlier row's image or uid.

    Attributes
    ----------
    kind
        ``'image'`` (same stack file and index) or ``'uid'``.
    n_rows
        Rows that repeat an earlier row.
    pairs
        ``(row, earlier row)`` source rows of the first :data:`MAX_LISTED` repeats.
    text
        The warning.
    """

    kind: str
    n_rows: int
    pairs: tuple[tuple[int, int], ...]
    text: str

    def describe(self) -> dict[str, Any]:
        """The manifest's record."""
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "first": [list(pair) for pair in self.pairs],
        }


def _repeats(keys: np.ndarray) -> np.ndarray:
    """Positions whose key equals that of an earlier position, in order."""
    if keys.size < 2:
        return np.empty(0, dtype=np.int64)
    if np.all(keys[1:] > keys[:-1]):  # the usual case: rows in stack order
        return np.empty(0, dtype=np.int64)
    ordered = np.sort(keys)  # a plain sort is cheaper than argsort: try it first
    if not np.any(ordered[1:] == ordered[:-1]):
        return np.empty(0, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    return np.sort(order[same])


def _first_of(keys: np.ndarray, position: int) -> int:
    return int(np.flatnonzero(keys == keys[position])[0])


def _image_keys(metadata: ParticleMetadata) -> tuple[np.ndarray, np.ndarray] | None:
    codes = metadata.stack_file_index
    if codes is None:
        return None
    found = np.flatnonzero(codes >= 0)
    width = int(metadata.stack_index.max(initial=0)) + 1
    keys = codes[found].astype(np.int64) * width + metadata.stack_index[found]
    return found, keys


def _text(
    metadata: ParticleMetadata, what: str, pairs: list[tuple[int, int, str]], n: int
) -> str:
    listed = ", ".join(
        f"row {row} repeats row {first}{detail}" for row, first, detail in pairs
    )
    more = f", and {n - len(pairs)} more" if n > len(pairs) else ""
    return (
        f"{metadata.source_path}: {n} row(s) repeat {what} of an earlier row and are "
        f"converted again: {listed}{more}"
    )


def find_duplicates(metadata: ParticleMetadata) -> list[Duplicates]:
    """Rows repeating an earlier row's image (stack file and index) or ``uid``."""
    found: list[Duplicates] = []
    images = _image_keys(metadata)
    if images is not None:
        positions, keys = images
        repeats = _repeats(keys)
        if repeats.size:
            pairs = []
            for index in repeats[:MAX_LISTED]:
                row = int(positions[index])
                first = int(positions[_first_of(keys, int(index))])
                where = (
                    f"{decode_text(metadata.stored_path[row])}@"
                    f"{int(metadata.stack_index[row])}"
                )
                pairs.append(
                    (
                        int(metadata.source_row[row]),
                        int(metadata.source_row[first]),
                        f" ({where})",
                    )
                )
            found.append(
                Duplicates(
                    "image",
                    int(repeats.size),
                    tuple((a, b) for a, b, _ in pairs),
                    _text(metadata, "the image", pairs, int(repeats.size)),
                )
            )
    if metadata.uid is not None:
        uids = np.asarray(metadata.uid)
        repeats = _repeats(uids)
        if repeats.size:
            pairs = [
                (
                    int(metadata.source_row[int(row)]),
                    int(metadata.source_row[_first_of(uids, int(row))]),
                    f" (uid {int(uids[int(row)])})",
                )
                for row in repeats[:MAX_LISTED]
            ]
            label = metadata.label("uid")
            found.append(
                Duplicates(
                    "uid",
                    int(repeats.size),
                    tuple((a, b) for a, b, _ in pairs),
                    _text(metadata, f"the {label}", pairs, int(repeats.size)),
                )
            )
    return found


__all__ = ["MAX_LISTED", "Duplicates", "find_duplicates"]
