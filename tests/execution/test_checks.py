"""Up-front checks: pixel-size priority, grid fit (also after Fourier cropping, with
hints), lens scalars, image shapes, stacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryolike_convert.errors import (
    ConversionError,
    GridMismatchError,
    ImageStackError,
    MetadataError,
    PixelSizeError,
)
from cryolike_convert.execution.checks import (
    check_grid,
    check_image_shape,
    check_lens_scalars,
    check_stacks,
    determine_pixel_size,
)
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.metadata import ParticleMetadata
from cryolike_convert.options import OptionError
from cryolike_convert.readers.mrc import StackInfo
from cryolike_convert.readers.paths import ResolvedStack, resolve_stack_paths
from cryolike_convert.testing import make_projections, write_mrc_stack

SOURCE = Path("/data/J5/particles.cs")
LABELS = {
    "pixel_size_angstrom": "blob/psize_A",
    "voltage_kv": "ctf/accel_kv",
    "spherical_aberration_mm": "ctf/cs_mm",
    "amplitude_contrast_fraction": "ctf/amp_contrast",
    "stack_index": "blob/idx",
}


def metadata(
    n_rows: int = 6,
    pixel_size: list[float] | None = None,
    stored: list[bytes] | None = None,
    stack_index: list[int] | None = None,
) -> ParticleMetadata:
    rng = np.random.default_rng(n_rows)
    index = np.array(stack_index if stack_index else range(n_rows), dtype=np.int64)
    return ParticleMetadata(
        source_path=SOURCE,
        source_row=np.arange(n_rows, dtype=np.int64),
        stored_path=np.array(stored if stored else [b"a.mrc"] * n_rows),
        stored_index=index.astype(np.uint32),
        stack_index=index,
        defocus_u_angstrom=rng.uniform(9000, 11000, n_rows).astype(np.float32),
        defocus_v_angstrom=rng.uniform(9000, 11000, n_rows).astype(np.float32),
        defocus_angle_rad=np.zeros(n_rows, dtype=np.float32),
        phase_shift_rad=np.zeros(n_rows, dtype=np.float32),
        voltage_kv=np.full(n_rows, 300.0, dtype=np.float32),
        spherical_aberration_mm=np.full(n_rows, 2.7, dtype=np.float32),
        amplitude_contrast_fraction=np.full(n_rows, 0.1, dtype=np.float32),
        pixel_size_angstrom=None
        if pixel_size is None
        else np.array(pixel_size, dtype=np.float32),
        uid=np.arange(1000, 1000 + n_rows, dtype=np.uint64),
        field_labels=LABELS,
    )


def headers(
    *voxel_sizes: float, shape: tuple[int, int] = (32, 32)
) -> dict[str, StackInfo]:
    return {
        f"/data/stack_{i}.mrc": StackInfo(
            Path(f"/data/stack_{i}.mrc"), 10, shape, v, False
        )
        for i, v in enumerate(voxel_sizes)
    }


# --- pixel size: manual > metadata > header ------------------------------------


def test_manual_pixel_size_wins_over_agreeing_metadata_and_any_header() -> None:
    rows = metadata(pixel_size=[1.7] * 6)
    found = determine_pixel_size(rows, headers(5.0, 6.0), manual=1.7)
    assert (found.angstrom, found.source) == (1.7, "manual")
    assert found.from_metadata == pytest.approx(1.7, rel=1e-6)


def test_manual_pixel_size_without_metadata_ignores_the_headers() -> None:
    found = determine_pixel_size(metadata(), headers(5.0, 6.0), manual=2.25)
    assert (found.angstrom, found.source, found.from_metadata) == (2.25, "manual", None)


def test_manual_pixel_size_disagreeing_with_metadata_is_an_error() -> None:
    rows = metadata(pixel_size=[1.7] * 6)
    with pytest.raises(PixelSizeError) as caught:
        determine_pixel_size(rows, headers(1.7), manual=1.8)
    text = str(caught.value)
    assert str(SOURCE) in text
    assert "blob/psize_A" in text
    assert "1.8" in text
    assert "1.7" in text


def test_manual_pixel_size_within_tolerance_of_metadata_is_accepted() -> None:
    rows = metadata(pixel_size=[1.7] * 6)
    found = determine_pixel_size(rows, {}, manual=1.7 * (1 + 5e-5))
    assert found.source == "manual"
    assert found.angstrom == 1.7 * (1 + 5e-5)


def test_metadata_pixel_size_wins_over_the_headers() -> None:
    rows = metadata(pixel_size=[1.346] * 6)
    found = determine_pixel_size(rows, headers(2.0, 3.0), manual=None)
    assert found.source == "metadata"
    assert found.angstrom == float(np.float32(1.346))
    assert found.from_metadata == float(np.float32(1.346))


def test_metadata_rows_that_agree_to_the_tolerance_are_one_pixel_size() -> None:
    sizes = [1.7, 1.7 * (1 + 4e-5), 1.7 * (1 - 4e-5), 1.7, 1.7, 1.7]
    found = determine_pixel_size(metadata(pixel_size=sizes), {}, manual=None)
    assert found.angstrom == pytest.approx(1.7, rel=1e-4)


def test_metadata_rows_that_disagree_are_an_error_listing_the_values() -> None:
    rows = metadata(pixel_size=[1.7, 1.7, 1.7, 2.1, 1.7, 1.7])
    with pytest.raises(PixelSizeError) as caught:
        determine_pixel_size(rows, headers(1.7), manual=1.7)
    text = str(caught.value)
    assert str(SOURCE) in text
    assert "blob/psize_A" in text
    assert "1.7" in text
    assert "2.1" in text


def test_header_pixel_size_is_the_last_resort() -> None:
    found = determine_pixel_size(metadata(), headers(1.25, 1.25, 0.0), manual=None)
    assert (found.angstrom, found.source, found.from_metadata) == (
        1.25,
        "mrc_header",
        None,
    )


def test_headers_that_disagree_are_an_error() -> None:
    with pytest.raises(PixelSizeError) as caught:
        determine_pixel_size(metadata(), headers(1.25, 1.5), manual=None)
    assert str(SOURCE) in str(caught.value)
    assert "pixel_size" in str(caught.value)


def test_no_pixel_size_anywhere_is_an_error() -> None:
    with pytest.raises(PixelSizeError) as caught:
        determine_pixel_size(metadata(), headers(0.0, 0.0), manual=None)
    assert "pixel_size" in str(caught.value)


# --- grid --------------------------------------------------------------------


def test_grid_that_fits_is_accepted() -> None:
    descriptor = ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=1.7)
    check_grid(descriptor, (32, 32), 1.7, 1)
    check_grid(descriptor, (32, 32), 1.7 * (1 + 9e-4), 1)  # within 1e-3
    check_grid(descriptor, (64, 64), 0.85, 2)  # downsampled ×2
    check_grid(descriptor, (98, 98), 1.7 / 3, 3)  # 98 // 3 = 32; the rest is dropped


@pytest.mark.parametrize(
    ("shape", "pixel_size", "factor"),
    [
        ((40, 40), 1.7, 1),  # box differs
        ((32, 32), 1.8, 1),  # pixel size differs
        ((32, 32), 1.7 * (1 + 2e-3), 1),  # just outside 1e-3
        ((64, 64), 1.7, 2),  # downsampled box fits, pixel size does not
        ((64, 64), 0.85, 1),  # not downsampled
    ],
)
def test_grid_that_does_not_fit_names_a_params_file_that_would(
    shape: tuple[int, int], pixel_size: float, factor: int
) -> None:
    descriptor = ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=1.7)
    with pytest.raises(GridMismatchError) as caught:
        check_grid(descriptor, shape, pixel_size, factor)
    n_fit, size_fit = shape[0] // factor, pixel_size * factor
    text = str(caught.value)
    assert f"n_pixels={n_fit}" in text
    assert f"pixel_size={size_fit:g}" in text
    assert f"--n-pixels {n_fit}" in caught.value.for_cli()  # the CLI spelling
    # The suggested params file does fit.
    suggested = ImageDescriptor.from_individual_values(
        n_pixels=n_fit, pixel_size=float(f"{size_fit:g}")
    )
    check_grid(suggested, shape, pixel_size, factor)


# --- lens scalars ------------------------------------------------------------


def test_lens_scalars_that_agree_pass() -> None:
    check_lens_scalars(metadata(9))


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("voltage_kv", "ctf/accel_kv"),
        ("spherical_aberration_mm", "ctf/cs_mm"),
        ("amplitude_contrast_fraction", "ctf/amp_contrast"),
    ],
)
def test_a_lens_scalar_that_changes_names_field_and_first_row(
    column: str, label: str
) -> None:
    rows = metadata(9)
    values = getattr(rows, column)
    values[5:] = values[0] * np.float32(1.5)
    values[7] = values[0]
    with pytest.raises(MetadataError) as caught:
        check_lens_scalars(rows)
    error = caught.value
    assert (error.field, error.row, error.path) == (column, 5, SOURCE)
    assert label in str(error)
    assert "uid 1005" in str(error)


# --- image shapes ------------------------------------------------------------


def test_one_square_shape_is_returned() -> None:
    assert check_image_shape(headers(1.0, 1.0, shape=(48, 48))) == (48, 48)


def test_mixed_shapes_are_an_error_naming_files() -> None:
    infos = headers(1.0, shape=(32, 32)) | {
        "/data/big.mrc": StackInfo(Path("/data/big.mrc"), 3, (64, 64), 1.0, False)
    }
    with pytest.raises(ImageStackError) as caught:
        check_image_shape(infos)
    assert "/data/stack_0.mrc" in str(caught.value)
    assert "/data/big.mrc" in str(caught.value)


def test_non_square_images_are_an_error() -> None:
    with pytest.raises(ImageStackError) as caught:
        check_image_shape(headers(1.0, shape=(32, 48)))
    assert "/data/stack_0.mrc" in str(caught.value)


# --- stacks (error types and key words only) ---------------------------------


def resolved(
    tmp_path: Path, stored: list[bytes], index: list[int]
) -> tuple[ParticleMetadata, list[ResolvedStack]]:
    rows = metadata(len(stored), stored=stored, stack_index=index)
    return resolve_stack_paths(rows, None, [("project_dir", tmp_path)])


def test_stacks_that_exist_give_their_headers(tmp_path: Path) -> None:
    write_mrc_stack(tmp_path / "a.mrc", make_projections(4, 16), 1.5)
    rows, report = resolved(tmp_path, [b"a.mrc"] * 3, [3, 0, 2])
    infos, skipped = check_stacks(rows, report, skip=False)
    assert skipped == []
    (info,) = infos.values()
    assert (info.n_images, info.shape) == (4, (16, 16))
    assert info.voxel_size_angstrom == pytest.approx(1.5)


def test_missing_stack_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write_mrc_stack(tmp_path / "a.mrc", make_projections(4, 16), 1.5)
    rows, report = resolved(tmp_path, [b"a.mrc", b"gone.mrc", b"a.mrc"], [0, 1, 2])
    with pytest.raises(ImageStackError) as caught:
        check_stacks(rows, report, skip=False)
    assert "gone.mrc" in str(caught.value)
    assert str(SOURCE) in str(caught.value)


def test_skip_returns_the_rows_of_a_missing_stack(tmp_path: Path) -> None:
    write_mrc_stack(tmp_path / "a.mrc", make_projections(4, 16), 1.5)
    stored = [b"gone.mrc", b"a.mrc", b"gone.mrc", b"a.mrc", b"other.mrc"]
    rows, report = resolved(tmp_path, stored, [0, 1, 2, 3, 0])
    infos, skipped = check_stacks(rows, report, skip=True)
    assert [item.position for item in skipped] == [0, 2, 4]
    assert "gone.mrc" in skipped[0].reason
    assert list(infos) == [str(tmp_path / "a.mrc")]


def test_index_beyond_the_stack_is_an_error_or_a_skipped_row(tmp_path: Path) -> None:
    write_mrc_stack(tmp_path / "a.mrc", make_projections(4, 16), 1.5)
    rows, report = resolved(tmp_path, [b"a.mrc"] * 4, [0, 4, 3, 9])
    with pytest.raises(ImageStackError) as caught:
        check_stacks(rows, report, skip=False)
    assert "blob/idx" in str(caught.value)
    _, skipped = check_stacks(rows, report, skip=True)
    assert [item.position for item in skipped] == [1, 3]


def test_unreadable_stack_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "junk.mrc").write_bytes(b"not an MRC file at all")
    rows, report = resolved(tmp_path, [b"junk.mrc"], [0])
    with pytest.raises(ImageStackError) as caught:
        check_stacks(rows, report, skip=False)
    assert "junk.mrc" in str(caught.value)


def test_unresolved_metadata_is_refused() -> None:
    with pytest.raises(ConversionError):
        check_stacks(metadata(), None, skip=True)


def test_grid_check_accepts_the_cropped_pixel_size() -> None:
    # 320 px at 1.31 Å cropped to 128 px: 1.31 · 320 / 128 = 3.275 Å
    fits = ImageDescriptor.from_individual_values(n_pixels=128, pixel_size=3.275)
    check_grid(fits, (320, 320), 1.31, 1, box=128)
    pooled = ImageDescriptor.from_individual_values(n_pixels=160, pixel_size=2.62)
    check_grid(pooled, (320, 320), 1.31, 2)
    with pytest.raises(GridMismatchError, match=r"Fourier-cropped to 128 px at 3\.275"):
        check_grid(pooled, (320, 320), 1.31, 1, box=128)


def test_grid_mismatch_names_a_params_file_in_both_spellings() -> None:
    wrong = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.0)
    with pytest.raises(GridMismatchError) as info:
        check_grid(wrong, (128, 128), 1.0, 1, box=100)
    assert "from_individual_values(n_pixels=100, pixel_size=1.28)" in str(info.value)
    cli = info.value.for_cli()
    assert "cryolike-convert params --n-pixels 100 --pixel-size 1.28" in cli
    assert "from_individual_values" not in cli


def test_a_factor_like_a_box_gets_a_hint() -> None:
    wrong = ImageDescriptor.from_individual_values(n_pixels=32, pixel_size=1.0)
    with pytest.raises(GridMismatchError) as info:
        check_grid(wrong, (320, 320), 1.0, 32)
    assert "use downsample_box=32" in str(info.value)
    assert "use --box 32" in info.value.for_cli()
    with pytest.raises(GridMismatchError) as small:
        check_grid(wrong, (320, 320), 1.0, 2)
    assert "downsample_box" not in str(small.value)


def test_a_box_larger_than_the_images_is_refused() -> None:
    grid = ImageDescriptor.from_individual_values(n_pixels=64, pixel_size=1.0)
    with pytest.raises(OptionError, match="larger than the images") as info:
        check_grid(grid, (64, 64), 1.0, 1, box=96)
    assert "--box 96" in info.value.for_cli()
