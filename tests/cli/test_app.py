"""The ``cryolike-convert`` command line, driven through typer's CliRunner."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from cryolike_convert import __version__
from cryolike_convert.cli.app import app
from cryolike_convert.cli.console import ProgressReporter
from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
from cryolike_convert.errors import OutputExistsError
from cryolike_convert.execution.batch import StackRecord
from cryolike_convert.execution.pipeline import ConversionProgress
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import ExampleProject, make_cryosparc_project

N_PARTICLES = 20  # split over 3 MRC stacks of 7, 7 and 6 images

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> ExampleProject:
    return make_cryosparc_project(tmp_path / "project", n_particles=N_PARTICLES)


def convert(project: ExampleProject, out: Path, *extra: str) -> Result:
    arguments = ["cryosparc", str(project.cs_file)]
    arguments += ["--params", str(project.params), "--out", str(out)]
    arguments += ["--batch-size", "8", "--no-plots", *extra]
    return runner.invoke(app, arguments)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cryolike-convert {__version__}"


def test_python_m_cryolike_runs_the_app() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "cryolike_convert", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"cryolike-convert {__version__}"


def test_params_writes_a_loadable_descriptor(tmp_path: Path) -> None:
    target = tmp_path / "params.npz"
    result = runner.invoke(
        app,
        [
            *["params", "--n-pixels", "64", "--pixel-size", "1.06", "-o", str(target)],
            *["--precision", "double", "--n-inplanes", "96"],
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.stdout
    descriptor = ImageDescriptor.load(target)
    assert descriptor.n_pixels == (64, 64)
    assert descriptor.pixel_size_angstrom == (1.06, 1.06)
    assert descriptor.precision == "double"
    assert descriptor.polar_grid.n_inplanes == 96


def test_params_refuses_to_replace_a_file_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "params.npz"
    arguments = ["params", "--n-pixels", "32", "--pixel-size", "2", "-o", str(target)]
    assert runner.invoke(app, arguments).exit_code == 0
    refused = runner.invoke(app, arguments)
    assert refused.exit_code == 1
    assert "already exists" in refused.stderr
    assert "Traceback" not in refused.output
    assert runner.invoke(app, [*arguments, "--overwrite"]).exit_code == 0


def test_convert_cryosparc_writes_stacks_and_a_summary(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = convert(project, out)
    assert result.exit_code == 0, result.output
    assert "converted 20 images into 3 stacks; 0 rows skipped" in result.stdout
    assert str(out) in result.stdout
    # not a terminal: plain progress lines on stderr, at least the final one
    assert "20/20 images, 3/3 stacks (" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["n_converted"] == N_PARTICLES
    assert [entry["n_images"] for entry in manifest["stacks"]] == [8, 8, 4]


def test_convert_quiet_prints_no_progress(
    project: ExampleProject, tmp_path: Path
) -> None:
    result = convert(project, tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    assert "images/s" not in result.stderr
    assert "converted 20 images" in result.stdout


def test_cli_and_python_api_write_identical_stacks(
    project: ExampleProject, tmp_path: Path
) -> None:
    assert convert(project, tmp_path / "cli").exit_code == 0
    report = convert_particle_stacks_from_indexed_cryosparc_file(
        project.params,
        project.cs_file,
        folder_output=tmp_path / "api",
        batch_size=8,
        flag_plots=False,
    )
    cli_manifest = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert [e["checksums"] for e in cli_manifest["stacks"]] == [
        e["checksums"] for e in report.stacks
    ]


def test_conversion_error_exits_1_without_traceback(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    again = convert(project, out)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ")
    assert "--overwrite" in again.stderr
    assert "Traceback" not in again.output
    assert isinstance(again.exception, SystemExit)


def test_debug_shows_the_conversion_error(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    arguments = ["--debug", "cryosparc", str(project.cs_file)]
    arguments += ["--params", str(project.params), "--out", str(out), "--no-plots"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    assert isinstance(result.exception, OutputExistsError)


def test_overwrite_and_resume_rerun(project: ExampleProject, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    first = (out / "manifest.json").read_text()
    overwritten = convert(project, out, "--overwrite")
    assert overwritten.exit_code == 0, overwritten.output
    resumed = convert(project, out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    stacks = [
        json.loads(first)["stacks"],
        json.loads((out / "manifest.json").read_text())["stacks"],
    ]
    assert stacks[0] == stacks[1]


def test_grid_mismatch_is_reported_with_exit_1(
    project: ExampleProject, tmp_path: Path
) -> None:
    wrong = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.7)
    params = wrong.save(tmp_path / "wrong.npz")
    arguments = ["cryosparc", str(project.cs_file), "--params", str(params)]
    result = runner.invoke(app, [*arguments, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "64 px" in result.stderr
    assert "cryolike-convert params" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "fft").exists() or not any(
        (tmp_path / "out" / "fft").iterdir()
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["--batch-size", "0"],
        ["--downsample-type", "median"],
        ["--overwrite", "--resume"],
        ["--no-such-option"],
        ["--workers", "two"],
    ],
)
def test_bad_options_exit_2(
    project: ExampleProject, tmp_path: Path, extra: list[str]
) -> None:
    result = convert(project, tmp_path / "out", *extra)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_missing_input_files_are_usage_errors(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = ["--out", str(tmp_path / "out")]
    no_cs = runner.invoke(
        app,
        ["cryosparc", "nope.cs", "--params", str(project.params), *out],
    )
    assert no_cs.exit_code == 2
    assert "'nope.cs' does not exist" in no_cs.output
    no_params = runner.invoke(
        app,
        ["cryosparc", str(project.cs_file), "--params", "p.npz", *out],
    )
    assert no_params.exit_code == 2
    assert "'p.npz' does not exist" in no_params.output


def test_skip_missing_reports_the_rows(project: ExampleProject, tmp_path: Path) -> None:
    project.stacks[0].unlink()  # stack_a.mrc: 7 particles
    refused = convert(project, tmp_path / "refused")
    assert refused.exit_code == 1
    assert "stack_a.mrc" in refused.stderr
    result = convert(project, tmp_path / "out", "--skip-missing")
    assert result.exit_code == 0, result.output
    assert "converted 13 images into 2 stacks; 7 rows skipped" in result.stdout
    assert "skipped 7 row(s):" in result.stderr


def test_n_stacks_max_reports_unconverted_rows(
    project: ExampleProject, tmp_path: Path
) -> None:
    result = convert(project, tmp_path / "out", "--n-stacks-max", "1")
    assert result.exit_code == 0, result.output
    assert "converted 8 images into 1 stacks" in result.stdout
    assert "12 rows not converted" in result.stdout


def test_inspect_prints_the_summary(project: ExampleProject, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    result = runner.invoke(app, ["inspect", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "stacks:       3" in lines
    assert "images:       20 of 20 rows (0 skipped, 0 not converted)" in lines
    assert "precision:    single (complex64 Fourier stacks)" in lines
    defocus = np.concatenate(
        [np.load(path)["defocusU"] for path in sorted((out / "fft").glob("*.npz"))]
    )
    expected = f"defocus U:    {defocus.min():,.0f} to {defocus.max():,.0f} Å"
    assert expected in lines
    assert "skipped rows: none" in lines


def test_inspect_plots_writes_readable_pngs(
    project: ExampleProject, tmp_path: Path
) -> None:
    import matplotlib.image

    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    result = runner.invoke(app, ["inspect", str(out), "--plots", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "p").glob("*.png"))
    assert len(written) == 4
    for path in written:
        assert f"wrote plot:   {path}" in result.stdout
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3
        assert min(pixels.shape[:2]) > 100
        assert float(np.ptp(pixels)) > 0  # not a blank image


def test_convert_writes_one_overview_set_by_default(
    project: ExampleProject, tmp_path: Path
) -> None:
    from cryolike_convert.review.inspect import OVERVIEW_PLOTS

    out = tmp_path / "out"
    arguments = ["cryosparc", str(project.cs_file), "--params", str(project.params)]
    result = runner.invoke(app, [*arguments, "--out", str(out), "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == sorted(OVERVIEW_PLOTS.values())
    assert f"overview plots in {out / 'plots'}: " in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(entry["plots"] == {} for entry in manifest["stacks"])


def test_plots_per_stack_adds_the_reference_plots_of_every_stack(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = convert(project, out, "--plots-per-stack")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(
        f"{kind}_stack_{number:06d}.png"
        for kind in ("particles_phys", "particles_fourier", "power_spectrum")
        for number in range(3)
    )
    assert "overview plots" not in result.stdout


def test_inspect_of_a_non_output_folder_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert "manifest.json" in result.stderr


def test_verify_passes_on_a_fresh_conversion(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: 3 stacks, 20 images checked against ")
    assert str(project.params) in result.stdout
    explicit = runner.invoke(app, ["verify", str(out), "--params", str(project.params)])
    assert explicit.exit_code == 0


def test_verify_fails_on_a_corrupted_stack(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    victim = out / "fft" / "particles_fourier_stack_000001.pt"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    victim.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert f"{victim}: checksum differs" in result.stdout
    assert "FAILED" in result.stdout


def test_verify_fails_on_a_missing_stack(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    victim = out / "phys" / "particles_phys_stack_000002.pt"
    victim.unlink()
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert f"{victim}: file is missing" in result.stdout


def test_verify_fails_against_another_params_file(
    project: ExampleProject, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert convert(project, out).exit_code == 0
    other = ImageDescriptor.from_individual_values(
        n_pixels=32, pixel_size=1.7, precision="double"
    ).save(tmp_path / "double.npz")
    result = runner.invoke(app, ["verify", str(out), "--params", str(other)])
    assert result.exit_code == 1
    assert "'precision' is not bit-identical" in result.stdout
    assert "expected torch.complex128" in result.stdout


def test_example_generates_and_converts(tmp_path: Path) -> None:
    result = runner.invoke(app, ["example", str(tmp_path / "example")])
    assert result.exit_code == 0, result.output
    assert (
        "converted 60 images of J5_particles_selected.cs into 3 stacks" in result.stdout
    )
    verified = runner.invoke(app, ["verify", str(tmp_path / "example" / "stacks")])
    assert verified.exit_code == 0, verified.output


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(number: int, n_images: int) -> StackRecord:
    return StackRecord(
        number=number,
        n_images=n_images,
        files={},
        checksums={},
        plots={},
        source_rows=[],
        skipped=[],
    )


def _status(
    done: int, total: int, stacks: int = 0, reused: int = 0, stack: int | None = None
) -> ConversionProgress:
    return ConversionProgress(
        images_done=done,
        images_total=total,
        stacks_done=stacks,
        stacks_total=3,
        stacks_reused=reused,
        images_reused=8 * reused,
        stack=None if stack is None else _record(stack, 8),
    )


def test_progress_draws_a_bar_on_a_terminal() -> None:
    stream = _Terminal()
    with ProgressReporter(stream=stream) as reporter:
        reporter(_status(0, 20))
        reporter(_status(8, 20))
        reporter(_status(20, 20, stacks=1, stack=0))
    text = stream.getvalue()
    assert "20/20" in text
    assert "images/s" in text


def test_progress_plain_lines_are_throttled_and_name_reused_stacks() -> None:
    stream = io.StringIO()
    with ProgressReporter(stream=stream) as reporter:
        reporter(_status(8, 24, stacks=1, reused=1))
        reporter(_status(12, 24, stacks=1, reused=1))
        reporter(_status(16, 24, stacks=2, reused=1, stack=1))
        reporter(_status(24, 24, stacks=3, reused=1, stack=2))
    lines = stream.getvalue().splitlines()
    assert lines == [lines[-1]]
    assert lines[-1].startswith("24/24 images, 3/3 stacks (1 stacks reused) (")


def test_quiet_progress_draws_nothing() -> None:
    stream = _Terminal()
    with ProgressReporter(quiet=True, stream=stream) as reporter:
        reporter(_status(8, 8, stacks=1, stack=0))
    assert stream.getvalue() == ""


def test_convert_cryosparc_job_reports_gap(tmp_path: Path) -> None:
    from cryolike_convert.testing import make_cryosparc_job

    job = make_cryosparc_job(
        tmp_path / "p", counts=(3, 3, 3, 3), folders=("downsample",), missing=(2,)
    )
    arguments = ["cryosparc-job", str(job.project), "--job", "4"]
    arguments += ["--params", str(job.params), "--out", str(tmp_path / "out")]
    result = runner.invoke(app, [*arguments, "--no-plots", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "converted 6 images into 2 stacks" in result.stdout
    assert "6 rows without an image" in result.stdout
    assert "batch_000003_downsample.mrc: not read" in result.stderr


def test_convert_star_and_star_pairs(tmp_path: Path) -> None:
    from cryolike_convert.testing import make_relion_project, write_paired_star_inputs

    relion = make_relion_project(tmp_path / "relion")
    arguments = [
        "star",
        str(relion.star_file),
        "--params",
        str(relion.params),
    ]
    result = runner.invoke(
        app, [*arguments, "--out", str(tmp_path / "o1"), "--no-plots"]
    )
    assert result.exit_code == 0, result.output
    assert "converted 12 images into 1 stacks" in result.stdout
    mrcs, stars, params = write_paired_star_inputs(tmp_path / "paired", sizes=(7, 6))
    arguments = ["star-pairs", "--params", str(params)]
    for mrc, star in zip(mrcs, stars, strict=True):
        arguments += ["--mrc", str(mrc), "--star", str(star)]
    arguments += ["--out", str(tmp_path / "o2"), "--batch-size", "5", "--no-plots"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "converted 13 images into 4 stacks" in result.stdout


def test_star_pairs_length_mismatch_is_an_error(tmp_path: Path) -> None:
    from cryolike_convert.testing import write_paired_star_inputs

    mrcs, stars, params = write_paired_star_inputs(tmp_path / "paired", sizes=(7, 6))
    arguments = ["star-pairs", "--params", str(params)]
    arguments += ["--mrc", str(mrcs[0]), "--mrc", str(mrcs[1]), "--star", str(stars[0])]
    result = runner.invoke(
        app, [*arguments, "--out", str(tmp_path / "o"), "--no-plots"]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error:" in result.stderr
