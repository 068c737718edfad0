"""Hostile inputs: every bad file gives a specific ConversionError and writes nothing."""

from __future__ import annotations

import builtins
import errno
import fcntl
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import numpy.lib.recfunctions as rfn
import pytest

from cryolike_convert import compat
from cryolike_convert.errors import (
    ConversionError,
    ConversionWarning,
    CorruptManifestError,
    GridMismatchError,
    ImageStackError,
    InputFileError,
    InvalidFieldError,
    MetadataError,
    MissingFieldError,
    OutputError,
    OutputExistsError,
    OutputLockedError,
    ParamsFileError,
    PixelSizeError,
)
from cryolike_convert.execution.pipeline import ConversionReport
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.output import lock as lock_module
from cryolike_convert.output.liveness import this_host
from cryolike_convert.output.lock import acquire_output_lock
from cryolike_convert.review.verify import verify_output
from cryolike_convert.testing import (
    ExampleProject,
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_cs,
    write_mrc_stack,
    write_star,
)
from tests.conftest import dead_pid

#: Created (under the test's own tmp_path) only if a Payload is ever unpickled.
MARKER_NAME = "unpickled-marker"


class Payload:
    """Unpickling this creates ``marker``: proof that input was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (self.marker,))


@dataclass
class Case:
    """What a hostile input does to a fresh project, and the error it must give."""

    name: str
    spoil: Callable[[ExampleProject, Path, pytest.MonkeyPatch], dict[str, Any]]
    error: type[ConversionError]
    words: tuple[str, ...]


def _table(project: ExampleProject) -> np.ndarray:
    table: np.ndarray = np.load(project.cs_file, allow_pickle=False)
    return table


def _rewrite(project: ExampleProject, table: np.ndarray) -> dict[str, Any]:
    write_cs(project.cs_file, table)
    return {}


def _set(field: str, values: Any) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, *_: Any) -> dict[str, Any]:
        table = _table(project)
        table[field] = values
        return _rewrite(project, table)

    return spoil


def _drop(field: str) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, *_: Any) -> dict[str, Any]:
        return _rewrite(project, rfn.drop_fields(_table(project), [field]))

    return spoil


def _cs_bytes(data: bytes) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, *_: Any) -> dict[str, Any]:
        project.cs_file.write_bytes(data)
        return {}

    return spoil


def _pixels(value: float, index: int = 3) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, *_: Any) -> dict[str, Any]:
        with mrcfile.open(project.stacks[0], mode="r+") as mrc:
            if np.isnan(value) or np.isinf(value):
                mrc.data[index, 5, 7] = value
            else:
                mrc.data[index] = value
        return {}

    return spoil


def truncated_mrc(project: ExampleProject, *_: Any) -> dict[str, Any]:
    data = project.stacks[1].read_bytes()
    project.stacks[1].write_bytes(data[: len(data) - 1000])
    return {}


def unsupported_mode(project: ExampleProject, *_: Any) -> dict[str, Any]:
    data = bytearray(project.stacks[0].read_bytes())
    data[12:16] = np.int32(3).tobytes()  # complex int16
    project.stacks[0].write_bytes(bytes(data))
    return {}


def non_square(project: ExampleProject, *_: Any) -> dict[str, Any]:
    for path in project.stacks:
        write_mrc_stack(path, np.ones((20, 32, 30), np.float32), 1.7)
    return {}


def mixed_boxes(project: ExampleProject, *_: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 36, 36)).astype(np.float32)
    write_mrc_stack(project.stacks[2], images, 1.7)
    return {}


def zero_rows(project: ExampleProject, *_: Any) -> dict[str, Any]:
    return _rewrite(project, _table(project)[:0])


def negative_index(project: ExampleProject, *_: Any) -> dict[str, Any]:
    table = _table(project)
    signed = table.astype(
        [
            (n, "<i8" if n == "blob/idx" else table.dtype[n])
            for n in table.dtype.names or ()
        ]
    )
    signed["blob/idx"][5] = -3
    return _rewrite(project, signed)


def missing_mrc(project: ExampleProject, *_: Any) -> dict[str, Any]:
    project.stacks[2].unlink()
    return {}


def unreadable_mrc(
    project: ExampleProject, _: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    target = project.stacks[1]
    target.chmod(0)
    if os.access(target, os.R_OK):  # root reads anyway: simulate the denial
        real_open = mrcfile.open

        def deny(name: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(name) == target:
                raise PermissionError(errno.EACCES, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(mrcfile, "open", deny)
    return {}


def symlink_loop_stack(project: ExampleProject, *_: Any) -> dict[str, Any]:
    target = project.stacks[0]
    target.unlink()
    loop = target.with_name("loop.mrc")
    target.symlink_to(loop)
    loop.symlink_to(target)
    return {}


def symlink_loop_cs(project: ExampleProject, *_: Any) -> dict[str, Any]:
    project.cs_file.unlink()
    other = project.cs_file.with_name("other.cs")
    project.cs_file.symlink_to(other)
    other.symlink_to(project.cs_file)
    return {}


def pickled_cs_column(
    project: ExampleProject, tmp_path: Path, *_: Any
) -> dict[str, Any]:
    table = _table(project)
    descr = [(n, table.dtype[n]) for n in table.dtype.names or ()]
    objects = np.empty(len(table), dtype=[*descr, ("extra", object)])
    for name in table.dtype.names or ():
        objects[name] = table[name]
    objects["extra"] = [Payload(tmp_path / MARKER_NAME) for _ in range(len(table))]
    with open(project.cs_file, "wb") as handle:
        np.save(handle, objects, allow_pickle=True)
    return {}


def _params(
    arrays: dict[str, Any] | Callable[[Path], dict[str, Any]],
) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, tmp_path: Path, *_: Any) -> dict[str, Any]:
        good = ImageDescriptor.load(project.params).arrays
        changes = arrays(tmp_path) if callable(arrays) else arrays
        merged = {k: v for k, v in {**good, **changes}.items() if v is not None}
        path = tmp_path / "bad_params.npz"
        np.savez(path, **merged)  # numpy's writer: it pickles object arrays
        return {"params": path}

    return spoil


def params_wrong_grid(
    project: ExampleProject, tmp_path: Path, *_: Any
) -> dict[str, Any]:
    path = tmp_path / "bad_params.npz"
    ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=2.5).save(path)
    return {"params": path}


def params_not_npz(project: ExampleProject, tmp_path: Path, *_: Any) -> dict[str, Any]:
    path = tmp_path / "bad_params.npz"
    path.write_text("<html>not found</html>")
    return {"params": path}


def output_is_file(project: ExampleProject, tmp_path: Path, *_: Any) -> dict[str, Any]:
    (tmp_path / "out").write_text("a file")
    return {}


def output_not_writable(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    if os.access(out, os.W_OK):  # root writes anyway: simulate the denial
        real_open = io.open

        def deny(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if str(path).startswith(str(out)) and set(mode) & set("wax+"):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(path, mode, *args, **kwargs)

        monkeypatch.setattr(io, "open", deny)
        monkeypatch.setattr(builtins, "open", deny)
    return {}


def disk_full(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        calls["n"] += 1
        if calls["n"] >= 6:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return {}


def manual_pixel_size(*_: Any) -> dict[str, Any]:
    return {"pixel_size": 2.0}


CASES = [
    Case("truncated_mrc", truncated_mrc, ImageStackError, ("stack_b.mrc", "truncated")),
    Case(
        "unsupported_mode", unsupported_mode, ImageStackError, ("stack_a.mrc", "mode 3")
    ),
    Case("non_square", non_square, ImageStackError, ("stack_", "32×30", "square")),
    Case("mixed_box", mixed_boxes, ImageStackError, ("stack_c.mrc", "36×36")),
    Case(
        "nan_pixel",
        _pixels(np.nan),
        ImageStackError,
        ("J5_particles_selected.cs", "row ", "NaN"),
    ),
    Case(
        "inf_pixel",
        _pixels(np.inf),
        ImageStackError,
        ("J5_particles_selected.cs", "row ", "Inf"),
    ),
    Case(
        "flat_image",
        _pixels(4.0),
        ImageStackError,
        ("J5_particles_selected.cs", "row ", "flat"),
    ),
    Case(
        "cs_text",
        _cs_bytes(b"uid,path\n1,a.mrc\n"),
        InputFileError,
        ("J5_particles_selected.cs", "not a CryoSPARC"),
    ),
    Case(
        "cs_html",
        _cs_bytes(b"<!DOCTYPE html><html>404</html>"),
        InputFileError,
        ("J5_particles_selected.cs", "HTML"),
    ),
    Case(
        "cs_empty_file",
        _cs_bytes(b""),
        InputFileError,
        ("J5_particles_selected.cs", "is empty"),
    ),
    Case(
        "cs_truncated_npy",
        _cs_bytes(b"\x93NUMPY\x01\x00v\x00{'descr'"),
        InputFileError,
        ("J5_particles_selected.cs",),
    ),
    Case(
        "cs_zero_rows", zero_rows, MetadataError, ("J5_particles_selected.cs", "0 rows")
    ),
    Case(
        "cs_pickled_column",
        pickled_cs_column,
        InputFileError,
        ("J5_particles_selected.cs", "unpickle"),
    ),
    *[
        Case(
            f"cs_missing_{field}",
            _drop(field),
            MissingFieldError,
            ("J5_particles_selected.cs", field),
        )
        for field in (
            "ctf/df1_A",
            "ctf/df2_A",
            "ctf/df_angle_rad",
            "ctf/phase_shift_rad",
            "ctf/cs_mm",
            "ctf/accel_kv",
            "ctf/amp_contrast",
            "blob/path",
            "blob/idx",
        )
    ],
    Case(
        "cs_nan_defocus",
        _set("ctf/df1_A", np.nan),
        InvalidFieldError,
        ("J5_particles_selected.cs", "row 0", "uid", "ctf/df1_A"),
    ),
    Case(
        "negative_idx",
        negative_index,
        InvalidFieldError,
        ("J5_particles_selected.cs", "row 5", "uid", "blob/idx"),
    ),
    Case(
        "idx_out_of_range",
        _set("blob/idx", 99),
        ImageStackError,
        ("J5_particles_selected.cs", "row 0", "blob/idx", "out of range"),
    ),
    Case("missing_mrc", missing_mrc, ImageStackError, ("stack_c.mrc", "not found")),
    Case(
        "unreadable_mrc",
        unreadable_mrc,
        ImageStackError,
        ("stack_b.mrc", "permission denied"),
    ),
    Case(
        "symlink_loop_stack",
        symlink_loop_stack,
        ImageStackError,
        ("stack_a.mrc", "not found"),
    ),
    Case(
        "symlink_loop_cs",
        symlink_loop_cs,
        InputFileError,
        ("J5_particles_selected.cs", "cannot be read"),
    ),
    Case(
        "mixed_cs",
        _set("ctf/cs_mm", np.linspace(2.0, 2.7, 48)),
        MetadataError,
        ("J5_particles_selected.cs", "ctf/cs_mm", "row 1"),
    ),
    Case(
        "mixed_kv",
        _set("ctf/accel_kv", [300.0] * 47 + [200.0]),
        MetadataError,
        ("J5_particles_selected.cs", "ctf/accel_kv", "row 47"),
    ),
    Case(
        "mixed_amplitude_contrast",
        _set("ctf/amp_contrast", [0.1] * 40 + [0.07] * 8),
        MetadataError,
        ("J5_particles_selected.cs", "ctf/amp_contrast", "row 40"),
    ),
    Case(
        "pixel_size_rows_disagree",
        _set("blob/psize_A", [1.7] * 30 + [1.8] * 18),
        PixelSizeError,
        ("J5_particles_selected.cs", "blob/psize_A", "1.8"),
    ),
    Case(
        "pixel_size_manual_conflict",
        manual_pixel_size,
        PixelSizeError,
        ("J5_particles_selected.cs", "blob/psize_A", "2"),
    ),
    Case(
        "params_wrong_grid",
        params_wrong_grid,
        GridMismatchError,
        ("2.5", "n_pixels=32"),
    ),
    Case(
        "params_missing_keys",
        _params({"n_inplanes": None, "dist_radii": None}),
        ParamsFileError,
        ("bad_params.npz", "dist_radii", "n_inplanes"),
    ),
    Case(
        "params_wrong_type",
        _params({"n_pixels": np.array(["a", "b"])}),
        ParamsFileError,
        ("bad_params.npz", "n_pixels"),
    ),
    Case(
        "params_float_inplanes",
        _params({"n_inplanes": np.array(64.5)}),
        ParamsFileError,
        ("bad_params.npz", "n_inplanes"),
    ),
    Case(
        "params_pickle_payload",
        _params(
            lambda tmp: {
                "precision": np.array(Payload(tmp / MARKER_NAME), dtype=object)
            }
        ),
        ParamsFileError,
        ("bad_params.npz", "precision", "never unpickles"),
    ),
    Case("params_not_npz", params_not_npz, InputFileError, ("bad_params.npz",)),
    Case("output_is_file", output_is_file, OutputError, ("out", "not a folder")),
    Case(
        "output_not_writable",
        output_not_writable,
        OutputError,
        ("out", "cannot be written"),
    ),
    Case("disk_full", disk_full, OutputError, ("out", "No space left")),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_cryosparc_project(tmp_path / "project")
    overrides = case.spoil(project, tmp_path, monkeypatch)
    params = overrides.pop("params", project.params)
    out = tmp_path / "out"
    with pytest.raises(case.error) as info:
        compat.convert_particle_stacks_from_indexed_cryosparc_file(
            params,
            project.cs_file,
            folder_output=out,
            batch_size=8,
            flag_plots=True,
            **overrides,
        )
    assert isinstance(info.value, ConversionError)
    for word in case.words:
        assert word in str(info.value), (word, str(info.value))
    assert not (tmp_path / MARKER_NAME).exists()
    if out.is_dir():
        monkeypatch.undo()
        left = [p for p in out.rglob("*") if p.is_file()]
        assert not left, left


# --- joins on uid (job directory) and RELION STAR inputs ---


@dataclass
class OtherCase:
    """A hostile job-directory or STAR input and the error it must give."""

    name: str
    mode: str
    spoil: Callable[[Path], None]
    error: type[ConversionError]
    words: tuple[str, ...]


def _job_tables(job_dir: Path) -> tuple[Path, np.ndarray, Path, np.ndarray]:
    primary = job_dir / "J4_passthrough_particles.cs"
    partner = job_dir / "J4_particles.cs"
    return (
        primary,
        np.load(primary, allow_pickle=False),
        partner,
        np.load(partner, allow_pickle=False),
    )


def duplicate_uid_in_partner(job_dir: Path) -> None:
    _, _, partner, table = _job_tables(job_dir)
    table["uid"][4] = table["uid"][7]
    write_cs(partner, table)


def duplicate_uid_in_primary(job_dir: Path) -> None:
    primary, table, _, _ = _job_tables(job_dir)
    table["uid"][6] = table["uid"][2]
    write_cs(primary, table)


def unmatched_uid(job_dir: Path) -> None:
    primary, table, _, _ = _job_tables(job_dir)
    table["uid"][9] = 12345
    write_cs(primary, table)


def partner_without_uid(job_dir: Path) -> None:
    _, _, partner, table = _job_tables(job_dir)
    write_cs(partner, rfn.drop_fields(table, ["uid"]))


def _star_blocks(star: Path) -> dict[str, dict[str, Any]]:
    import starfile

    blocks = starfile.read(star, always_dict=True)
    return {
        name: {k: list(v) for k, v in frame.items()} for name, frame in blocks.items()
    }


def missing_optics_group(star: Path) -> None:
    blocks = _star_blocks(star)
    blocks["particles"]["rlnOpticsGroup"][3] = 2
    write_star(star, blocks)


def zero_image_number(star: Path) -> None:
    blocks = _star_blocks(star)
    name = blocks["particles"]["rlnImageName"][4]
    blocks["particles"]["rlnImageName"][4] = "000000@" + name.split("@", 1)[1]
    write_star(star, blocks)


def star_without_defocus(star: Path) -> None:
    blocks = _star_blocks(star)
    del blocks["particles"]["rlnDefocusU"]
    write_star(star, blocks)


def star_magnification_zero(star: Path) -> None:
    blocks = _star_blocks(star)
    optics = blocks["optics"]
    del optics["rlnImagePixelSize"]
    optics["rlnDetectorPixelSize"] = [5.0] * len(optics["rlnOpticsGroup"])
    optics["rlnMagnification"] = [0.0] * len(optics["rlnOpticsGroup"])
    write_star(star, blocks)


def star_garbage(star: Path) -> None:
    star.write_bytes(b"\x00\x01\x02 not a star file \xff\xfe")


OTHER_CASES = [
    OtherCase(
        "join_duplicate_uid_partner",
        "job",
        duplicate_uid_in_partner,
        MetadataError,
        ("J4_particles.cs", "uid", "more than once"),
    ),
    OtherCase(
        "join_duplicate_uid_primary",
        "job",
        duplicate_uid_in_primary,
        MetadataError,
        ("J4_passthrough_particles.cs", "row 6", "uid", "more than once"),
    ),
    OtherCase(
        "join_unmatched_rows",
        "job",
        unmatched_uid,
        MetadataError,
        ("J4_passthrough_particles.cs", "row 9", "uid 12345", "no partner"),
    ),
    OtherCase(
        "join_partner_without_uid",
        "job",
        partner_without_uid,
        MissingFieldError,
        ("J4_particles.cs", "uid"),
    ),
    OtherCase(
        "star_missing_optics_group",
        "star",
        missing_optics_group,
        MetadataError,
        ("particles.star", "row 3", "rlnOpticsGroup"),
    ),
    OtherCase(
        "star_zero_image_number",
        "star",
        zero_image_number,
        InvalidFieldError,
        ("particles.star", "row 4", "rlnImageName"),
    ),
    OtherCase(
        "star_missing_defocus",
        "star",
        star_without_defocus,
        MissingFieldError,
        ("particles.star", "rlnDefocusU"),
    ),
    OtherCase(
        "star_garbage", "star", star_garbage, InputFileError, ("particles.star",)
    ),
    OtherCase(
        "star_magnification_zero",  # numpy's divide-by-zero warning must not show
        "star",
        star_magnification_zero,
        InvalidFieldError,
        ("particles.star", "rlnMagnification", "inf"),
    ),
]


@pytest.mark.parametrize("case", OTHER_CASES, ids=[case.name for case in OTHER_CASES])
def test_hostile_join_and_star_input(case: OtherCase, tmp_path: Path) -> None:
    out = tmp_path / "out"
    if case.mode == "job":
        job = make_cryosparc_job(tmp_path, counts=(4, 4, 4), ctf_in_passthrough=False)
        case.spoil(job.job_dir)
        with pytest.raises(case.error) as info:
            compat.convert_particle_stacks_from_cryosparc_job_directory(
                job.params, tmp_path, 4, folder_output=out, flag_plots=False
            )
    else:
        project = make_relion_project(tmp_path / "project")
        case.spoil(project.star_file)
        with pytest.raises(case.error) as info:
            compat.convert_particle_stacks_from_indexed_star_file(
                project.params, project.star_file, folder_output=out, flag_plots=False
            )
    for word in case.words:
        assert word in str(info.value), (word, str(info.value))
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


# --- runs against hostile output folders, changed inputs and odd tables ---
#
# Each case prepares a fresh project (often with a first, good run into OUT), then
# runs once more and checks the outcome: a named error, or a success whose
# warnings carry the words. In every case no raw numpy/mrcfile RuntimeWarning may
# be shown, and a refused or failed run leaves OUT as it found it.


@dataclass
class Ctx:
    """One hostile run: the project, the output folder and the run's options."""

    project: ExampleProject
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    options: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    runner: Callable[..., ConversionReport] | None = None

    @property
    def out(self) -> Path:
        return self.tmp_path / "out"

    @property
    def precious(self) -> Path:
        return self.tmp_path / "precious.txt"

    def convert(self, **changes: Any) -> ConversionReport:
        options = {"batch_size": 8, "flag_plots": False, **self.options, **changes}
        if self.runner is not None:
            return self.runner(**options)
        return compat.convert_particle_stacks_from_indexed_cryosparc_file(
            self.project.params,
            self.project.cs_file,
            folder_output=self.out,
            **options,
        )

    def first_run(self, **changes: Any) -> ConversionReport:
        return self.convert(**changes)

    def manifest(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.out / "manifest.json").read_text())
        return document

    def edit_manifest(self, edit: Callable[[dict[str, Any]], None]) -> None:
        document = self.manifest()
        edit(document)
        (self.out / "manifest.json").write_text(json.dumps(document))


