"""The run manifest: row ranges, the document, reading it back, input descriptions."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryolike_convert.errors import OutputError
from cryolike_convert.output.layout import OutputLayout
from cryolike_convert.output.manifest import (
    MANIFEST_FORMAT,
    Manifest,
    describe_input_file,
    read_manifest,
    row_ranges,
)


def expand(ranges: list[list[int]]) -> list[int]:
    return [row for start, stop in ranges for row in range(start, stop)]


@given(st.lists(st.integers(0, 60), max_size=40, unique=True))
def test_row_ranges_of_sorted_rows_are_maximal_and_round_trip(rows: list[int]) -> None:
    rows = sorted(rows)
    ranges = row_ranges(np.array(rows, dtype=np.int64))
    assert expand(ranges) == rows
    assert all(start < stop for start, stop in ranges)
    # Maximal: consecutive ranges leave a gap (else they would be one range).
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    expected_count = sum(
        1 for i, row in enumerate(rows) if i == 0 or row != rows[i - 1] + 1
    )
    assert len(ranges) == expected_count


@given(st.lists(st.integers(0, 30), max_size=40))
def test_row_ranges_of_any_rows_round_trip_in_order(rows: list[int]) -> None:
    ranges = row_ranges(np.array(rows, dtype=np.int64))
    assert expand(ranges) == rows
    assert all(isinstance(v, int) for pair in ranges for v in pair)


def test_row_ranges_examples() -> None:
    assert row_ranges(np.array([], dtype=np.int64)) == []
    assert row_ranges(np.array([4])) == [[4, 5]]
    assert row_ranges(np.array([0, 1, 2, 5, 6, 9])) == [[0, 3], [5, 7], [9, 10]]
    assert row_ranges(np.array([10**12, 10**12 + 1])) == [[10**12, 10**12 + 2]]
    rng = np.random.default_rng(0)
    rows = np.flatnonzero(rng.random(100_000) < 0.7)
    assert expand(row_ranges(rows)) == rows.tolist()
    assert json.loads(json.dumps(row_ranges(rows))) == row_ranges(rows)


def header() -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "inputs": {"metadata": "x.cs"},
        "options": {"batch_size": 4},
        "n_rows": 10,
    }


def stack(number: int, n_images: int, skipped: int = 0) -> dict[str, Any]:
    return {
        "number": number,
        "n_images": n_images,
        "skipped": [{"row": r} for r in range(skipped)],
    }


def test_manifest_document_totals_and_stack_order(tmp_path: Path) -> None:
    manifest = Manifest(OutputLayout(tmp_path), header())
    manifest.stacks[1] = stack(1, 3, skipped=1)
    manifest.stacks[0] = stack(0, 4)
    manifest.skipped.append({"row": 9, "reason": "stack file not found"})
    manifest.without_images.append({"rows": [[20, 23], [30, 31]], "reason": "no image"})
    manifest.unconverted = {"n_rows": 2, "reason": "n_stacks_max"}
    manifest.warnings.append("odd header")
    document = manifest.to_dict()
    assert document["format"] == MANIFEST_FORMAT
    assert document["inputs"] == {"metadata": "x.cs"}
    assert document["status"] == "running"
    assert [entry["number"] for entry in document["stacks"]] == [0, 1]
    assert document["totals"] == {
        "n_rows": 10 + 4,
        "n_converted": 7,
        "n_stacks": 2,
        "n_skipped": 1 + 1,
        "n_unconverted": 2,
        "n_without_image": 4,
    }
    assert document["skipped"] == [{"row": 9, "reason": "stack file not found"}]
    assert document["warnings"] == ["odd header"]
    assert document["rows_without_images"] == manifest.without_images


def test_manifest_is_written_as_json_and_read_back(tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    manifest = Manifest(layout, header())
    manifest.stacks[0] = stack(0, 5)
    manifest.status = "complete"
    manifest.write()
    assert json.loads(layout.manifest.read_text()) == manifest.to_dict()
    assert read_manifest(layout) == manifest.to_dict()
    assert layout.temporary_files() == []
    manifest.stacks[1] = stack(1, 2)
    manifest.write()  # rewritten after every stack
    document = read_manifest(layout)
    assert document is not None
    assert document["totals"]["n_converted"] == 7


def test_no_manifest_reads_as_none(tmp_path: Path) -> None:
    assert read_manifest(OutputLayout(tmp_path)) is None
    assert read_manifest(OutputLayout(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "",
        '{"format": "something-else/1"}',
        "{}",
        "[]",
        "null",
        f'["{MANIFEST_FORMAT}"]',
    ],
)
def test_a_bad_manifest_is_an_output_error(tmp_path: Path, text: str) -> None:
    layout = OutputLayout(tmp_path)
    layout.manifest.write_text(text)
    with pytest.raises(OutputError) as caught:
        read_manifest(layout)
    assert str(layout.manifest) in str(caught.value)


def test_describe_input_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = np.random.default_rng(1).bytes(3 * (1 << 20) + 17)  # > one read block
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "particles.cs").write_bytes(payload)
    monkeypatch.chdir(tmp_path)
    described = describe_input_file(Path("meta/particles.cs"))
    assert described == {
        "path": str(tmp_path / "meta" / "particles.cs"),
        "size": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def test_describe_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.star").write_bytes(b"")
    described = describe_input_file(tmp_path / "empty.star")
    assert described["size"] == 0
    assert described["sha256"] == hashlib.sha256(b"").hexdigest()
