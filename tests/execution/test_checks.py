"""The grid check with Fourier cropping, and its hints."""

from __future__ import annotations

import pytest

from cryolike_convert.errors import GridMismatchError
from cryolike_convert.execution.checks import check_grid
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.options import OptionError


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