@dataclass
class RunCase:
    """A hostile run: how to prepare it, what it must give, and what to check after."""

    name: str
    prepare: Callable[[Ctx], None]
    error: type[BaseException] | None
    words: tuple[str, ...]
    check: Callable[[Ctx, Any], None] | None = None


def _stack_bytes(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.glob("*/particles_*"))
    }


def _sleeper(ctx: Ctx) -> int:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])

    def stop() -> None:
        process.kill()
        process.wait()

    ctx.cleanups.append(stop)
    return process.pid


# (a) concurrent runs: the lock, and temporaries of other processes


def _hold_lock(mechanism: str) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        ctx.monkeypatch.setenv(lock_module.ENVIRONMENT, mechanism)
        held = acquire_output_lock(ctx.out)
        ctx.cleanups.append(held.release)

    return prepare


def _only_the_lock_file(ctx: Ctx, _: Any) -> None:
    assert [p.name for p in ctx.out.iterdir()] == [lock_module.LOCK_NAME]


def _foreign_holder(host: str, alive: bool) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        ctx.monkeypatch.setenv(lock_module.ENVIRONMENT, "file")
        ctx.out.mkdir()
        pid = _sleeper(ctx) if alive else dead_pid()
        holder = {
            "pid": pid,
            "host": host or this_host(),
            "started": "2031-02-03T04:05:06+0000",
            "mechanism": "file",
            "token": "theirs",
        }
        (ctx.out / lock_module.LOCK_NAME).write_text(json.dumps(holder))

    return prepare


