"""The run manifest (``OUT/manifest.json``) and the policy for re-used output folders."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import IO, Any

import numpy as np

from cryolike_convert.errors import (
    OVERWRITE,
    RESUME,
    CorruptManifestError,
    OutputError,
    OutputExistsError,
)
from cryolike_convert.formats.checksum import matches
from cryolike_convert.options import option_name
from cryolike_convert.output.input_stamps import check_unchanged
from cryolike_convert.output.layout import (
    OutputLayout,
    recorded_checksums,
    write_atomic,
)
from cryolike_convert.output.manifest_schema import (
    DAMAGED_SUFFIX,
    recovery_advice,
    validate_manifest,
)
from cryolike_convert.output.manifest_schema import (
    MANIFEST_FORMAT as MANIFEST_FORMAT,
)
from cryolike_convert.output.removal import (
    check_no_linked_folders,
    layout_file,
    layout_files,
    orphaned_temporaries,
    remove_files,
)
from cryolike_convert.readers.paths import ResolvedStack

#: Key of the marker :func:`prepare_output` returns when a resumed run must rebuild
#: a damaged manifest from the stacks on disk.
REBUILD = "rebuild_from_stacks"


def package_versions() -> dict[str, str]:
    """Versions of cryolike and the libraries that shape its numbers."""
    versions = {}
    for name in ("cryolike-convert", "numpy", "torch", "ducc0", "mrcfile", "scipy"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def describe_input_file(path: Path) -> dict[str, object]:
    """Path, size and sha256 of a metadata or params file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "path": str(path.resolve()),
        "size": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def row_ranges(rows: np.ndarray) -> list[list[int]]:
    """Compress sorted row numbers into ``[start, stop)`` ranges."""
    values = np.asarray(rows, dtype=np.int64)
    if values.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    starts = np.concatenate(([0], breaks))
    stops = np.concatenate((breaks, [values.size]))
    return [
        [int(values[a]), int(values[b - 1]) + 1]
        for a, b in zip(starts, stops, strict=False)
    ]


@dataclass
class Manifest:
    """The manifest being built during a run; written after every stack."""

    layout: OutputLayout
    header: dict[str, Any]
    stacks: dict[int, dict[str, Any]] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    unconverted: dict[str, Any] = field(default_factory=dict)
    without_images: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: str = "running"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        converted = sum(int(entry["n_images"]) for entry in self.stacks.values())
        skipped_during = sum(
            len(entry.get("skipped", [])) for entry in self.stacks.values()
        )
        without = sum(b - a for item in self.without_images for a, b in item["rows"])
        return {
            **self.header,
            "status": self.status,
            "stacks": [self.stacks[key] for key in sorted(self.stacks)],
            "totals": {
                "n_rows": int(self.header.get("n_rows", 0)) + without,
                "n_converted": converted,
                "n_stacks": len(self.stacks),
                "n_skipped": len(self.skipped) + skipped_during,
                "n_unconverted": int(self.unconverted.get("n_rows", 0)),
                "n_without_image": without,
            },
            "skipped": self.skipped,
            "unconverted": self.unconverted,
            "rows_without_images": self.without_images,
            "warnings": self.warnings,
        }

    def write(self) -> None:
        """Write atomically."""
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False).encode()

        def write(handle: IO[bytes]) -> None:
            handle.write(text)

        write_atomic(self.layout.manifest, write)


def read_manifest(layout: OutputLayout) -> dict[str, Any] | None:
    """The manifest of a previous run, or ``None`` when there is none.

    Raises
    ------
    CorruptManifestError
        If the manifest is not valid JSON or not shaped as a manifest, saying how
        to recover.
    OutputError
        If it cannot be read.
    """
    if not layout.manifest.is_file():
        return None
    try:
        text = layout.manifest.read_bytes().decode("utf-8")
    except OSError as err:
        raise OutputError(
            f"{layout.manifest}: cannot be read ({err.strerror or err})"
        ) from err
    except UnicodeDecodeError as err:
        raise CorruptManifestError(
            f"{layout.manifest}: not a valid cryolike manifest (not UTF-8 text); "
            f"{recovery_advice(layout.manifest)}"
        ) from err
    try:
        document = json.loads(text)
    except ValueError as err:
        raise CorruptManifestError(
            f"{layout.manifest}: not a valid cryolike manifest (not JSON: {err}); "
            f"{recovery_advice(layout.manifest)}"
        ) from err
    return validate_manifest(document, layout.manifest)


