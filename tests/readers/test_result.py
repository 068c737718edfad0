"""The folders a relative stored path is tried in, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryolike_convert.readers.result import relative_search_dirs


def test_cwd_then_project_then_metadata_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    metadata = tmp_path / "proj" / "J5" / "particles.cs"
    project = tmp_path / "given"
    assert relative_search_dirs(project, metadata) == (
        ("cwd", work),
        ("project_dir", project),
        ("metadata_dir", tmp_path / "proj" / "J5"),
    )


def test_without_a_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dirs = relative_search_dirs(None, tmp_path / "meta" / "particles.star")
    assert dirs == (("cwd", tmp_path), ("metadata_dir", tmp_path / "meta"))


def test_a_relative_metadata_path_gives_an_absolute_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "meta").mkdir()
    monkeypatch.chdir(tmp_path / "meta")
    rule, folder = relative_search_dirs(None, Path("particles.star"))[-1]
    assert rule == "metadata_dir"
    assert folder.is_absolute()
    assert folder == tmp_path / "meta"


def test_cwd_is_taken_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        assert relative_search_dirs(None, tmp_path / "x.cs")[0] == (
            "cwd",
            tmp_path / name,
        )
