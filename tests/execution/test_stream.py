"""The block pipeline: identical bytes across threads and processes, plain scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import ImageStackError
from cryolike_convert.execution import batch
from cryolike_convert.testing import ExampleProject

# A script as users write them (CryoLike's tutorial): no main guard, defaults.
PLAIN_SCRIPT = """\
import sys
import threading

from cryolike_convert.file_conversions.particle_stacks_wrappers import (
    convert_particle_stacks_from_indexed_cryosparc_file,
)
from cryolike_convert.options import resolve_workers

seen = set()


def watch(status):
    seen.update(t.name for t in threading.enumerate() if t.name.startswith("cryolike-"))


convert_particle_stacks_from_indexed_cryosparc_file(
    params_input=sys.argv[1],
    file_cs=sys.argv[2],
    folder_output=sys.argv[3],
    batch_size=10,
    flag_plots=False,
    progress=watch,
)
blocks = sorted(name for name in seen if name.startswith("cryolike-block"))
print(len(blocks), resolve_workers(None))
"""
# The same conversion in a fresh process, with small blocks and a given thread count.
CHILD = """\
import sys
from cryolike_convert.execution import batch
from cryolike_convert.compat import convert_particle_stacks_from_indexed_cryosparc_file
batch.BLOCK = 4
convert_particle_stacks_from_indexed_cryosparc_file(
    sys.argv[1], sys.argv[2], folder_output=sys.argv[3], batch_size=10,
    flag_plots=False, workers=int(sys.argv[4]),
)
"""


def _files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.glob("*/*"))
        if p.suffix in (".pt", ".npz")
    }


def _reference(project: ExampleProject, out: Path) -> dict[str, bytes]:
    convert(
        project.params,
        project.cs_file,
        folder_output=out,
        batch_size=10,
        flag_plots=False,
        workers=1,
    )
    files = _files(out)
    assert len(files) == 15
    return files


def _child_environment() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_thread_counts_write_identical_bytes(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "BLOCK", 4)  # 3 blocks per stack, several in flight
    reference = _reference(project, tmp_path / "one")
    for workers in (2, 3):
        out = tmp_path / f"threads{workers}"
        convert(
            project.params,
            project.cs_file,
            folder_output=out,
            batch_size=10,
            flag_plots=False,
            workers=workers,
        )
        assert _files(out) == reference, workers


def test_separate_processes_write_identical_bytes(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "BLOCK", 4)
    reference = _reference(project, tmp_path / "here")
    for workers in ("1", "2"):
        out = tmp_path / f"process{workers}"
        command = [sys.executable, "-c", CHILD, str(project.params)]
        command += [str(project.cs_file), str(out), workers]
        done = subprocess.run(
            command, env=_child_environment(), capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        assert _files(out) == reference, workers


def test_a_script_without_main_guard_converts_on_every_core(
    project: ExampleProject, tmp_path: Path
) -> None:
    reference = _reference(project, tmp_path / "reference")
    script = tmp_path / "convert_my_particles.py"
    script.write_text(PLAIN_SCRIPT)
    out = tmp_path / "script"
    command = [sys.executable, str(script), str(project.params), str(project.cs_file)]
    done = subprocess.run(
        [*command, str(out)],
        env=_child_environment(),
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    threads, cores = (int(n) for n in done.stdout.split())
    assert threads == cores  # one block thread per core, in the script's process
    assert _files(out) == reference


def test_an_error_mid_run_leaves_no_thread_and_no_stack(
    project: ExampleProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mrcfile

    monkeypatch.setattr(batch, "BLOCK", 4)
    with mrcfile.open(project.stacks[1], mode="r+") as mrc:
        mrc.data[5] = 0.0  # a flat image in the middle of the run
    before = set(threading.enumerate())
    out = tmp_path / "out"
    with pytest.raises(ImageStackError, match="flat"):
        convert(
            project.params,
            project.cs_file,
            folder_output=out,
            batch_size=10,
            flag_plots=False,
            workers=2,
        )
    assert set(threading.enumerate()) <= before
    assert not _files(out)
    assert not list(out.glob("**/*.tmp"))