def _set_aside_damaged(layout: OutputLayout) -> Path:
    """Rename a damaged manifest to ``manifest.json.damaged`` (or ``.damaged.N``)."""
    target = layout.manifest.with_name(layout.manifest.name + DAMAGED_SUFFIX)
    number = 1
    while target.exists() or target.is_symlink():
        target = layout.manifest.with_name(
            f"{layout.manifest.name}{DAMAGED_SUFFIX}.{number}"
        )
        number += 1
    try:
        layout.manifest.rename(target)
    except OSError as err:
        raise OutputError(
            f"{layout.manifest}: cannot be set aside ({err.strerror or err})"
        ) from err
    return target


def prepare_output(
    layout: OutputLayout, overwrite: bool, resume: bool
) -> dict[str, Any] | None:
    """Make the output folders and apply the re-run policy.

    Returns the previous manifest when resuming. With ``overwrite`` every file of
    the previous run is removed first (only files the output layout names, inside
    the folder). A resumed run whose manifest is damaged gets
    ``{REBUILD: <reason>, "stacks": []}``: the damaged file is set aside and the
    stacks on disk are to be checked against the inputs.

    Raises
    ------
    OutputExistsError
        If the folder holds stacks and neither ``overwrite`` nor ``resume`` is set.
    CorruptManifestError
        If its manifest is damaged and neither ``overwrite`` nor ``resume`` is set.
    OutputError
        If the folder cannot be created or written.
    """
    if layout.root.exists() and not layout.root.is_dir():
        raise OutputError(
            f"{layout.root}: exists and is not a folder; choose another output"
        )
    previous: dict[str, Any] | None = None
    if layout.root.is_dir():
        try:
            previous = read_manifest(layout)
        except CorruptManifestError as err:
            if resume:
                aside = _set_aside_damaged(layout)
                problem = str(err).split("; ", 1)[0].split(": ", 1)[-1]
                previous = {
                    REBUILD: f"{layout.manifest.name} was damaged ({problem}) and is "
                    f"kept as {aside.name}",
                    "stacks": [],
                }
            elif not overwrite:
                raise
    existing = layout_files(layout) if layout.root.is_dir() else []
    stacks = [p for p in existing if p.parent.name != "plots"]
    if (stacks or previous) and not (overwrite or resume):
        recorded = len((previous or {}).get("stacks", []))
        what = (
            f"{len(stacks)} stack file(s) of a previous run"
            if stacks
            else f"the manifest.json of a previous run ({recorded} stack(s) recorded)"
        )
        raise OutputExistsError(
            f"{layout.root}: already holds {what}; pass {OVERWRITE} to replace "
            f"them or {RESUME} to continue that run"
        )
    if overwrite:
        remove_previous_run(layout, previous, existing)
        previous = None
    remove_temporaries(layout)
    try:
        for folder in (layout.root, layout.fft_dir, layout.phys_dir):
            folder.mkdir(parents=True, exist_ok=True)
        probe = layout.root / f".cryolike-write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(
            f"{layout.root}: cannot be written ({err.strerror or err})"
        ) from err
    return previous if resume else None


def remove_temporaries(layout: OutputLayout) -> None:
    """Remove temporary files that this process or dead processes left behind.

    Temporaries of live processes (another run, a worker still writing) are kept.

    Raises
    ------
    OutputError
        If one cannot be removed.
    """
    remove_files(layout, orphaned_temporaries(layout), strict=True)


def remove_unrecorded(layout: OutputLayout, document: dict[str, Any]) -> None:
    """Remove stack and plot files that ``document`` (a manifest) does not list.

    Used when a run fails part-way: the files of the stack being written are not
    yet in the manifest and must not be left behind. Only files named by the
    output layout are touched. Best effort: a file that cannot be removed is left
    (the original error matters more).
    """
    recorded = {
        path
        for entry in document.get("stacks", [])
        for relative in [
            *entry.get("files", {}).values(),
            *entry.get("plots", {}).values(),
        ]
        if (path := layout_file(layout, relative)) is not None
    }
    doomed = [p for p in layout_files(layout) if p not in recorded]
    remove_files(layout, doomed + orphaned_temporaries(layout), strict=False)


def remove_previous_run(
    layout: OutputLayout, previous: dict[str, Any] | None, existing: list[Path]
) -> None:
    """Remove the files of a previous run: its manifest and every output-layout file.

    Paths listed in ``previous`` are used only when they name a file of the output
    layout inside the folder; absolute paths, ``..``, other names and anything
    reached through a symbolic link are never deleted.

    Raises
    ------
    OutputError
        If an output sub-folder is a symbolic link, or a file cannot be removed.
    """
    check_no_linked_folders(layout)
    doomed = list(existing) + layout_files(layout)
    for entry in (previous or {}).get("stacks", []):
        for relative in list(entry.get("files", {}).values()) + list(
            entry.get("plots", {}).values()
        ):
            path = layout_file(layout, relative)
            if path is not None:
                doomed.append(path)
    remove_files(layout, [*doomed, layout.manifest], strict=True)
    remove_temporaries(layout)