def _took_over(ctx: Ctx, report: ConversionReport) -> None:
    assert "took_over_stale" in report.lock
    assert ctx.manifest()["lock"]["mechanism"] == "file"


def _os_lock_left_by_kill_9(ctx: Ctx) -> None:
    ctx.monkeypatch.setenv(lock_module.ENVIRONMENT, "os")
    ctx.out.mkdir()
    holder = {"pid": dead_pid(), "host": this_host(), "mechanism": "os"}
    (ctx.out / lock_module.LOCK_NAME).write_text(json.dumps(holder))


def _shared_filesystem(ctx: Ctx) -> None:
    ctx.monkeypatch.delenv(lock_module.ENVIRONMENT, raising=False)
    ctx.monkeypatch.setattr(lock_module, "filesystem_type", lambda path: "lustre")


def _lock_is(mechanism: str, reason: str) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, report: ConversionReport) -> None:
        assert report.lock["mechanism"] == mechanism
        assert reason in report.lock["reason"]
        assert ctx.manifest()["lock"] == report.lock
        assert not (ctx.out / lock_module.LOCK_NAME).exists()

    return check


def _flock_unsupported(ctx: Ctx) -> None:
    ctx.monkeypatch.setenv(lock_module.ENVIRONMENT, "os")

    def unsupported(descriptor: int, operation: int) -> None:
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    ctx.monkeypatch.setattr(fcntl, "flock", unsupported)


