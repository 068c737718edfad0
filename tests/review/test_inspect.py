"""Reading back output folders: summary, overview plots and verification."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch
from matplotlib.patches import Polygon

from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
from cryolike_convert.errors import OutputError
from cryolike_convert.formats.checksum import file_checksum
from cryolike_convert.formats.npz import write_npz
from cryolike_convert.image_descriptor import DESCRIPTOR_KEYS, ImageDescriptor
from cryolike_convert.output.stack_npz import LENS_KEYS, REQUIRED_NPZ_KEYS
from cryolike_convert.review.inspect import (
    OVERVIEW_PLOTS,
    evenly_spaced,
    iter_stack_rows,
    load_output_manifest,
    overview_figures,
    summarize_output,
    write_overview_plots,
)
from cryolike_convert.review.verify import verify_output
from cryolike_convert.testing import make_cryosparc_project
from cryolike_convert.testing.ctf import make_ctf_cryosparc_project
from tests.conftest import load_output


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished conversion of 20 particles in stacks of 8, 8 and 4 (read-only)."""
    root = tmp_path_factory.mktemp("converted")
    project = make_cryosparc_project(root / "project", n_particles=20)
    convert_particle_stacks_from_indexed_cryosparc_file(
        project.params,
        project.cs_file,
        folder_output=root / "out",
        batch_size=8,
        flag_plots=False,
    )
    return root / "out"


@pytest.fixture
def output(converted: Path, tmp_path: Path) -> Path:
    """A private copy of the conversion that a test may damage."""
    return Path(shutil.copytree(converted, tmp_path / "out"))


def _manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text())  # type: ignore[no-any-return]


def _save_manifest(out: Path, manifest: dict) -> None:  # type: ignore[type-arg]
    (out / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_npz(out: Path, number: int, change: dict[str, object | None]) -> Path:
    """Rewrite one stack's npz (drop keys mapped to None) and re-record its checksum."""
    path = out / "fft" / f"particles_fourier_stack_{number:06d}.npz"
    with zipfile.ZipFile(path) as archive:
        arrays = {
            name[:-4]: np.lib.format.read_array(
                io.BytesIO(archive.read(name)), allow_pickle=True
            )
            for name in archive.namelist()
        }
    for key, value in change.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = np.asarray(value)
    with open(path, "wb") as handle:
        write_npz(handle, arrays)
    manifest = _manifest(out)
    manifest["stacks"][number]["checksums"]["npz"] = file_checksum(path)
    _save_manifest(out, manifest)
    return path


def test_required_keys_are_the_26_reference_keys_and_n_images() -> None:
    assert len(DESCRIPTOR_KEYS) == 11
    assert len(LENS_KEYS) == 15
    assert len(set(REQUIRED_NPZ_KEYS)) == 27


def test_summary_reads_counts_grid_and_lens_ranges(converted: Path) -> None:
    summary = summarize_output(converted)
    assert summary.status == "complete"
    assert (summary.n_rows, summary.n_stacks, summary.n_images) == (20, 3, 20)
    assert summary.grid["n_shells"] == 33
    assert summary.grid["precision"] == "single"
    assert summary.pixel_size["output_angstrom"] == pytest.approx(1.7)
    defocus_v = np.concatenate(
        [np.load(p)["defocusV"] for p in sorted((converted / "fft").glob("*.npz"))]
    )
    assert summary.defocus_v_angstrom == (defocus_v.min(), defocus_v.max())
    assert summary.phase_shift_rad == (0.0, 0.0)
    assert summary.skipped == []


def test_summary_lists_skipped_and_unconverted_rows(tmp_path: Path) -> None:
    project = make_cryosparc_project(tmp_path / "project", n_particles=20)
    project.stacks[2].unlink()  # stack_c.mrc: the last 6 particles
    convert_particle_stacks_from_indexed_cryosparc_file(
        project.params,
        project.cs_file,
        folder_output=tmp_path / "out",
        batch_size=4,
        n_stacks_max=2,
        flag_plots=False,
        on_missing="skip",
    )
    summary = summarize_output(tmp_path / "out")
    assert len(summary.skipped) == 6
    assert all("stack_c.mrc" in item["reason"] for item in summary.skipped)
    assert [item["row"] for item in summary.skipped] == sorted(
        item["row"] for item in summary.skipped
    )
    assert summary.unconverted["n_rows"] == 20 - 6 - 8
    assert "n_stacks_max" in summary.unconverted["reason"]


def test_summary_needs_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"manifest\.json"):
        summarize_output(tmp_path)


