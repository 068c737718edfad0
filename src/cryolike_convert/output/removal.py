"""What a run may delete: only files inside the output folder named by the output layout.

Paths read from a manifest are never followed as given: a relative path names a
removable file only when it is ``<folder>/<name>`` with ``folder`` one of ``fft``,
``phys``, ``plots`` and ``name`` a stack or plot name of that folder. Absolute
paths, ``..``, other names and folders that are symbolic links are refused; a
symbolic link named like an output file is removed itself, never its target.
Temporary files (``.NAME.PID.tmp``) are removed only when they belong to this
process or to a process that no longer lives on this host.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryolike_convert.errors import OutputError
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.liveness import process_alive

#: Output sub-folder → the names it holds.
LAYOUT_NAMES: dict[str, re.Pattern[str]] = {
    "fft": re.compile(r"^particles_fourier_stack_\d{6}\.(pt|npz)$"),
    "phys": re.compile(r"^particles_phys_stack_\d{6}\.pt$"),
    "plots": re.compile(
        r"^(particles_(fourier|phys)_stack|power_spectrum_stack)_\d{6}\.png$"
    ),
}
_ROOT_NAMES = re.compile(r"^manifest\.json$")
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


def layout_file(layout: OutputLayout, relative: object) -> Path | None:
    """The file that a manifest's relative path names, if the layout may hold it.

    Returns ``None`` for anything else: not a string, absolute, with ``..``, a
    backslash or a NUL, not ``<folder>/<name>``, or a name the folder never holds.
    """
    if not isinstance(relative, str) or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if len(parts) != 2:
        return None
    folder, name = parts
    pattern = LAYOUT_NAMES.get(folder)
    if pattern is None or not pattern.match(name):
        return None
    return layout.root / folder / name


def linked_folders(layout: OutputLayout) -> list[Path]:
    """Output sub-folders that are symbolic links (never deleted through)."""
    return [
        layout.root / name for name in LAYOUT_NAMES if (layout.root / name).is_symlink()
    ]


def _real_folder(layout: OutputLayout, name: str) -> Path | None:
    folder = layout.root / name
    try:
        mode = os.lstat(folder).st_mode
    except OSError:
        return None
    return folder if stat.S_ISDIR(mode) else None


def layout_files(layout: OutputLayout) -> list[Path]:
    """Every file in the output's real sub-folders whose name the layout uses."""
    found: list[Path] = []
    for name, pattern in LAYOUT_NAMES.items():
        folder = _real_folder(layout, name)
        if folder is None:
            continue
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        found += sorted(
            Path(entry.path)
            for entry in entries
            if pattern.match(entry.name) and not entry.is_dir(follow_symlinks=False)
        )
    return found


def temporary_owner(path: Path) -> int | None:
    """The pid in a temporary name ``.NAME.PID.tmp`` of an output file, else ``None``."""
    match = _TEMPORARY.match(path.name)
    if match is None:
        return None
    name = match.group("name")
    folder = path.parent.name
    pattern = LAYOUT_NAMES.get(folder)
    known = (pattern is not None and pattern.match(name)) or _ROOT_NAMES.match(name)
    return int(match.group("pid")) if known else None


def orphaned_temporaries(layout: OutputLayout) -> list[Path]:
    """Temporary files of this process or of processes no longer alive on this host.

    Those of live processes (another run, a worker still writing) are left alone.
    """
    found: list[Path] = []
    folders = [layout.root] + [
        folder
        for name in LAYOUT_NAMES
        if (folder := _real_folder(layout, name)) is not None
    ]
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if path.parent != folder:
                continue
            pid = temporary_owner(path)
            if pid is None or entry.is_dir(follow_symlinks=False):
                continue
            if pid == os.getpid() or not process_alive(pid):
                found.append(path)
    return sorted(found)


def removable(layout: OutputLayout, path: Path) -> bool:
    """Whether ``path`` is a file this package may delete from the output folder."""
    parent = path.parent
    if parent == layout.root:
        allowed = (
            bool(_ROOT_NAMES.match(path.name)) or temporary_owner(path) is not None
        )
    else:
        if parent.parent != layout.root or _real_folder(layout, parent.name) is None:
            return False
        pattern = LAYOUT_NAMES.get(parent.name)
        allowed = bool(pattern and pattern.match(path.name))
        allowed = allowed or temporary_owner(path) is not None
    if not allowed:
        return False
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def remove_files(layout: OutputLayout, paths: list[Path], *, strict: bool) -> None:
    """Delete ``paths`` that :func:`removable` allows (a link itself, not its target).

    Raises
    ------
    OutputError
        With ``strict``, if a file cannot be removed; otherwise such files are left.
    """
    for path in dict.fromkeys(paths):
        if not removable(layout, path):
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as err:
            if strict:
                raise OutputError(
                    f"{path}: cannot be removed ({err.strerror or err}); fix "
                    "permissions or remove it yourself"
                ) from err


def remove_run_files(layout: OutputLayout) -> None:
    """Best effort: remove this run's manifest, every output-layout file and temporaries.

    Used when a fresh run fails: everything of the layout in the folder is its own
    (the lock keeps other runs out; a previous run's files were refused or removed).
    """
    doomed = [*layout_files(layout), layout.manifest, *orphaned_temporaries(layout)]
    remove_files(layout, doomed, strict=False)


def check_no_linked_folders(layout: OutputLayout) -> None:
    """Refuse to clear an output whose sub-folders are symbolic links.

    Raises
    ------
    OutputError
        Naming the link.
    """
    for link in linked_folders(layout):
        raise OutputError(
            f"{link}: is a symbolic link (to {os.readlink(link)}); cryolike-convert "
            "never deletes through links: remove the link or choose another output"
        )


__all__ = [
    "LAYOUT_NAMES",
    "check_no_linked_folders",
    "layout_file",
    "layout_files",
    "linked_folders",
    "orphaned_temporaries",
    "removable",
    "remove_files",
    "remove_run_files",
    "temporary_owner",
]