def _temporary(live: bool, name: str = ".particles_fourier_stack_000001.pt") -> Any:
    def prepare(ctx: Ctx) -> None:
        ctx.first_run()
        pid = _sleeper(ctx) if live else dead_pid()
        path = ctx.out / "fft" / f"{name}.{pid}.tmp"
        path.write_bytes(b"half a stack")
        ctx.options["skip_exist"] = True
        ctx.saved["temporary"] = path

    return prepare


def _temporary_exists(expected: bool) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, _: Any) -> None:
        assert ctx.saved["temporary"].exists() == expected

    return check


def _lookalike_in_root(ctx: Ctx) -> None:
    ctx.out.mkdir()
    (ctx.out / f".bashrc.{dead_pid()}.tmp").write_text("mine")
    (ctx.out / "notes.txt").write_text("mine")


def _lookalikes_kept(ctx: Ctx, _: Any) -> None:
    assert (ctx.out / "notes.txt").read_text() == "mine"
    assert len(list(ctx.out.glob(".bashrc.*.tmp"))) == 1


# (b) confined deletes


def _manifest_points(kind: str, pointer: str, *, overwrite: bool) -> Any:
    def prepare(ctx: Ctx) -> None:
        ctx.options["flag_plots"] = kind == "plots"
        ctx.first_run()
        ctx.precious.write_text("lab notes")
        target = pointer.format(absolute=ctx.precious)

        def edit(document: dict[str, Any]) -> None:
            key = "phys" if kind == "plots" else "npz"
            document["stacks"][0][kind][key] = target

        ctx.edit_manifest(edit)
        ctx.options["overwrite" if overwrite else "skip_exist"] = True

    return prepare


