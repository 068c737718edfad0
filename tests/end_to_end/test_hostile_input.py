"""Hostile inputs: every bad file gives a specific ConversionError and writes nothing."""

from __future__ import annotations

import builtins
import errno
import io
import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import numpy.lib.recfunctions as rfn
import pytest

from cryolike_convert import compat
from cryolike_convert.errors import (
    ConversionError,
    GridMismatchError,
    ImageStackError,
    InputFileError,
    InvalidFieldError,
    MetadataError,
    MissingFieldError,
    OutputError,
    ParamsFileError,
    PixelSizeError,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import (
    ExampleProject,
    make_cryosparc_job,
    make_cryosparc_project,
    make_relion_project,
    write_cs,
    write_mrc_stack,
    write_star,
)

MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "cryolike-hostile-unpickled"


class Payload:
    """Unpickling this creates MARKER: proof that input was unpickled."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (MARKER,))


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


def pickled_cs_column(project: ExampleProject, *_: Any) -> dict[str, Any]:
    table = _table(project)
    descr = [(n, table.dtype[n]) for n in table.dtype.names or ()]
    objects = np.empty(len(table), dtype=[*descr, ("extra", object)])
    for name in table.dtype.names or ():
        objects[name] = table[name]
    objects["extra"] = [Payload() for _ in range(len(table))]
    with open(project.cs_file, "wb") as handle:
        np.save(handle, objects, allow_pickle=True)
    return {}


def _params(arrays: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    def spoil(project: ExampleProject, tmp_path: Path, *_: Any) -> dict[str, Any]:
        good = ImageDescriptor.load(project.params).arrays
        merged = {k: v for k, v in {**good, **arrays}.items() if v is not None}
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
        _params({"precision": np.array(Payload(), dtype=object)}),
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
    MARKER.unlink(missing_ok=True)
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
    assert not MARKER.exists()
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
