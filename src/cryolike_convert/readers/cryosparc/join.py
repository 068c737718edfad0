"""Joining ``.cs`` files on ``uid``: a file with its sibling, or with named partners.

The sibling is ``J<n>_passthrough_particles.cs`` or ``J<n>_particles.cs``; partners
are the passthrough files a user names (as pyem's ``csparc2star`` takes them) or
the files of a ``.csg`` result group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cryolike_convert.errors import MetadataError, MissingFieldError
from cryolike_convert.readers.cryosparc.container import load_cs_table

_JOB_FILE = re.compile(r"^(J\d+)_")


def _sibling_candidates(file: Path) -> list[Path]:
    match = _JOB_FILE.match(file.name)
    if not match:
        return []
    job = match.group(1)
    names = [f"{job}_passthrough_particles.cs", f"{job}_particles.cs"]
    return [file.with_name(name) for name in names if name != file.name]


def join_sibling(file: Path, table: np.ndarray, missing: list[str]) -> np.ndarray:
    """Add the ``missing`` fields to ``table`` from the first sibling file that has them."""
    for sibling in _sibling_candidates(file):
        if not sibling.is_file():
            continue
        partner = load_cs_table(sibling)
        names = partner.dtype.names or ()
        if all(name in names for name in missing):
            return join_on_uid(file, table, sibling, partner, missing)
    looked = (
        ", ".join(str(p) for p in _sibling_candidates(file))
        or "none (name has no J<n>_)"
    )
    raise MissingFieldError(
        f"{file}: missing field(s) {', '.join(missing)}; no sibling file provides them "
        f"(looked for: {looked}). Use the job's particles file that has ctf/* and blob/*.",
        path=file,
        field=missing[0],
    )


def _check_unique_uid(file: Path, uid: np.ndarray, sibling: Path) -> None:
    _, first = np.unique(uid, return_index=True)
    if first.size == uid.size:
        return
    repeated = np.ones(uid.size, dtype=bool)
    repeated[first] = False
    row = int(np.flatnonzero(repeated)[0])
    earlier = int(np.flatnonzero(uid == uid[row])[0])
    raise MetadataError(
        f"{file}: row {row} (uid {int(uid[row])}) — uid appears more than once (first at "
        f"row {earlier}; {int(repeated.sum())} duplicate(s)); cannot join with "
        f"{sibling.name} on uid",
        path=file,
        row=row,
        field="uid",
        value=int(uid[row]),
    )


def join_on_uid(
    file: Path, table: np.ndarray, sibling: Path, partner: np.ndarray, fields: list[str]
) -> np.ndarray:
    """Add ``fields`` of ``partner`` to ``table``, matching rows by ``uid``.

    Every row of ``table`` must find exactly one partner row.

    Raises
    ------
    MissingFieldError
        If either file lacks ``uid``.
    MetadataError
        On duplicate uids in either file or rows without a partner.
    """
    for owner, source in ((file, table), (sibling, partner)):
        if "uid" not in (source.dtype.names or ()):
            raise MissingFieldError(
                f"{owner}: has no uid field, so it cannot be joined with its sibling file",
                path=owner,
                field="uid",
            )
    partner_uid = np.asarray(partner["uid"])
    order = np.argsort(partner_uid, kind="stable")
    sorted_uid = partner_uid[order]
    duplicates = sorted_uid[1:][sorted_uid[1:] == sorted_uid[:-1]]
    if duplicates.size:
        raise MetadataError(
            f"{sibling}: uid {int(duplicates[0])} appears more than once "
            f"({duplicates.size} duplicate(s)); cannot join with {file.name} on uid",
            path=sibling,
            field="uid",
            value=int(duplicates[0]),
        )
    uid = np.asarray(table["uid"])
    _check_unique_uid(file, uid, sibling)
    found = np.searchsorted(sorted_uid, uid).clip(0, max(len(sorted_uid) - 1, 0))
    matched = (
        (sorted_uid[found] == uid) if len(sorted_uid) else np.zeros(len(uid), bool)
    )
    if not matched.all():
        row = int(np.flatnonzero(~matched)[0])
        raise MetadataError(
            f"{file}: row {row} (uid {int(uid[row])}) has no partner in {sibling.name} "
            f"({int((~matched).sum())} unmatched row(s)); both files must list the same "
            "particles",
            path=file,
            row=row,
            field="uid",
            value=int(uid[row]),
        )
    partner_rows = order[found]
    descr = [(name, table.dtype.fields[name][0]) for name in table.dtype.names or ()]  # type: ignore[index]
    descr += [(name, partner.dtype.fields[name][0]) for name in fields]  # type: ignore[index]
    joined = np.empty(len(table), dtype=descr)
    for name in table.dtype.names or ():
        joined[name] = table[name]
    for name in fields:
        joined[name] = partner[name][partner_rows]
    return joined


def join_files(
    file: Path,
    table: np.ndarray,
    partners: Sequence[tuple[Path, np.ndarray, Sequence[str] | None]],
) -> np.ndarray:
    """Add the fields of each partner file to ``table``, matching rows by ``uid``.

    Parameters
    ----------
    file
        The main ``.cs`` file (for messages).
    table
        Its rows; every row must find exactly one partner row in each file.
    partners
        ``(path, rows, fields)``: with ``fields`` ``None`` every field the table
        does not have yet is added (earlier files win, as in pyem); with a list
        those fields are taken from this partner, replacing any in ``table``.

    Returns
    -------
    np.ndarray
        The joined structured array, in ``table``'s row order.

    Raises
    ------
    MissingFieldError, MetadataError
        As :func:`join_on_uid`.
    """
    for sibling, partner, fields in partners:
        present = table.dtype.names or ()
        if fields is None:
            chosen = [
                name
                for name in partner.dtype.names or ()
                if name != "uid" and name not in present
            ]
        else:
            chosen = [name for name in fields if name != "uid"]
            kept = [name for name in present if name not in chosen]
            table = table[kept]
        if chosen:
            table = join_on_uid(file, table, sibling, partner, chosen)
    return table


__all__ = ["join_files", "join_on_uid", "join_sibling"]
