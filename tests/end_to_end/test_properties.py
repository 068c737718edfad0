"""Properties: every row is accounted for; plan_batches covers every position once."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import ConversionWarning, ImageStackError
from cryolike_convert.execution.pipeline import plan_batches
from cryolike_convert.image_descriptor import ImageDescriptor
from cryolike_convert.testing import (
    cs_table,
    make_projections,
    write_cs,
    write_mrc_stack,
)

BOX = 16


@given(
    n_positions=st.integers(0, 60),
    batch_size=st.integers(1, 13),
    n_stacks_max=st.sampled_from([-1, 0, 1, 2, 5]),
    n_groups=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_plan_batches_covers_every_position_once(
    n_positions: int, batch_size: int, n_stacks_max: int, n_groups: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    positions = rng.permutation(n_positions).astype(np.int64)
    groups = np.sort(rng.integers(0, n_groups, n_positions)) if n_groups else None
    plans, left_out = plan_batches(positions, batch_size, n_stacks_max, groups)
    planned = [p for plan in plans for p in plan.positions.tolist()]
    assert planned + left_out.tolist() == positions.tolist()
    assert [plan.number for plan in plans] == list(range(len(plans)))
    assert all(0 < len(plan.positions) <= batch_size for plan in plans)
    if n_stacks_max > 0:
        assert len(plans) <= n_stacks_max
    else:
        assert left_out.size == 0
    if groups is not None:
        for plan in plans:
            assert len(set(groups[plan.positions].tolist())) == 1


@st.composite
def projects(draw: st.DrawFn) -> dict[str, object]:
    counts = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    n_rows = draw(st.integers(1, 24))
    files = draw(
        st.lists(st.integers(0, len(counts) - 1), min_size=n_rows, max_size=n_rows)
    )
    indices = [draw(st.integers(0, counts[f] - 1)) for f in files]
    return {
        "counts": counts,
        "files": files,
        "indices": indices,
        "batch_size": draw(st.integers(1, 9)),
        "n_stacks_max": draw(st.sampled_from([-1, 1, 2, 3])),
        "missing": draw(st.none() | st.integers(0, len(counts) - 1)),
    }


def _write_project(root: Path, spec: dict[str, object]) -> tuple[Path, Path]:
    counts: list[int] = spec["counts"]  # type: ignore[assignment]
    images = make_projections(sum(counts), BOX, seed=len(counts))
    start = 0
    for number, count in enumerate(counts):
        write_mrc_stack(root / f"s{number}.mrcs", images[start : start + count], 2.0)
        start += count
    files: list[int] = spec["files"]  # type: ignore[assignment]
    table = cs_table(
        len(files),
        paths=[f"s{f}.mrcs" for f in files],
        indices=np.array(spec["indices"]),
        pixel_size=2.0,
    )
    cs_file = write_cs(root / "particles.cs", table)
    params = ImageDescriptor.from_individual_values(n_pixels=BOX, pixel_size=2.0)
    return cs_file, params.save(root / "params.npz")


@given(spec=projects())
def test_every_row_is_converted_or_reported(spec: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cs_file, params = _write_project(root, spec)
        files: list[int] = spec["files"]  # type: ignore[assignment]
        if spec["missing"] is not None:
            (root / f"s{spec['missing']}.mrcs").unlink()
        out = root / "out"
        if all(f == spec["missing"] for f in files):
            with pytest.raises(ImageStackError, match="no row can be converted"):
                convert(params, cs_file, root, out, on_missing="skip", flag_plots=False)
            assert not out.exists()
            return
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always", ConversionWarning)
            report = convert(
                params,
                cs_file,
                root,
                out,
                batch_size=spec["batch_size"],  # type: ignore[arg-type]
                n_stacks_max=spec["n_stacks_max"],  # type: ignore[arg-type]
                on_missing="skip",
                flag_plots=False,
            )
        manifest = json.loads((out / "manifest.json").read_text())
        indices: list[int] = spec["indices"]  # type: ignore[assignment]
        kept = [
            (f, i) for f, i in zip(files, indices, strict=True) if f != spec["missing"]
        ]
        repeats = len(kept) - len(set(kept))  # the same image asked for again
        recorded = {d["kind"]: d["n_rows"] for d in manifest.get("duplicates", [])}
        assert recorded.get("image", 0) == repeats
        assert len(shown) == bool(repeats) + ("uid" in recorded)
        converted = []
        for entry in manifest["stacks"]:
            with np.load(out / entry["files"]["npz"], allow_pickle=False) as npz:
                converted += npz["source_row"].tolist()
        skipped = [item["row"] for item in manifest["skipped"]]
        assert all(item["reason"] for item in manifest["skipped"])
        unconverted = [
            row for a, b in manifest["unconverted"]["rows"] for row in range(a, b)
        ]
        if unconverted:
            assert "n_stacks_max" in manifest["unconverted"]["reason"]
        assert converted == sorted(converted)  # source order
        assert sorted(converted + skipped + unconverted) == list(range(len(files)))
        assert skipped == [r for r, f in enumerate(files) if f == spec["missing"]]
        totals = manifest["totals"]
        assert totals["n_rows"] == len(files)
        assert (
            totals["n_converted"] + totals["n_skipped"] + totals["n_unconverted"]
            == totals["n_rows"]
        )
        assert totals["n_converted"] == report.n_converted == len(converted)
        assert manifest["status"] == "complete"
