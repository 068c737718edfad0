"""The shape a ``manifest.json`` must have before any of it is believed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryolike_convert.errors import CorruptManifestError

MANIFEST_FORMAT = "cryolike-manifest/1"
#: Suffix of a damaged manifest set aside when a resumed run rebuilds it.
DAMAGED_SUFFIX = ".damaged"

#: Top-level key → the JSON types it may hold.
_TOP_LEVEL: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "stacks": (list,),
    "inputs": (dict,),
    "options": (dict,),
    "grid": (dict,),
    "skipped": (list,),
    "warnings": (list,),
    "totals": (dict,),
}
#: Stack-entry key → the JSON types it may hold.
_ENTRY: dict[str, tuple[type, ...]] = {
    "number": (int,),
    "n_images": (int,),
    "files": (dict,),
    "sha256": (dict,),
    "checksums": (dict,),
    "plots": (dict,),
    "source_rows": (list,),
    "skipped": (list,),
}
_REQUIRED_ENTRY = ("number", "n_images")


def recovery_advice(path: Path) -> str:
    """What to do about a damaged manifest at ``path``."""
    return (
        "its stacks need not be lost: rerun the same conversion with --resume "
        "(skip_exist=True) to rebuild the manifest from the stack files on disk, each "
        f"checked against the inputs (the damaged file is kept as {path.name}"
        f"{DAMAGED_SUFFIX}), or with --overwrite to start again"
    )


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def manifest_problem(document: object) -> str | None:
    """What is wrong with a parsed manifest, or ``None`` if its shape is right."""
    if not isinstance(document, dict):
        return f"holds {_json_type(document)}, not an object"
    if document.get("format") != MANIFEST_FORMAT:
        return f"format is {document.get('format')!r}, not {MANIFEST_FORMAT!r}"
    for key, kinds in _TOP_LEVEL.items():
        if key in document and not isinstance(document[key], kinds):
            return f"{key!r} is {_json_type(document[key])}"
    if "stacks" not in document:
        return "has no 'stacks'"
    for index, entry in enumerate(document["stacks"]):
        problem = _entry_problem(entry)
        if problem is not None:
            return f"stacks[{index}] {problem}"
    return None


def _entry_problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return f"is {_json_type(entry)}, not an object"
    for key in _REQUIRED_ENTRY:
        if key not in entry:
            return f"has no {key!r}"
    for key, kinds in _ENTRY.items():
        value = entry.get(key)
        if key in entry and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f"{key!r} is {_json_type(value)}"
    if entry["number"] < 0 or entry["n_images"] < 0:
        return "has a negative number"
    for key in ("files", "sha256", "checksums", "plots"):
        values = entry.get(key, {})
        if not all(isinstance(v, str) for v in values.values()):
            return f"{key!r} holds a value that is not a string"
    return None


def validate_manifest(document: object, path: Path) -> dict[str, Any]:
    """Return ``document`` if it has a manifest's shape.

    Raises
    ------
    CorruptManifestError
        Naming the file, what is wrong, and how to recover.
    """
    problem = manifest_problem(document)
    if problem is not None:
        raise CorruptManifestError(
            f"{path}: not a valid cryolike manifest ({problem}); {recovery_advice(path)}"
        )
    valid: dict[str, Any] = document  # type: ignore[assignment]
    return valid


__all__ = [
    "DAMAGED_SUFFIX",
    "MANIFEST_FORMAT",
    "manifest_problem",
    "recovery_advice",
    "validate_manifest",
]
