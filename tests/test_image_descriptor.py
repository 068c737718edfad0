"""Params files: CryoLike's 11-key npz, read without unpickling, written exactly."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.errors import InputFileError, OutputExistsError, ParamsFileError
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS, ImageDescriptor
from tests.conftest import GOLDEN

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())


@pytest.mark.parametrize("case", CASES)
def test_from_individual_values_reproduces_reference_params(case: str) -> None:
    args = json.loads((GOLDEN / case / "case.json").read_text())["params_npz"]["args"]
    ours = ImageDescriptor.from_individual_values(**args)
    reference = ImageDescriptor.load(GOLDEN / case / "input" / "params.npz")
    for key in DESCRIPTOR_KEYS:
        assert ours.arrays[key].dtype == reference.arrays[key].dtype, key
        if ours.arrays[key].dtype != object:
            assert ours.arrays[key].tobytes() == reference.arrays[key].tobytes(), key


def test_formulas() -> None:
    descriptor = ImageDescriptor.from_individual_values(
        132, 1.346, resolution_factor=1.0, n_inplanes=256
    )
    grid = descriptor.polar_grid
    assert (grid.radius_max, grid.n_shells, grid.n_inplanes) == (33.0, 133, 256)
    half = ImageDescriptor.from_individual_values(
        224, 2.146, resolution_factor=0.5, n_inplanes=256
    ).polar_grid
    assert (half.radius_max, half.n_shells) == (28.0, 113)
    default = ImageDescriptor.from_individual_values(33, 1.0)
    assert (default.polar_grid.n_shells, default.polar_grid.n_inplanes) == (34, 66)
    assert float(default.arrays["viewing_distance"]) == pytest.approx(1 / (4 * np.pi))


def test_round_trip(tmp_path: Path) -> None:
    original = ImageDescriptor.from_individual_values(
        64, 1.7, precision="double", n_inplanes=100
    )
    path = original.save(tmp_path / "params.npz")
    loaded = ImageDescriptor.load(path)
    for key in DESCRIPTOR_KEYS:
        assert loaded.arrays[key].dtype == original.arrays[key].dtype
    assert loaded.precision == "double"
    assert loaded.n_pixels == (64, 64)
    assert loaded.pixel_size_angstrom == (1.7, 1.7)
    # CryoLike's own loader opens the file with numpy and allow_pickle=True.
    with np.load(path, allow_pickle=True) as raw:
        assert sorted(raw.files) == sorted(DESCRIPTOR_KEYS)
        assert raw["atom_radii"].item() is None
        assert raw["n_pixels"].dtype == np.int64


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    descriptor = ImageDescriptor.from_individual_values(32, 1.0)
    descriptor.save(tmp_path / "p.npz")
    with pytest.raises(OutputExistsError, match=r"p\.npz"):
        descriptor.save(tmp_path / "p.npz")
    descriptor.save(tmp_path / "p.npz", overwrite=True)


def write_members(path: Path, members: dict[str, np.ndarray]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in members.items():
            with archive.open(f"{key}.npy", "w") as handle:
                np.lib.format.write_array(handle, value, allow_pickle=True)
    return path


class Exploit:
    """Unpickling this writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (self.marker, "pwned"))  # type: ignore[return-value]


def test_pickle_payload_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    members = dict(ImageDescriptor.from_individual_values(32, 1.0).arrays)
    payload = np.empty((), dtype=object)
    payload[()] = Exploit(marker)
    pickle.dumps(payload)  # the payload really is a pickle
    members["atom_radii"] = payload
    loaded = ImageDescriptor.load(write_members(tmp_path / "evil.npz", members))
    assert loaded.arrays["atom_radii"].item() is None
    members["viewing_distance"] = payload
    with pytest.raises(ParamsFileError, match=r"viewing_distance.*never unpickles"):
        ImageDescriptor.load(write_members(tmp_path / "evil2.npz", members))
    assert not marker.exists()


def test_missing_keys_are_listed(tmp_path: Path) -> None:
    members = dict(ImageDescriptor.from_individual_values(32, 1.0).arrays)
    del members["radius_max"], members["atom_shape"]
    with pytest.raises(ParamsFileError, match="radius_max, atom_shape") as info:
        ImageDescriptor.load(write_members(tmp_path / "short.npz", members))
    assert "short.npz" in str(info.value)


def test_wrong_types_are_rejected(tmp_path: Path) -> None:
    members = dict(ImageDescriptor.from_individual_values(32, 1.0).arrays)
    members["n_pixels"] = np.array(["32", "32"])
    with pytest.raises(ParamsFileError, match="n_pixels"):
        ImageDescriptor.load(write_members(tmp_path / "bad.npz", members))


def test_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "params.npz"
    path.write_text("hello")
    with pytest.raises(InputFileError, match=r"not a readable \.npz"):
        ImageDescriptor.load(path)
    with pytest.raises(InputFileError, match="not found"):
        ImageDescriptor.load(tmp_path / "missing.npz")


def test_writer_pickles_only_none(tmp_path: Path) -> None:
    from cryolike_convert.formats.npz import none_array, write_npz

    with open(tmp_path / "ok.npz", "wb") as handle:
        write_npz(handle, {"a": none_array(), "b": np.arange(3)})
    with np.load(tmp_path / "ok.npz", allow_pickle=True) as loaded:
        assert loaded["a"].item() is None
    with (
        open(tmp_path / "bad.npz", "wb") as handle,
        pytest.raises(ValueError, match="pickle"),
    ):
        write_npz(handle, {"a": np.array([object()], dtype=object)})


def test_reference_import_path(tmp_path: Path) -> None:
    # CryoLike's example script: from cryolike_convert.metadata import ImageDescriptor
    from cryolike_convert.metadata import ImageDescriptor as FromMetadata

    assert FromMetadata is ImageDescriptor
    FromMetadata.from_individual_values(
        n_pixels=132,
        pixel_size=1.346,
        resolution_factor=1.0,
        precision="single",
        viewing_distance=8 / (4 * np.pi),
        n_inplanes=256,
        use_protein_residue_model=True,
        atom_shape="hard-sphere",
    ).save(tmp_path / "parameters.npz")
    loaded = ImageDescriptor.load(tmp_path / "parameters.npz")
    assert loaded.polar_grid.n_shells == 133