def _precious_kept(ctx: Ctx, report: ConversionReport) -> None:
    assert ctx.precious.read_text() == "lab notes"
    assert report.n_stacks == 6
    assert verify_output(ctx.out).ok


def _linked_stack_file(ctx: Ctx) -> None:
    ctx.first_run()
    ctx.precious.write_text("lab notes")
    stack = ctx.out / "fft" / "particles_fourier_stack_000002.pt"
    stack.unlink()
    stack.symlink_to(ctx.precious)
    ctx.options["overwrite"] = True


def _linked_folder(ctx: Ctx) -> None:
    ctx.first_run()
    elsewhere = ctx.tmp_path / "elsewhere"
    (ctx.out / "phys").rename(elsewhere)
    (ctx.out / "phys").symlink_to(elsewhere)
    ctx.options["overwrite"] = True


def _linked_folder_untouched(ctx: Ctx, _: Any) -> None:
    assert len(list((ctx.tmp_path / "elsewhere").iterdir())) == 6


def _user_files_in_layout_folders(ctx: Ctx) -> None:
    ctx.first_run()
    for path in (ctx.out / "fft" / "notes.txt", ctx.out / "phys" / "README"):
        path.write_text("mine")
    ctx.options["overwrite"] = True


def _user_files_kept(ctx: Ctx, _: Any) -> None:
    assert (ctx.out / "fft" / "notes.txt").read_text() == "mine"
    assert (ctx.out / "phys" / "README").read_text() == "mine"


def _entry_with_other_numbers(ctx: Ctx) -> None:
    reference = ctx.first_run()
    ctx.saved["reference"] = _stack_bytes(ctx.out)
    assert reference.n_stacks == 6

    def edit(document: dict[str, Any]) -> None:  # stack 0 claims stack 1's files
        document["stacks"][0]["files"] = document["stacks"][1]["files"]
        document["stacks"][0]["checksums"] = document["stacks"][1]["checksums"]

    ctx.edit_manifest(edit)
    ctx.options["skip_exist"] = True


def _same_as_reference(ctx: Ctx, _: Any) -> None:
    assert _stack_bytes(ctx.out) == ctx.saved["reference"]
    assert verify_output(ctx.out).ok


# (c) changed inputs


def _change_stack(how: str) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        ctx.first_run()
        stack = ctx.project.stacks[1]
        data = stack.read_bytes()
        info = stack.stat()
        if how == "rewritten":  # same size, other pixels, same mtime
            stack.write_bytes(data[:-4] + bytes(4))
            os.utime(stack, ns=(info.st_atime_ns, info.st_mtime_ns + 1))
        elif how == "grown":
            stack.write_bytes(data + bytes(64))
            os.utime(stack, ns=(info.st_atime_ns, info.st_mtime_ns))
        elif how == "replaced":
            stack.unlink()
            stack.write_bytes(data)
        elif how == "touched":
            os.utime(stack, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
        ctx.options["skip_exist"] = True

    return prepare


def _change_metadata(ctx: Ctx) -> None:
    ctx.first_run()
    table = _table(ctx.project)
    table["ctf/df1_A"][0] += 1.0
    _rewrite(ctx.project, table)
    ctx.options["skip_exist"] = True


def _change_params(ctx: Ctx) -> None:
    ctx.first_run()
    ImageDescriptor.from_individual_values(
        n_pixels=32, pixel_size=1.7, n_inplanes=48
    ).save(ctx.project.params, overwrite=True)
    ctx.options["skip_exist"] = True


# (d) missing stack files


def _remove_stacks(*numbers: int, skip: bool = False) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        for number in numbers:
            ctx.project.stacks[number].unlink()
        if skip:
            ctx.options["on_missing"] = "skip"

    return prepare


def _each_row_names_its_file(ctx: Ctx, report: ConversionReport) -> None:
    table = _table(ctx.project)
    assert len(report.skipped) == 32
    for item in report.skipped:
        own = table["blob/path"][item["row"]].decode()
        assert own in item["reason"], (item, own)
    assert report.n_converted == 16


def _many_missing_files(ctx: Ctx) -> None:
    table = _table(ctx.project)
    wide = table.astype(
        [
            (n, "S64" if n == "blob/path" else table.dtype[n])
            for n in table.dtype.names or ()
        ]
    )
    for row in range(30):
        wide["blob/path"][row] = f"J3/extract/gone_{row:02d}.mrc".encode()
    _rewrite(ctx.project, wide)


def _missing_and_short(ctx: Ctx) -> None:
    ctx.project.stacks[2].unlink()
    table = _table(ctx.project)
    row = int(np.flatnonzero(table["blob/path"] == b"J3/extract/stack_a.mrc")[0])
    table["blob/idx"][row] = 70
    _rewrite(ctx.project, table)


# (e) raw errors: damaged manifests, bad columns, OS errors on user paths


def _damaged_manifest(text: bytes, **options: Any) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        ctx.first_run()
        (ctx.out / "manifest.json").write_bytes(text)
        ctx.options.update(options)

    return prepare


def _nothing_changed_but_the_manifest(ctx: Ctx, _: Any) -> None:
    assert len(list((ctx.out / "fft").glob("*.pt"))) == 6
    assert not list(ctx.out.glob("manifest.json.*"))


def _retype(field_name: str, dtype: Any, convert: Callable[[np.ndarray], Any]) -> Any:
    def prepare(ctx: Ctx) -> None:
        table = _table(ctx.project)
        names = table.dtype.names or ()
        spoiled = np.zeros(
            len(table),
            dtype=[(n, dtype if n == field_name else table.dtype[n]) for n in names],
        )
        for name in names:
            spoiled[name] = convert(table[name]) if name == field_name else table[name]
        _rewrite(ctx.project, spoiled)

    return prepare


def _long_basename(ctx: Ctx) -> None:
    table = _table(ctx.project)
    wide = table.astype(
        [
            (n, "S400" if n == "blob/path" else table.dtype[n])
            for n in table.dtype.names or ()
        ]
    )
    wide["blob/path"][3] = b"J3/extract/" + b"x" * 304 + b".mrc"
    _rewrite(ctx.project, wide)


def _loop(ctx: Ctx, name: str) -> Path:
    first, second = ctx.tmp_path / f"{name}_a", ctx.tmp_path / f"{name}_b"
    first.symlink_to(second)
    second.symlink_to(first)
    return first


def _stack_folder_loop(ctx: Ctx) -> None:
    ctx.options["folder_cryosparc"] = str(_loop(ctx, "stacks"))


def _output_folder_loop(ctx: Ctx) -> None:
    loop = _loop(ctx, "output")
    ctx.runner = lambda **options: (
        compat.convert_particle_stacks_from_indexed_cryosparc_file(
            ctx.project.params,
            ctx.project.cs_file,
            folder_output=loop / "out",
            **options,
        )
    )


def _output_name_too_long(ctx: Ctx) -> None:
    out = ctx.tmp_path / ("y" * 300) / "out"
    ctx.runner = lambda **options: (
        compat.convert_particle_stacks_from_indexed_cryosparc_file(
            ctx.project.params, ctx.project.cs_file, folder_output=out, **options
        )
    )


def _stored_path(value: bytes) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        table = _table(ctx.project)
        table["blob/path"][0] = value
        _rewrite(ctx.project, table)

    return prepare


def _bad_map_id_and_short_stack(ctx: Ctx) -> None:
    data = bytearray(ctx.project.stacks[0].read_bytes())
    data[208:216] = b"XXXX\x00\x00\x00\x00"  # map id and machine stamp: mrcfile warns
    ctx.project.stacks[0].write_bytes(bytes(data))
    _missing_and_short(ctx)


def _on_table(spoil: Callable[..., dict[str, Any]]) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        spoil(ctx.project)

    return prepare


def _complete(ctx: Ctx, report: ConversionReport) -> None:
    assert report.n_stacks == 6
    result = verify_output(ctx.out)
    assert result.ok, [str(p) for p in result.problems]


# (f) duplicated rows


def _duplicate(rows: list[tuple[int, int]], what: str = "row") -> Any:
    def prepare(ctx: Ctx) -> None:
        table = _table(ctx.project)
        for row, earlier in rows:
            if what == "row":
                table[row] = table[earlier]
            elif what == "uid":
                table["uid"][row] = table["uid"][earlier]
            else:  # the image only
                table["blob/path"][row] = table["blob/path"][earlier]
                table["blob/idx"][row] = table["blob/idx"][earlier]
        _rewrite(ctx.project, table)

    return prepare


def _duplicates_recorded(kinds: list[str], n_rows: int) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, report: ConversionReport) -> None:
        manifest = ctx.manifest()
        assert [d["kind"] for d in manifest["duplicates"]] == kinds
        assert all(d["n_rows"] == n_rows for d in manifest["duplicates"])
        assert all(text in manifest["warnings"] for text in report.warnings)
        assert report.n_converted == 48  # converted, not dropped

    return check


