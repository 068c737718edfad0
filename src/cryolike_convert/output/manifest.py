"""The run manifest (``OUT/manifest.json``) and the policy for re-used output folders."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import IO, Any

import numpy as np

from cryolike_convert.errors import OVERWRITE, RESUME, OutputError, OutputExistsError
from cryolike_convert.formats.checksum import matches
from cryolike_convert.options import option_name
from cryolike_convert.output.layout import (
    OutputLayout,
    recorded_checksums,
    write_atomic,
)
from cryolike_convert.readers.paths import ResolvedStack

MANIFEST_FORMAT = "cryolike-manifest/1"


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
    OutputError
        If the manifest exists but is not readable JSON.
    """
    if not layout.manifest.is_file():
        return None
    try:
        document = json.loads(layout.manifest.read_text())
    except (OSError, ValueError) as err:
        raise OutputError(f"{layout.manifest}: cannot be read ({err})") from err
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise OutputError(f"{layout.manifest}: not a cryolike manifest")
    return document


def prepare_output(
    layout: OutputLayout, overwrite: bool, resume: bool
) -> dict[str, Any] | None:
    """Make the output folders and apply the re-run policy.

    Returns the previous manifest when resuming. With ``overwrite`` every file of
    the previous run is removed first.

    Raises
    ------
    OutputExistsError
        If the folder holds stacks and neither ``overwrite`` nor ``resume`` is set.
    OutputError
        If the folder cannot be created or written.
    """
    if layout.root.exists() and not layout.root.is_dir():
        raise OutputError(
            f"{layout.root}: exists and is not a folder; choose another output"
        )
    previous = read_manifest(layout) if layout.root.is_dir() else None
    existing = layout.existing_stack_files() if layout.root.is_dir() else []
    if (existing or previous) and not (overwrite or resume):
        raise OutputExistsError(
            f"{layout.root}: already holds {len(existing)} stack file(s) of a previous run; "
            f"pass {OVERWRITE} to replace them or {RESUME} to continue that run"
        )
    if overwrite:
        remove_previous_run(layout, previous, existing)
        previous = None
    remove_temporaries(layout)
    try:
        for folder in (layout.root, layout.fft_dir, layout.phys_dir):
            folder.mkdir(parents=True, exist_ok=True)
        probe = layout.root / ".cryolike-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(
            f"{layout.root}: cannot be written ({err.strerror or err})"
        ) from err
    return previous if resume else None


def remove_temporaries(layout: OutputLayout) -> None:
    """Remove the temporary files that an interrupted (killed) run left behind.

    Raises
    ------
    OutputError
        If one cannot be removed.
    """
    for path in layout.temporary_files():
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            raise OutputError(
                f"{path}: a temporary file of an interrupted run cannot be removed "
                f"({err.strerror or err})"
            ) from err


def remove_unrecorded(layout: OutputLayout, document: dict[str, Any]) -> None:
    """Remove stack and plot files that ``document`` (a manifest) does not list.

    Used when a run fails part-way: the files of the stack being written are not
    yet in the manifest and must not be left behind. Best effort: a file that
    cannot be removed is left (the original error matters more).
    """
    recorded = {
        layout.root / relative
        for entry in document.get("stacks", [])
        for relative in [
            *entry.get("files", {}).values(),
            *entry.get("plots", {}).values(),
        ]
    }
    doomed = layout.existing_stack_files() + layout.existing_plot_files()
    for path in [p for p in doomed if p not in recorded] + layout.temporary_files():
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue


def remove_previous_run(
    layout: OutputLayout, previous: dict[str, Any] | None, existing: list[Path]
) -> None:
    """Remove the files a previous run wrote (per its manifest) and stray stacks."""
    doomed = set(existing) | set(layout.existing_plot_files())
    for entry in (previous or {}).get("stacks", []):
        for relative in list(entry.get("files", {}).values()) + list(
            entry.get("plots", {}).values()
        ):
            doomed.add(layout.root / relative)
    for path in doomed:
        path.unlink(missing_ok=True)
    layout.manifest.unlink(missing_ok=True)
    remove_temporaries(layout)


def finished_stack(layout: OutputLayout, entry: dict[str, Any]) -> bool:
    """Whether a stack of a previous run is complete and unchanged on disk.

    Every stack file must match its recorded checksum and every recorded plot must
    exist; otherwise the stack is redone.
    """
    checksums = recorded_checksums(entry)
    for kind, relative in entry.get("files", {}).items():
        if not matches(layout.root / relative, checksums.get(kind)):
            return False
    if not all((layout.root / p).is_file() for p in entry.get("plots", {}).values()):
        return False
    return bool(entry.get("files"))


def manifest_header(
    *,
    n_rows: int,
    inputs: dict[str, Any],
    options: dict[str, Any],
    grid: dict[str, Any],
    pixel_size: dict[str, Any],
    resolution: list[ResolvedStack] | None,
    image_sign: list[float] | None = None,
    sign_applied: bool = False,
) -> dict[str, Any]:
    """The part of the manifest fixed before the first stack: what went in, how.

    ``image_sign`` lists the distinct ``blob/sign`` values of the input; like
    CryoLike, cryolike records them and applies them only when asked
    (``sign_applied``).
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
    }


def check_resumable(
    layout: OutputLayout, previous: dict[str, Any], header: dict[str, Any]
) -> None:
    """A resumed run must have the previous run's inputs, options and grid.

    Raises
    ------
    OutputError
        Naming every differing option, input or grid value with both values.
    """
    differences: list[str] = []
    for key in ("inputs", "options", "grid"):
        differences += _differences(key, previous.get(key), header[key])
    if not differences:
        return
    listed = "\n  ".join(differences[:_LISTED_DIFFERENCES])
    more = len(differences) - _LISTED_DIFFERENCES
    raise OutputError(
        f"{layout.manifest}: the previous run differs from this one in "
        f"{len(differences)} value(s) (previous vs now):\n  {listed}"
        + (f"\n  ... and {more} more" if more > 0 else "")
        + f"\nResume only with the same inputs and options, or pass {OVERWRITE} to "
        "start again"
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
