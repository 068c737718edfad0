"""Per-batch image operations: the invalid-image check."""

from __future__ import annotations

import numpy as np

from cryolike_convert.transform.preprocess import find_invalid_images


def test_flat_and_non_finite_images_are_found() -> None:
    images = np.ones((3, 4, 4), dtype=np.float32)
    images[1] = np.arange(16).reshape(4, 4)
    images[2, 0, 0] = np.nan
    problems = find_invalid_images(images)
    assert set(problems) == {0, 2}
    assert "flat" in problems[0]
    assert "NaN" in problems[2]