def _star_duplicate_row(ctx: Ctx) -> None:
    import starfile

    project = make_relion_project(ctx.tmp_path / "relion")
    blocks = starfile.read(project.star_file, always_dict=True)
    particles = blocks["particles"]
    blocks["particles"] = particles.iloc[[*range(len(particles)), 5]].reset_index(
        drop=True
    )
    starfile.write(blocks, project.star_file, overwrite=True)
    ctx.runner = lambda **options: (
        compat.convert_particle_stacks_from_indexed_star_file(
            project.params, project.star_file, folder_output=ctx.out, **options
        )
    )


# (g) misleading texts


def _remove_output_mid_run(ctx: Ctx) -> None:
    def progress(status: Any) -> None:
        if status.stack is not None and (ctx.out / "phys").exists():
            shutil.rmtree(ctx.out / "phys")

    ctx.options["progress"] = progress


def _manifest_without_stacks(ctx: Ctx) -> None:
    ctx.first_run()
    for path in ctx.out.glob("*/particles_*"):
        path.unlink()


# (h) damaged manifests, rebuilt on resume


def _rebuild(
    text: bytes, spoil: Callable[[Ctx], None] | None = None, **options: Any
) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        ctx.first_run()
        ctx.saved["reference"] = _stack_bytes(ctx.out)
        (ctx.out / "manifest.json").write_bytes(text)
        if spoil is not None:
            spoil(ctx)
        ctx.options.update({"skip_exist": True, **options})

    return prepare


def _swap_npz(ctx: Ctx) -> None:
    fft = ctx.out / "fft"
    first, second = (
        fft / "particles_fourier_stack_000000.npz",
        fft / "particles_fourier_stack_000001.npz",
    )
    data = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(data)


def _rebuilt(adopted: int, same_bytes: bool = True) -> Callable[[Ctx, Any], None]:
    def check(ctx: Ctx, report: ConversionReport) -> None:
        assert any(f"rebuilt from {adopted} stack(s)" in w for w in report.warnings)
        assert (ctx.out / "manifest.json.damaged").is_file()
        assert ctx.manifest()["status"] == "complete"
        if same_bytes:
            assert _stack_bytes(ctx.out) == ctx.saved["reference"]
        result = verify_output(ctx.out)
        assert result.ok, [str(p) for p in result.problems]

    return check


