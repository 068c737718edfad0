"""Image stacks are recorded by size and mtime; a resume over a changed one is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cryolike_convert.errors import InputFileError, OutputError
from cryolike_convert.output.input_stamps import check_unchanged, stamp_files


def test_stamps_hold_size_and_mtime_of_every_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.mrc", tmp_path / "b.mrc"
    first.write_bytes(b"x" * 10)
    second.write_bytes(b"y" * 3)
    os.utime(first, ns=(1, 123456789))
    stamps = stamp_files([str(second), str(first), str(first)])
    assert list(stamps) == [str(first), str(second)]
    assert stamps[str(first)] == {"size": 10, "mtime_ns": 123456789}
    assert stamps[str(second)]["size"] == 3


def test_a_file_that_cannot_be_examined_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"gone\.mrc"):
        stamp_files([str(tmp_path / "gone.mrc")])


@pytest.mark.parametrize(
    ("before", "now", "words"),
    [
        (
            {"a": {"size": 1, "mtime_ns": 5}},
            {"a": {"size": 2, "mtime_ns": 5}},
            "size 1 → 2",
        ),
        ({"a": {"size": 1, "mtime_ns": 5}}, {"a": {"size": 1, "mtime_ns": 6}}, "time"),
        ({"a": {"size": 1, "mtime_ns": 5}}, {}, "not by this one"),
        ({}, {"a": {"size": 1, "mtime_ns": 5}}, "not read by the previous run"),
        ({"a": "garbage"}, {"a": {"size": 1, "mtime_ns": 5}}, "unreadable"),
    ],
)
def test_any_change_is_refused_naming_the_file(
    before: dict[str, object], now: dict[str, dict[str, int]], words: str
) -> None:
    with pytest.raises(OutputError, match=words) as refused:
        check_unchanged(before, now, "out/manifest.json")
    assert str(refused.value).startswith("a:")
    assert "--overwrite" in str(refused.value)


def test_unchanged_stacks_and_old_manifests_pass() -> None:
    same = {"a": {"size": 1, "mtime_ns": 5}}
    check_unchanged(same, dict(same), "m")
    check_unchanged(None, same, "m")  # written before stacks were recorded
