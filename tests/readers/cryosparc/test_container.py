"""CryoSPARC's compressed CSDAT ``.cs`` container, read through cryosparc-tools."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryosparc.dataset import CSDAT_FORMAT, Dataset

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import MissingDependencyError
from cryolike_convert.readers.cryosparc.container import load_cs_table
from cryolike_convert.testing import ExampleProject
from tests.conftest import load_output


def _save_csdat(table: np.ndarray, path: Path) -> None:
    Dataset(table).save(str(path), format=CSDAT_FORMAT)


def test_csdat_file_converts_like_the_npy_file(
    project: ExampleProject, tmp_path: Path
) -> None:
    table = np.load(project.cs_file, allow_pickle=False)
    csdat = project.cs_file.with_name("J5_particles_csdat.cs")
    _save_csdat(table, csdat)
    assert csdat.read_bytes()[:6] == b"\x95CSDAT"
    loaded = load_cs_table(csdat)
    for name in table.dtype.names or ():
        np.testing.assert_array_equal(loaded[name], table[name], err_msg=name)
    common: dict[str, Any] = {"flag_plots": False, "batch_size": 20}
    convert(project.params, project.cs_file, folder_output=tmp_path / "npy", **common)
    convert(project.params, csdat, folder_output=tmp_path / "csdat", **common)
    npy, csd = load_output(tmp_path / "npy"), load_output(tmp_path / "csdat")
    assert npy["fourier"].tobytes() == csd["fourier"].tobytes()
    assert npy["phys"].tobytes() == csd["phys"].tobytes()
    for a, b in zip(npy["npz"], csd["npz"], strict=True):
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            if a[key].dtype != object:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_csdat_without_cryosparc_tools_names_the_extra(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = np.load(project.cs_file, allow_pickle=False)
    _save_csdat(table, project.cs_file)
    real_import = builtins.__import__

    def refuse_cryosparc(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "cryosparc" or name.startswith("cryosparc."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse_cryosparc)
    with pytest.raises(
        MissingDependencyError, match=r"cryolike-convert\[cryosparc\]"
    ) as info:
        convert(project.params, project.cs_file, folder_output=tmp_path / "out")
    assert str(project.cs_file) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_corrupt_csdat_is_an_input_file_error(
    project: ExampleProject, tmp_path: Path
) -> None:
    from cryolike_convert.errors import InputFileError

    project.cs_file.write_bytes(b"\x95CSDAT" + b"\0" * 64)
    with pytest.raises(InputFileError, match="CSDAT") as info:
        convert(project.params, project.cs_file, folder_output=tmp_path / "out")
    assert str(project.cs_file) in str(info.value)