STACK_B = "J3/extract/stack_b.mrc"
RUN_CASES = [
    # (a) concurrent runs
    RunCase(
        "lock_held_flock",
        _hold_lock("os"),
        OutputLockedError,
        ("another run is writing", "pid ", "host ", "started "),
        _only_the_lock_file,
    ),
    RunCase(
        "lock_held_lock_file",
        _hold_lock("file"),
        OutputLockedError,
        ("another run is writing", "pid ", "host "),
        _only_the_lock_file,
    ),
    RunCase(
        "lock_live_local_holder",
        _foreign_holder("", alive=True),
        OutputLockedError,
        ("another run is writing", "2031-02-03T04:05:06"),
    ),
    RunCase(
        "lock_other_host",
        _foreign_holder("gpu-node-7", alive=False),
        OutputLockedError,
        ("on host gpu-node-7", "remove", lock_module.LOCK_NAME),
    ),
    RunCase(
        "lock_stale_dead_pid", _foreign_holder("", alive=False), None, (), _took_over
    ),
    RunCase(
        "lock_left_by_kill_9",
        _os_lock_left_by_kill_9,
        None,
        (),
        _lock_is("os", "LOCK=os"),
    ),
    RunCase("lock_on_lustre", _shared_filesystem, None, (), _lock_is("file", "lustre")),
    RunCase(
        "lock_flock_unsupported",
        _flock_unsupported,
        None,
        (),
        _lock_is("file", "flock failed"),
    ),
    RunCase(
        "temporary_of_live_process_kept",
        _temporary(live=True),
        None,
        (),
        _temporary_exists(True),
    ),
    RunCase(
        "temporary_of_dead_process_removed",
        _temporary(live=False),
        None,
        (),
        _temporary_exists(False),
    ),
    RunCase(
        "temporary_lookalikes_kept", _lookalike_in_root, None, (), _lookalikes_kept
    ),
    # (b) confined deletes
    RunCase(
        "overwrite_manifest_dotdot",
        _manifest_points("files", "../precious.txt", overwrite=True),
        None,
        (),
        _precious_kept,
    ),
    RunCase(
        "overwrite_manifest_absolute",
        _manifest_points("files", "{absolute}", overwrite=True),
        None,
        (),
        _precious_kept,
    ),
    RunCase(
        "overwrite_manifest_nested_dotdot",
        _manifest_points("files", "fft/../../precious.txt", overwrite=True),
        None,
        (),
        _precious_kept,
    ),
    RunCase(
        "overwrite_manifest_plot_outside",
        _manifest_points("plots", "plots/../../precious.txt", overwrite=True),
        None,
        (),
        _precious_kept,
    ),
    RunCase(
        "resume_manifest_dotdot",
        _manifest_points("files", "../precious.txt", overwrite=False),
        None,
        (),
        _precious_kept,
    ),
    RunCase(
        "resume_manifest_device",
        _manifest_points("files", "/dev/zero", overwrite=False),
        None,
        (),
        _complete,
    ),
    RunCase(
        "overwrite_linked_stack_file",
        _linked_stack_file,
        None,
        (),
        lambda ctx, report: _precious_kept(ctx, report),
    ),
    RunCase(
        "overwrite_linked_folder",
        _linked_folder,
        OutputError,
        ("phys", "symbolic link", "never deletes through links"),
        _linked_folder_untouched,
    ),
    RunCase(
        "overwrite_keeps_user_files",
        _user_files_in_layout_folders,
        None,
        (),
        _user_files_kept,
    ),
    RunCase(
        "resume_entry_claims_other_files",
        _entry_with_other_numbers,
        None,
        (),
        _same_as_reference,
    ),
    # (c) changed inputs
    RunCase(
        "resume_stack_rewritten",
        _change_stack("rewritten"),
        OutputError,
        ("stack_b.mrc", "changed since the previous run", "--overwrite"),
    ),
    RunCase(
        "resume_stack_grown",
        _change_stack("grown"),
        OutputError,
        ("stack_b.mrc", "size", "→"),
    ),
    RunCase(
        "resume_stack_replaced",
        _change_stack("replaced"),
        OutputError,
        ("stack_b.mrc", "changed"),
    ),
    RunCase(
        "resume_stack_touched",
        _change_stack("touched"),
        OutputError,
        ("stack_b.mrc", "modification time"),
    ),
    RunCase(
        "resume_metadata_changed",
        _change_metadata,
        OutputError,
        ("manifest.json", "differs from this one"),
    ),
    RunCase(
        "resume_params_changed",
        _change_params,
        OutputError,
        ("manifest.json", "differs from this one"),
    ),
    # (d) missing stack files
    RunCase(
        "two_missing_stacks",
        _remove_stacks(0, 2),
        ImageStackError,
        ("2 problem(s)", "stack_a.mrc", "stack_c.mrc", "16 row(s)"),
    ),
    RunCase(
        "two_missing_stacks_skipped",
        _remove_stacks(0, 2, skip=True),
        None,
        (),
        _each_row_names_its_file,
    ),
    RunCase(
        "thirty_missing_stacks",
        _many_missing_files,
        ImageStackError,
        ("30 problem(s)", "gone_00.mrc", "gone_19.mrc", "and 10 more"),
    ),
    RunCase(
        "missing_and_out_of_range",
        _missing_and_short,
        ImageStackError,
        ("2 problem(s)", "stack_c.mrc", "70 is out of range"),
    ),
    # (e) raw errors
    RunCase(
        "manifest_list",
        _damaged_manifest(b"[]"),
        CorruptManifestError,
        ("manifest.json", "holds a list", "--resume", "--overwrite"),
        _nothing_changed_but_the_manifest,
    ),
    RunCase(
        "manifest_null",
        _damaged_manifest(b"null"),
        CorruptManifestError,
        ("manifest.json", "holds null"),
    ),
    RunCase(
        "manifest_stacks_numbers",
        _damaged_manifest(b'{"format": "cryolike-manifest/1", "stacks": [1, 2]}'),
        CorruptManifestError,
        ("stacks[0] is a number",),
    ),
    RunCase(
        "manifest_stacks_object",
        _damaged_manifest(b'{"format": "cryolike-manifest/1", "stacks": {"a": 1}}'),
        CorruptManifestError,
        ("'stacks' is an object",),
    ),
    RunCase(
        "manifest_truncated",
        _damaged_manifest(b'{"format": "cryolike-manifest/1", "stac'),
        CorruptManifestError,
        ("not JSON",),
    ),
    RunCase(
        "manifest_binary",
        _damaged_manifest(b"\xff\xfe\x00garbage"),
        CorruptManifestError,
        ("not UTF-8",),
    ),
    RunCase(
        "manifest_foreign_format",
        _damaged_manifest(b'{"format": "other-tool/3", "stacks": []}'),
        CorruptManifestError,
        ("format is 'other-tool/3'",),
    ),
    RunCase(
        "cs_defocus_bytes",
        _retype("ctf/df1_A", "S12", lambda v: [str(x).encode() for x in v]),
        InvalidFieldError,
        ("J5_particles_selected.cs", "ctf/df1_A", "byte string"),
    ),
    RunCase(
        "cs_defocus_pairs",
        _retype("ctf/df1_A", ("<f4", (2,)), lambda v: np.stack([v, v], 1)),
        InvalidFieldError,
        ("ctf/df1_A", "(2,) values per row"),
    ),
    RunCase(
        "cs_index_float",
        _retype("blob/idx", "<f8", lambda v: v.astype(float)),
        InvalidFieldError,
        ("blob/idx", "floating point"),
    ),
    RunCase(
        "cs_path_numbers",
        _retype("blob/path", "<i8", lambda v: np.arange(len(v))),
        InvalidFieldError,
        ("blob/path", "integer", "path"),
    ),
    RunCase(
        "cs_uid_text",
        _retype("uid", "S24", lambda v: [str(x).encode() for x in v]),
        InvalidFieldError,
        ("uid", "byte string"),
    ),
    RunCase(
        "cs_pixel_size_complex",
        _retype("blob/psize_A", "<c8", lambda v: v.astype(complex)),
        InvalidFieldError,
        ("blob/psize_A", "complex"),
    ),
    RunCase(
        "cs_voltage_boolean",
        _retype("ctf/accel_kv", "?", lambda v: v > 0),
        InvalidFieldError,
        ("ctf/accel_kv", "boolean"),
    ),
    RunCase(
        "stack_name_too_long",
        _long_basename,
        ImageStackError,
        ("row 3", "File name too long", "xxxx.mrc"),
    ),
    RunCase(
        "stack_folder_symlink_loop",
        _stack_folder_loop,
        InputFileError,
        ("stacks_a", "stack folder", "loop"),
    ),
    RunCase(
        "output_folder_symlink_loop",
        _output_folder_loop,
        OutputError,
        ("output_a", "output folder", "loop"),
    ),
    RunCase(
        "output_folder_name_too_long",
        _output_name_too_long,
        OutputError,
        ("yyyy/out", "File name too long"),
    ),
    RunCase(
        "stored_path_nul",
        _stored_path(b"J3/ext\x00ract/stack_a.mrc"),
        ImageStackError,
        ("ext\\x00ract", "not found"),
    ),
    RunCase(
        "stored_path_unknown_home",
        _stored_path(b"~no_such_user_17/stack_a.mrc"),
        ImageStackError,
        ("~no_such_user_17", "cannot be opened", "home directory"),
    ),
    RunCase(
        "pixel_size_infinite",
        _on_table(_set("blob/psize_A", np.inf)),
        PixelSizeError,
        ("blob/psize_A is inf", "positive, finite"),
    ),
    RunCase(
        "pixel_size_zero",
        _on_table(_set("blob/psize_A", 0.0)),
        PixelSizeError,
        ("blob/psize_A is 0", "48 row(s)"),
    ),
    RunCase(
        "pixel_size_nan_in_one_row",
        _on_table(_set("blob/psize_A", [1.7] * 20 + [np.nan] + [1.7] * 27)),
        PixelSizeError,
        ("row 20", "blob/psize_A is nan"),
    ),
    RunCase(
        "mrcfile_warnings_then_error",
        _bad_map_id_and_short_stack,
        ImageStackError,
        ("stack_c.mrc", "out of range"),
    ),
    # (f) duplicated rows
    RunCase(
        "duplicate_uid",
        _duplicate([(7, 2)], "uid"),
        None,
        ("1 row(s) repeat the uid", "row 7 repeats row 2"),
        _duplicates_recorded(["uid"], 1),
    ),
    RunCase(
        "duplicate_row",
        _duplicate([(9, 4)]),
        None,
        ("repeat the image", "repeat the uid", "row 9 repeats row 4"),
        _duplicates_recorded(["image", "uid"], 1),
    ),
    RunCase(
        "duplicate_image_other_uid",
        _duplicate([(11, 3), (12, 3)], "image"),
        None,
        ("2 row(s) repeat the image", "row 11 repeats row 3", "row 12 repeats row 3"),
        _duplicates_recorded(["image"], 2),
    ),
    RunCase(
        "duplicates_many",
        _duplicate([(r, 0) for r in range(30, 38)]),
        None,
        ("8 row(s) repeat the image", "and 3 more"),
        _duplicates_recorded(["image", "uid"], 8),
    ),
    RunCase(
        "star_duplicate_row",
        _star_duplicate_row,
        None,
        ("particles.star", "repeat the image", "repeats row 5"),
        None,
    ),
    # (g) misleading texts
    RunCase(
        "downsample_far_beyond_the_box",
        lambda ctx: ctx.options.update(downsample_factor=400),
        GridMismatchError,
        ("downsample factor 400 exceeds the image box", "at most 32"),
    ),
    RunCase(
        "downsample_one_beyond_the_box",
        lambda ctx: ctx.options.update(downsample_factor=33),
        GridMismatchError,
        ("factor 33 exceeds",),
    ),
    RunCase(
        "output_removed_mid_run",
        _remove_output_mid_run,
        OutputError,
        ("phys", "removed while this run was writing", "--resume"),
    ),
    RunCase(
        "manifest_of_a_previous_run_only",
        _manifest_without_stacks,
        OutputExistsError,
        ("manifest.json of a previous run", "6 stack(s) recorded"),
    ),
    # (h) damaged manifests: rebuilt from the stacks on a resume
    RunCase(
        "rebuild_from_list_manifest",
        _rebuild(b"[]"),
        None,
        ("was damaged",),
        _rebuilt(6),
    ),
    RunCase(
        "rebuild_from_truncated_manifest",
        _rebuild(b'{"format": "cryo'),
        None,
        ("not JSON",),
        _rebuilt(6),
    ),
    RunCase(
        "rebuild_with_swapped_npz", _rebuild(b"null", _swap_npz), None, (), _rebuilt(4)
    ),
    RunCase(
        "rebuild_with_other_batch_size",
        _rebuild(b"[]", batch_size=4),
        None,
        (),
        _rebuilt(0, same_bytes=False),
    ),
    RunCase(
        "overwrite_damaged_manifest",
        _damaged_manifest(b"[]", overwrite=True),
        None,
        (),
        _complete,
    ),
]


@pytest.mark.parametrize("case", RUN_CASES, ids=[case.name for case in RUN_CASES])
def test_hostile_run(
    case: RunCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_cryosparc_project(tmp_path / "project")
    ctx = Ctx(project, tmp_path, monkeypatch)
    try:
        case.prepare(ctx)
        before = _stack_bytes(ctx.out) if ctx.out.is_dir() else {}
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always")
            if case.error is not None:
                with pytest.raises(case.error) as info:
                    ctx.convert()
                outcome: Any = info.value
                text = str(outcome)
            else:
                outcome = ctx.convert()
                text = "\n".join(outcome.warnings)
        for word in case.words:
            assert word in text, (word, text)
        raw = [w for w in shown if not issubclass(w.category, ConversionWarning)]
        assert not raw, [str(w.message) for w in raw]
        if case.error is not None and ctx.out.is_dir():
            assert _stack_bytes(ctx.out) == before  # a refused run changes nothing
            assert not list(ctx.out.rglob("*.tmp"))
        if case.check is not None:
            case.check(ctx, outcome)
    finally:
        for cleanup in reversed(ctx.cleanups):
            cleanup()