def finished_stack(layout: OutputLayout, entry: dict[str, Any]) -> bool:
    """Whether a stack of a previous run is complete and unchanged on disk.

    Its files must be the layout's names for its number, real files (not links),
    and match their recorded checksum; every recorded plot must exist. Otherwise
    the stack is redone.
    """
    number = entry.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        return False
    expected = {k: layout.relative(p) for k, p in layout.stack_files(number).items()}
    if entry.get("files") != expected:
        return False
    checksums = recorded_checksums(entry)
    for kind, relative in expected.items():
        path = layout.root / relative
        if path.is_symlink() or not path.is_file():
            return False
        if not matches(path, checksums.get(kind)):
            return False
    plots = {k: layout.relative(p) for k, p in layout.plot_files(number).items()}
    for kind, relative in entry.get("plots", {}).items():
        if plots.get(kind) != relative or not (layout.root / relative).is_file():
            return False
    return True


def manifest_header(
    *,
    n_rows: int,
    inputs: dict[str, Any],
    options: dict[str, Any],
    grid: dict[str, Any],
    pixel_size: dict[str, Any],
    resolution: list[ResolvedStack] | None,
    image_sign: list[float] | None = None,
    stack_stamps: dict[str, dict[str, int]] | None = None,
    sign_applied: bool = False,
) -> dict[str, Any]:
    """The part of the manifest fixed before the first stack: what went in, how.

    ``image_sign`` lists the distinct ``blob/sign`` values of the input; like
    CryoLike, cryolike records them and applies them only when asked
    (``sign_applied``). ``stack_stamps`` holds the size and modification time of
    every image stack read (see :mod:`cryolike_convert.output.input_stamps`).
    """
    stacks = [
        {
            "stored": item.stored,
            "path": str(item.path) if item.path else None,
            "rule": item.rule,
        }
        for item in resolution or []
    ]
    return {
        "format": MANIFEST_FORMAT,
        "packages": package_versions(),
        "inputs": inputs,
        "options": options,
        "grid": grid,
        "pixel_size": pixel_size,
        "n_rows": n_rows,
        "stack_files": stacks,
        "image_sign": {"values": image_sign, "applied": sign_applied}
        if image_sign
        else None,
        "stack_stamps": stack_stamps,
    }


def check_resumable(
    layout: OutputLayout, previous: dict[str, Any], header: dict[str, Any]
) -> None:
    """A resumed run must have the previous run's inputs, options, grid and stacks.

    Every image stack read must be unchanged (size and modification time).

    Raises
    ------
    OutputError
        Naming every differing option, input or grid value with both values, or
        the file, for a changed image stack.
    """
    differences: list[str] = []
    for key in ("inputs", "options", "grid"):
        differences += _differences(key, previous.get(key), header[key])
    if differences:
        listed = "\n  ".join(differences[:_LISTED_DIFFERENCES])
        more = len(differences) - _LISTED_DIFFERENCES
        raise OutputError(
            f"{layout.manifest}: the previous run differs from this one in "
            f"{len(differences)} value(s) (previous vs now):\n  {listed}"
            + (f"\n  ... and {more} more" if more > 0 else "")
            + f"\nResume only with the same inputs and options, or pass {OVERWRITE} "
            "to start again"
        )
    check_unchanged(
        previous.get("stack_stamps"),
        header.get("stack_stamps") or {},
        str(layout.manifest),
    )


#: Differences listed when a resume is refused, before the rest is counted.
_LISTED_DIFFERENCES = 20


def _differences(where: str, before: Any, now: Any) -> list[str]:
    """``name: before vs now`` for every leaf value that differs."""
    if isinstance(before, dict) and isinstance(now, dict):
        found = []
        for key in list(before) + [k for k in now if k not in before]:
            found += _differences(
                f"{where}.{key}", before.get(key, _ABSENT), now.get(key, _ABSENT)
            )
        return found
    if (
        isinstance(before, list)
        and isinstance(now, list)
        and len(before) == len(now)
        and before != now
    ):
        found = []
        for index, (old, new) in enumerate(zip(before, now, strict=True)):
            found += _differences(f"{where}[{index}]", old, new)
        return found
    if before == now:
        return []
    return [f"{_difference_name(where)}: {_short(before)} vs {_short(now)}"]


_ABSENT = object()


def _difference_name(where: str) -> str:
    group, _, name = where.partition(".")
    if group == "options" and name and "." not in name:
        return option_name(name)
    return where


def _short(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= 72 else text[:69] + "..."