def test_overview_plots_are_valid_pngs(converted: Path, tmp_path: Path) -> None:
    import matplotlib.image

    paths = write_overview_plots(converted, tmp_path / "plots")
    assert set(paths) == set(OVERVIEW_PLOTS)
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.image.imread(path).ndim == 3


@pytest.fixture(scope="module")
def ctf_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 CTF-modulated particles (48 px, 1.5 Å) in stacks of 16, 16 and 8."""
    root = tmp_path_factory.mktemp("ctf")
    project = make_ctf_cryosparc_project(root / "project", n_particles=40, box=48)
    convert_particle_stacks_from_indexed_cryosparc_file(
        project.params,
        project.cs_file,
        folder_output=root / "out",
        batch_size=16,
        flag_plots=False,
    )
    return root / "out"


def _row_labels(out: Path, positions: np.ndarray) -> list[str]:
    npz = load_output(out)["npz"]
    rows = np.concatenate([part["source_row"] for part in npz])[positions]
    uids = np.concatenate([part["source_uid"] for part in npz])[positions]
    return [f"row {r:,}\nuid {u}" for r, u in zip(rows, uids, strict=True)]


def test_evenly_spaced_positions_cover_both_ends() -> None:
    assert evenly_spaced(40, 16).tolist() == [
        0, 3, 5, 8, 10, 13, 16, 18, 21, 23, 26, 29, 31, 34, 36, 39,
    ]  # fmt: skip
    assert evenly_spaced(5, 16).tolist() == [0, 1, 2, 3, 4]
    assert evenly_spaced(0, 16).size == 0
    assert evenly_spaced(10**7, 1024).size == 1024


def test_overview_montages_sample_the_whole_output_in_source_order(
    ctf_output: Path,
) -> None:
    figures = overview_figures(ctf_output)
    shown = evenly_spaced(40, 16)
    everything = load_output(ctf_output)
    for kind in ("physical", "fourier"):
        figure = figures[kind]
        assert "16 of 40 images, evenly spaced in source order" in (
            figure.get_suptitle()
        )
        panels = [a for a in figure.axes if a.get_label() != "<colorbar>"]
        assert [a.get_title() for a in panels] == _row_labels(ctf_output, shown)
        assert sum(a.get_label() == "<colorbar>" for a in figure.axes) == 1
    panels = [a for a in figures["physical"].axes if a.get_label() != "<colorbar>"]
    for axis, position in zip(panels, shown, strict=True):
        np.testing.assert_array_equal(
            axis.images[0].get_array(), everything["phys"][position]
        )


def test_overview_power_spectrum_averages_evenly_spaced_images(
    ctf_output: Path,
) -> None:
    figure = overview_figures(ctf_output, max_spectrum_images=8)["power_spectrum"]
    assert "mean of 8 of 40 images, evenly spaced" in figure.get_suptitle()
    fourier = load_output(ctf_output)["fourier"][evenly_spaced(40, 8)]
    direct = (np.abs(fourier.astype(np.complex128)) ** 2).mean(axis=(0, 2))
    line = figure.axes[0].get_lines()[0]
    drawn = np.asarray(line.get_ydata())
    np.testing.assert_allclose(drawn, direct[-len(drawn) :], rtol=1e-5)
    box = 48 * 1.5
    assert figure.axes[0].get_xlim() == pytest.approx((1 / box, 1 / 3.0))


def test_overview_ctf_panels_cover_every_image(ctf_output: Path) -> None:
    figure = overview_figures(ctf_output)["ctf"]
    assert figure.get_suptitle().endswith("CTF parameters of 40 images")
    outline = cast(Polygon, figure.axes[1].patches[0]).get_xy()
    assert outline[1:-1:2, 1].sum() == 40
    listed = figure.axes[3].texts[0].get_text()
    assert "images: 40 in 3 stack(s)" in listed
    assert "voltage: 300 kV" in listed
    assert "spherical aberration Cs: 2.7 mm" in listed
    assert "amplitude contrast: 0.1" in listed


def test_stack_rows_are_read_as_a_full_load_gives_them(ctf_output: Path) -> None:
    layout, manifest = load_output_manifest(ctf_output)
    positions = np.array([0, 1, 15, 16, 17, 30, 39])
    everything = load_output(ctf_output)
    for kind, key in (("fourier", "fourier"), ("phys", "phys")):
        blocks = list(iter_stack_rows(layout, manifest, kind, positions, block=2))
        assert [len(b) for b in blocks] == [2, 1, 2, 1, 1]  # per stack, then blocks
        np.testing.assert_array_equal(
            np.concatenate(blocks), everything[key][positions]
        )


def test_stack_rows_check_the_image_count(output: Path) -> None:
    manifest = _manifest(output)
    manifest["stacks"][1]["n_images"] = 9
    _save_manifest(output, manifest)
    layout, document = load_output_manifest(output)
    path = output / "fft" / "particles_fourier_stack_000001.pt"
    with pytest.raises(OutputError, match=r"holds 8 images; manifest\.json says 9"):
        list(iter_stack_rows(layout, document, "fourier", np.array([12])))
    assert path.is_file()


def test_verify_passes_on_a_fresh_conversion(converted: Path) -> None:
    report = verify_output(converted)
    assert report.ok, report.problems
    assert (report.n_stacks, report.n_images) == (3, 20)
    assert report.params_path is not None
    assert report.params_path.name == "params.npz"


def test_verify_names_a_missing_key(output: Path) -> None:
    path = _rewrite_npz(output, 1, {"voltage": None})
    problems = [str(p) for p in verify_output(output).problems]
    assert problems == [f"{path}: lacks key(s) voltage"]


def test_verify_checks_dtypes_and_counts(output: Path) -> None:
    path = _rewrite_npz(
        output, 0, {"idxs": np.zeros(8, dtype=np.float32), "n_images": 7}
    )
    problems = [str(p) for p in verify_output(output).problems]
    assert f"{path}: key 'idxs' is float32 (8,); expected kind 'iu' (8,)" in problems
    assert f"{path}: n_images is 7; manifest.json says 8" in problems


def test_verify_checks_grid_bits(output: Path) -> None:
    path = _rewrite_npz(output, 2, {"pixel_size": np.array([1.7, 1.7000001])})
    problems = [str(p) for p in verify_output(output).problems]
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: key 'pixel_size' is not bit-identical")


def test_verify_checks_tensor_shape_and_dtype(output: Path) -> None:
    path = output / "fft" / "particles_fourier_stack_000000.pt"
    torch.save(torch.zeros(8, 33, 64, dtype=torch.complex128), path)
    manifest = _manifest(output)
    manifest["stacks"][0]["checksums"]["fourier"] = file_checksum(path)
    _save_manifest(output, manifest)
    problems = [str(p) for p in verify_output(output).problems]
    assert problems == [
        f"{path}: is torch.complex128 [8, 33, 64]; expected torch.complex64 [8, 33, 64]"
    ]


def test_verify_reports_unreadable_tensors(output: Path) -> None:
    path = output / "phys" / "particles_phys_stack_000001.pt"
    path.write_bytes(b"not a tensor")
    problems = [str(p) for p in verify_output(output).problems]
    assert f"{path}: checksum differs from manifest.json (file changed)" in problems
    assert any(p.startswith(f"{path}: cannot be read as a tensor") for p in problems)


def test_verify_checks_numbering_status_and_stray_files(output: Path) -> None:
    manifest = _manifest(output)
    manifest["status"] = "running"
    del manifest["stacks"][1]
    _save_manifest(output, manifest)
    problems = [str(p) for p in verify_output(output).problems]
    assert any("run status is 'running'" in p for p in problems)
    assert any("expected 0..1" in p for p in problems)
    stray = output / "fft" / "particles_fourier_stack_000001.pt"
    assert f"{stray}: stack file not listed in manifest.json" in problems


def test_verify_compares_with_a_given_params_file(output: Path, tmp_path: Path) -> None:
    other = ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=1.8)
    params = other.save(tmp_path / "other.npz")
    report = verify_output(output, params)
    assert report.params_path == params
    assert len(report.problems) == 3  # one per stack: pixel_size differs
    assert all(
        "'pixel_size' is not bit-identical" in p.message for p in report.problems
    )
