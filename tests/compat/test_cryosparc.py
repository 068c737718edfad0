"""Indexed CryoSPARC conversion: reading, paths, errors, reports and re-runs."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.recfunctions as rfn
import pytest

from cryolike_convert import (
    convert_particle_stacks_from_indexed_cryosparc as tutorial_name,
)
from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import (
    GridMismatchError,
    ImageStackError,
    InputFileError,
    MetadataError,
    MissingFieldError,
    OutputExistsError,
    PixelSizeError,
)
from cryolike_convert.file_conversions.particle_stacks_wrappers import (
    convert_particle_stacks_from_indexed_cryosparc_file,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import ExampleProject, write_cs, write_mrc_stack
from tests.conftest import load_output


def run(project: ExampleProject, out: Path, **kwargs: Any) -> Any:
    kwargs.setdefault("flag_plots", False)
    kwargs.setdefault("batch_size", 16)
    return convert(project.params, project.cs_file, folder_output=out, **kwargs)


def rewrite_cs(project: ExampleProject, change: Any) -> None:
    table = np.load(project.cs_file, allow_pickle=False)
    write_cs(project.cs_file, change(table))


def no_stack_files(out: Path) -> bool:
    return not list(out.glob("**/*.pt")) and not list(out.glob("**/*.npz"))


def test_documented_import_paths_are_the_same_function() -> None:
    assert convert_particle_stacks_from_indexed_cryosparc_file is convert
    assert tutorial_name is convert


def test_converts_every_row_in_source_order(
    project: ExampleProject, tmp_path: Path
) -> None:
    report = run(project, tmp_path / "out")
    assert (report.n_converted, report.n_stacks) == (48, 3)
    output = load_output(tmp_path / "out")
    assert output["sizes"] == [16, 16, 16]
    rows = np.concatenate([z["source_row"] for z in output["npz"]])
    np.testing.assert_array_equal(rows, np.arange(48))
    table = np.load(project.cs_file, allow_pickle=False)
    uids = np.concatenate([z["source_uid"] for z in output["npz"]])
    np.testing.assert_array_equal(uids, table["uid"])
    index = np.concatenate([z["source_index"] for z in output["npz"]])
    np.testing.assert_array_equal(index, table["blob/idx"])
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["totals"]["n_converted"] == 48
    assert {entry["rule"] for entry in manifest["stack_files"]} == {"project_dir"}
    assert manifest["image_sign"] == {"values": [-1.0], "applied": False}


def test_batch_size_restacks_across_files(
    project: ExampleProject, tmp_path: Path
) -> None:
    report = run(project, tmp_path / "out", batch_size=20)
    assert [s["n_images"] for s in report.stacks] == [20, 20, 8]


def test_n_stacks_max_reports_unconverted_rows(
    project: ExampleProject, tmp_path: Path
) -> None:
    report = run(project, tmp_path / "out", batch_size=10, n_stacks_max=2)
    assert (report.n_converted, report.n_stacks, report.n_unconverted) == (20, 2, 28)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["unconverted"]["n_rows"] == 28
    assert manifest["unconverted"]["rows"] == [[20, 48]]
    assert "n_stacks_max" in manifest["unconverted"]["reason"]


def test_prefix_bytes_and_tilde(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def prefix(table: np.ndarray) -> np.ndarray:
        table["blob/path"] = [b">" + p for p in table["blob/path"]]
        return table

    rewrite_cs(project, prefix)
    monkeypatch.setenv("HOME", str(project.root))
    report = convert(
        project.params,
        "~/J5/J5_particles_selected.cs",
        folder_cryosparc="~/J3/extract",
        folder_output=tmp_path / "out",
        batch_size=48,
        flag_plots=False,
    )
    assert report.n_converted == 48


def test_single_row_file_is_converted(project: ExampleProject, tmp_path: Path) -> None:
    # CryoLike crashes on an MRC file referenced by exactly one row (bug B1).
    def keep_one_of_c(table: np.ndarray) -> np.ndarray:
        in_c = np.flatnonzero(table["blob/path"] == b"J3/extract/stack_c.mrc")
        keep = np.ones(len(table), bool)
        keep[in_c[1:]] = False
        return table[keep]

    rewrite_cs(project, keep_one_of_c)
    report = run(project, tmp_path / "out")
    assert report.n_converted == 48 - 15


def test_large_header_cs(project: ExampleProject, tmp_path: Path) -> None:
    def widen(table: np.ndarray) -> np.ndarray:
        extra = [np.zeros(len(table), dtype="<f4") for _ in range(400)]
        names = [f"alignments_class_{i}/alpha" for i in range(400)]
        return rfn.append_fields(table, names, extra, usemask=False)

    rewrite_cs(project, widen)
    assert run(project, tmp_path / "out").n_converted == 48


def test_missing_fields_are_listed(project: ExampleProject, tmp_path: Path) -> None:
    rewrite_cs(
        project, lambda t: rfn.drop_fields(t, ["ctf/df1_A", "ctf/cs_mm"], usemask=False)
    )
    with pytest.raises(MissingFieldError, match=r"ctf/df1_A, ctf/cs_mm") as info:
        run(project, tmp_path / "out")
    assert "J5_particles_selected.cs" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_mrc_file_is_an_error_before_writing(
    project: ExampleProject, tmp_path: Path
) -> None:
    project.stacks[1].unlink()
    with pytest.raises(ImageStackError, match=r"stack_b\.mrc") as info:
        run(project, tmp_path / "out")
    message = str(info.value)
    assert "row " in message
    assert "uid " in message
    assert "not found" in message
    assert no_stack_files(tmp_path / "out")


def test_skip_missing_reports_each_row(project: ExampleProject, tmp_path: Path) -> None:
    project.stacks[1].unlink()
    report = run(project, tmp_path / "out", on_missing="skip")
    assert report.n_converted == 32
    assert len(report.skipped) == 16
    assert all("not found" in item["reason"] for item in report.skipped)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["totals"]["n_skipped"] == 16


def test_out_of_range_index(project: ExampleProject, tmp_path: Path) -> None:
    def bad(table: np.ndarray) -> np.ndarray:
        table["blob/idx"][7] = 99
        return table

    rewrite_cs(project, bad)
    with pytest.raises(
        ImageStackError, match=r"row 7, uid \d+.*blob/idx 99 is out of range"
    ):
        run(project, tmp_path / "out")
    assert no_stack_files(tmp_path / "out")


def test_non_finite_defocus_names_row_and_field(
    project: ExampleProject, tmp_path: Path
) -> None:
    def bad(table: np.ndarray) -> np.ndarray:
        table["ctf/df2_A"][5] = np.nan
        return table

    rewrite_cs(project, bad)
    with pytest.raises(
        MetadataError, match=r"J5_particles_selected.cs: row 5 \(uid \d+\).*ctf/df2_A"
    ):
        run(project, tmp_path / "out")


def test_box_params_mismatch_suggests_params(
    project: ExampleProject, tmp_path: Path
) -> None:
    params = ImageDescriptor.from_individual_values(64, 1.7).save(tmp_path / "p64.npz")
    with pytest.raises(GridMismatchError, match=r"n_pixels=32, pixel_size=1.7"):
        convert(
            params, project.cs_file, folder_output=tmp_path / "out", flag_plots=False
        )
    assert no_stack_files(tmp_path / "out")


def test_manual_pixel_size_conflict(project: ExampleProject, tmp_path: Path) -> None:
    with pytest.raises(
        PixelSizeError, match=r"pixel_size=2 Å.*blob/psize_A.*1.7"
    ) as info:
        run(project, tmp_path / "out", pixel_size=2.0)
    assert "J5_particles_selected.cs" in str(info.value)
    assert run(project, tmp_path / "out", pixel_size=1.7).n_converted == 48


def test_rows_disagreeing_on_pixel_size(
    project: ExampleProject, tmp_path: Path
) -> None:
    def bad(table: np.ndarray) -> np.ndarray:
        table["blob/psize_A"][3] = 1.1
        return table

    rewrite_cs(project, bad)
    with pytest.raises(PixelSizeError, match=r"blob/psize_A.*1.1.*1.7"):
        run(project, tmp_path / "out")


def test_pixel_size_from_mrc_header(project: ExampleProject, tmp_path: Path) -> None:
    rewrite_cs(project, lambda t: rfn.drop_fields(t, ["blob/psize_A"], usemask=False))
    report = run(project, tmp_path / "out")
    assert report.pixel_size.source == "mrc_header"
    assert report.pixel_size.angstrom == pytest.approx(1.7, rel=1e-6)


def test_mixed_microscope_values_are_an_error(
    project: ExampleProject, tmp_path: Path
) -> None:
    def bad(table: np.ndarray) -> np.ndarray:
        table["ctf/cs_mm"][10:] = 2.0
        return table

    rewrite_cs(project, bad)
    with pytest.raises(MetadataError, match=r"ctf/cs_mm.*2, 2.7.*row 10"):
        run(project, tmp_path / "out")


def test_mixed_box_sizes_are_an_error(project: ExampleProject, tmp_path: Path) -> None:
    write_mrc_stack(project.stacks[2], np.ones((16, 40, 40), np.float32), 1.7)
    with pytest.raises(ImageStackError, match="different sizes"):
        run(project, tmp_path / "out")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"uid,blob/path\n1,a.mrc\n", "not a CryoSPARC"),
        (b"<html><body>404</body></html>", "not a CryoSPARC"),
    ],
)
def test_not_a_cs_file(
    project: ExampleProject, tmp_path: Path, content: bytes, match: str
) -> None:
    project.cs_file.write_bytes(content)
    with pytest.raises(InputFileError, match=match):
        run(project, tmp_path / "out")


def test_flat_image_is_an_error_or_a_reported_skip(
    project: ExampleProject, tmp_path: Path
) -> None:
    import mrcfile

    with mrcfile.open(project.stacks[0], mode="r+") as mrc:
        mrc.data[3] = 5.0
    table = np.load(project.cs_file, allow_pickle=False)
    row = int(
        np.flatnonzero(
            (table["blob/path"] == b"J3/extract/stack_a.mrc") & (table["blob/idx"] == 3)
        )[0]
    )
    with pytest.raises(ImageStackError, match=rf"row {row}, .*flat"):
        run(project, tmp_path / "out")
    assert no_stack_files(tmp_path / "out")
    report = run(project, tmp_path / "out2", on_invalid="skip")
    assert report.n_converted == 47
    assert [item["row"] for item in report.skipped] == [row]


def test_existing_output_is_refused_then_overwritten(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(project, out, batch_size=10)
    assert len(list((out / "fft").glob("*.pt"))) == 5
    with pytest.raises(OutputExistsError, match="overwrite"):
        run(project, out)
    run(project, out, batch_size=24, overwrite=True)
    assert sorted(p.name for p in (out / "fft").glob("*.pt")) == [
        "particles_fourier_stack_000000.pt",
        "particles_fourier_stack_000001.pt",
    ]


def test_resume_redoes_only_missing_or_corrupt_stacks(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(project, out, batch_size=10)
    before = {
        p.name: p.read_bytes() for p in out.glob("*/*") if p.suffix in (".pt", ".npz")
    }
    (out / "fft/particles_fourier_stack_000001.pt").unlink()
    (out / "phys/particles_phys_stack_000003.pt").write_bytes(b"garbage")
    untouched = (out / "fft/particles_fourier_stack_000000.npz").stat().st_mtime_ns
    run(project, out, batch_size=10, skip_exist=True)
    after = {
        p.name: p.read_bytes() for p in out.glob("*/*") if p.suffix in (".pt", ".npz")
    }
    assert after == before
    assert (
        out / "fft/particles_fourier_stack_000000.npz"
    ).stat().st_mtime_ns == untouched


def test_resume_with_other_options_is_refused(
    project: ExampleProject, tmp_path: Path
) -> None:
    from cryolike_convert.errors import OutputError

    run(project, tmp_path / "out", batch_size=10)
    with pytest.raises(OutputError, match="1 value") as info:
        run(project, tmp_path / "out", batch_size=12, skip_exist=True)
    assert "\n  batch_size: 10 vs 12\n" in str(info.value)


def test_output_path_is_a_file(project: ExampleProject, tmp_path: Path) -> None:
    from cryolike_convert.errors import OutputError

    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        run(project, tmp_path / "out")


def test_two_workers_write_identical_bytes(
    project: ExampleProject, tmp_path: Path
) -> None:
    run(project, tmp_path / "one", batch_size=10)
    run(project, tmp_path / "two", batch_size=10, workers=2)
    files = sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").glob("*/*.*")
    )
    assert files
    for relative in files:
        assert (tmp_path / "one" / relative).read_bytes() == (
            tmp_path / "two" / relative
        ).read_bytes()


def test_plots_are_written(project: ExampleProject, tmp_path: Path) -> None:
    report = run(project, tmp_path / "out", flag_plots=True, batch_size=48)
    plots = sorted((tmp_path / "out" / "plots").glob("*.png"))
    assert [p.name for p in plots] == [
        "particles_fourier_stack_000000.png",
        "particles_phys_stack_000000.png",
        "power_spectrum_stack_000000.png",
    ]
    for path in plots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        report.stacks[0]["plots"]["power_spectrum"]
        == "plots/power_spectrum_stack_000000.png"
    )


def test_one_thread_and_automatic_threads_write_identical_bytes(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryolike_convert.execution import batch
    from cryolike_convert.options import resolve_workers

    monkeypatch.setattr(batch, "BLOCK", 4)  # many blocks per stack, in flight at once
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2}, raising=False)
    assert resolve_workers(None) == 3  # one thread per available core
    assert resolve_workers(2) == 2
    threads: set[str] = set()

    def watch(_: object) -> None:
        threads.update(t.name for t in threading.enumerate())

    run(project, tmp_path / "one", batch_size=10, workers=1)
    run(project, tmp_path / "auto", batch_size=10, progress=watch)
    assert len({name for name in threads if name.startswith("cryolike-block")}) == 3
    files = sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").glob("*/*.*")
    )
    assert len(files) == 15
    for relative in files:
        assert (tmp_path / "auto" / relative).read_bytes() == (
            tmp_path / "one" / relative
        ).read_bytes()


def test_temporaries_of_killed_writers_are_removed(
    project: ExampleProject, tmp_path: Path
) -> None:
    # A worker killed mid-write (and retried elsewhere) leaves .NAME.PID.tmp behind.
    out = tmp_path / "out"
    stray = out / "fft" / ".particles_fourier_stack_000001.pt.99999.tmp"

    def leave_stray(*_: Any) -> None:
        stray.write_bytes(b"half a stack")

    report = run(project, out, batch_size=10, progress=leave_stray)
    assert report.n_converted == 48
    assert not stray.exists()
