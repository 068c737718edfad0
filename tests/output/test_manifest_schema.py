"""A manifest is checked for shape before any of it is believed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cryolike_convert.errors import CorruptManifestError
from cryolike_convert.output.manifest_schema import (
    MANIFEST_FORMAT,
    manifest_problem,
    validate_manifest,
)

ENTRY = {
    "number": 0,
    "n_images": 4,
    "files": {"npz": "fft/particles_fourier_stack_000000.npz"},
    "checksums": {"npz": "xxh3_128:ab"},
    "plots": {},
    "source_rows": [[0, 4]],
    "skipped": [],
}


def _manifest(**changes: Any) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "status": "complete",
        "stacks": [ENTRY],
    } | changes


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ([], "holds a list"),
        (None, "holds null"),
        ("text", "holds a string"),
        (3, "holds a number"),
        ({"format": "other/2", "stacks": []}, "format is 'other/2'"),
        (_manifest(stacks={"0": ENTRY}), "'stacks' is an object"),
        (_manifest(stacks=[1, 2]), "stacks[0] is a number"),
        (_manifest(stacks=[None]), "stacks[0] is null"),
        (
            _manifest(stacks=[ENTRY | {"files": "fft/x"}]),
            "stacks[0] 'files' is a string",
        ),
        (_manifest(stacks=[ENTRY | {"number": "0"}]), "stacks[0] 'number' is a string"),
        (
            _manifest(stacks=[ENTRY | {"number": True}]),
            "stacks[0] 'number' is true/false",
        ),
        (_manifest(stacks=[ENTRY | {"n_images": -1}]), "negative"),
        (
            _manifest(stacks=[{k: v for k, v in ENTRY.items() if k != "number"}]),
            "no 'number'",
        ),
        (_manifest(stacks=[ENTRY | {"checksums": {"npz": 5}}]), "not a string"),
        (_manifest(status=None), "'status' is null"),
        (_manifest(inputs=[]), "'inputs' is a list"),
        ({"format": MANIFEST_FORMAT}, "no 'stacks'"),
    ],
)
def test_every_malformed_manifest_is_named(document: object, words: str) -> None:
    problem = manifest_problem(document)
    assert problem is not None
    assert words in problem
    with pytest.raises(CorruptManifestError) as refused:
        validate_manifest(document, Path("out/manifest.json"))
    text = str(refused.value)
    assert text.startswith("out/manifest.json: not a valid cryolike manifest")
    assert "--resume" in text
    assert "--overwrite" in text


def test_a_well_formed_manifest_passes() -> None:
    document = _manifest()
    assert manifest_problem(document) is None
    assert validate_manifest(document, Path("m")) is document
