"""CryoSPARC result groups (``.csg``): the ``.cs`` files that hold one result's fields.

A ``.csg`` file is YAML. Under ``results`` every field group (``blob``, ``ctf``,
``alignments3D``, …) names the ``metafile`` that holds it and ``num_items``, the
number of rows. A metafile written ``'>name.cs'`` is relative to the ``.csg``
file's folder (CryoSPARC's export marker); others are tried there and in the
project folder (the parent of the ``J<n>`` folder). YAML is read with
``yaml.safe_load``, which builds only plain values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cryolike_convert.errors import InputFileError
from cryolike_convert.readers.detect import job_folder_number


@dataclass(frozen=True, slots=True)
class ResultGroup:
    """The ``.cs`` files of one result and the field groups each provides.

    Attributes
    ----------
    path
        The ``.csg`` file.
    slots
        Field group (``blob``, ``ctf``, …) → the ``.cs`` file holding it.
    num_items
        ``.cs`` file → the number of rows the group says it holds.
    """

    path: Path
    slots: dict[str, Path]
    num_items: dict[Path, int]

    def files(self) -> list[Path]:
        """The ``.cs`` files: the one holding ``blob`` (or the first) first."""
        ordered = list(dict.fromkeys(self.slots.values()))
        main = self.slots.get("blob", ordered[0])
        return [main, *(path for path in ordered if path != main)]

    def slots_of(self, file: Path) -> list[str]:
        """The field groups the result takes from ``file``."""
        return [slot for slot, owner in self.slots.items() if owner == file]


def read_result_group(path: str | os.PathLike[str]) -> ResultGroup:
    """Read a ``.csg`` file.

    Raises
    ------
    InputFileError
        If the file is not YAML with a ``results`` mapping whose entries name a
        ``metafile``, or a named ``.cs`` file does not exist (naming the entry
        and where it was looked for).
    """
    file = Path(path).expanduser()
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise InputFileError(
            f"{file}: cannot be read as a CryoSPARC .csg file ({err})"
        ) from err
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, dict) or not results:
        raise InputFileError(
            f"{file}: not a CryoSPARC .csg file; expected YAML with a 'results' "
            "mapping of field groups to metafiles"
        )
    slots: dict[str, Path] = {}
    num_items: dict[Path, int] = {}
    for slot, entry in results.items():
        metafile = entry.get("metafile") if isinstance(entry, dict) else None
        if not isinstance(metafile, str) or not metafile.strip(">").strip():
            raise InputFileError(
                f"{file}: results.{slot} names no metafile; expected "
                "\"metafile: '>J12_particles.cs'\""
            )
        found = _find_metafile(file, str(slot), metafile)
        slots[str(slot)] = found
        count = _count(entry)
        if count is not None:
            num_items.setdefault(found, count)
    return ResultGroup(file, slots, num_items)


def _count(entry: dict[str, Any]) -> int | None:
    value = entry.get("num_items")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _find_metafile(file: Path, slot: str, metafile: str) -> Path:
    name = metafile[1:] if metafile.startswith(">") else metafile
    folder = file.resolve().parent
    candidates = [folder / name]
    if not metafile.startswith(">") and job_folder_number(folder) is not None:
        candidates.append(folder.parent / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(path) for path in candidates)
    raise InputFileError(
        f"{file}: results.{slot} names metafile {metafile!r}, which is missing "
        f"(looked for: {looked})"
    )


__all__ = ["ResultGroup", "read_result_group"]
