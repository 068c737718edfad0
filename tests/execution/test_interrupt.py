"""Ctrl-C and SIGTERM inside a run (in-process): finished stacks stay, manifest says so."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from cryolike_convert.compat import (
    convert_particle_stacks_from_indexed_cryosparc_file as convert,
)
from cryolike_convert.errors import ConversionInterrupted
from cryolike_convert.execution.interrupt import (
    STOP,
    SignalGuard,
    deferred_interrupts,
    raise_if_stopping,
)
from cryolike_convert.formats.checksum import file_checksum
from cryolike_convert.review.verify import verify_output
from cryolike_convert.testing import make_cryosparc_project


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_keeps_the_finished_stacks(
    number: signal.Signals, tmp_path: Path
) -> None:
    project = make_cryosparc_project(tmp_path / "project", n_particles=40)
    out = tmp_path / "out"
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}

    def progress(status: Any) -> None:
        if status.stack is not None and status.stack.number == 1:
            os.kill(os.getpid(), number)

    with pytest.raises(ConversionInterrupted) as stopped:
        convert(
            project.params,
            project.cs_file,
            folder_output=out,
            batch_size=8,
            flag_plots=False,
            workers=1,
            progress=progress,
        )
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert stopped.value.signal_number == number
    assert stopped.value.exit_code == 128 + number
    assert stopped.value.n_stacks_kept == 2
    assert str(stopped.value) == "interrupted: 2 stacks kept; rerun with --resume"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert [entry["number"] for entry in manifest["stacks"]] == [0, 1]
    for entry in manifest["stacks"]:
        for kind, relative in entry["files"].items():
            assert file_checksum(out / relative) == entry["checksums"][kind]
    assert len(list((out / "fft").glob("*.pt"))) == 2
    assert not list(out.rglob("*.tmp"))
    assert not (out / ".cryolike-convert.lock").exists()
    assert {n: signal.getsignal(n) for n in before} == before  # handlers restored
    assert not STOP.is_set()
    resumed = convert(
        project.params,
        project.cs_file,
        folder_output=out,
        batch_size=8,
        flag_plots=False,
        skip_exist=True,
    )
    assert resumed.n_stacks == 5
    assert verify_output(out).ok


def test_an_ignored_signal_stays_ignored(tmp_path: Path) -> None:
    project = make_cryosparc_project(tmp_path / "project", n_particles=16)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for background jobs
    try:

        def progress(status: Any) -> None:
            os.kill(os.getpid(), signal.SIGINT)

        report = convert(
            project.params,
            project.cs_file,
            folder_output=tmp_path / "out",
            batch_size=8,
            flag_plots=False,
            progress=progress,
        )
        assert report.n_stacks == 2
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_deferred_signal_is_raised_where_the_code_polls() -> None:
    raise_if_stopping()  # no signal: nothing happens
    with SignalGuard() as guard:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)  # handled: only recorded
            assert STOP.wait(5)
            assert guard.received == signal.SIGTERM
        with pytest.raises(ConversionInterrupted) as stopped:
            raise_if_stopping()  # what worker threads call between blocks
        assert stopped.value.signal_number == signal.SIGTERM
    assert not STOP.is_set()
