"""Shared fixtures: golden cases from ../shared/golden and synthetic projects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"


def golden_cases(*modes: str) -> list[str]:
    """Names of the golden cases of the given modes."""
    names = []
    for case in sorted(GOLDEN.iterdir()):
        info = case / "case.json"
        if info.is_file() and json.loads(info.read_text())["mode"] in modes:
            names.append(case.name)
    return names


def load_output(folder: Path) -> dict[str, Any]:
    """Concatenate every stack of an output folder (Fourier, phys, npz keys)."""
    fourier, phys, npz = [], [], []
    for number in range(len(list((folder / "fft").glob("*.pt")))):
        fourier.append(
            torch.load(
                folder / f"fft/particles_fourier_stack_{number:06d}.pt",
                weights_only=True,
            )
        )
        phys.append(
            torch.load(
                folder / f"phys/particles_phys_stack_{number:06d}.pt", weights_only=True
            )
        )
        npz.append(
            np.load(
                folder / f"fft/particles_fourier_stack_{number:06d}.npz",
                allow_pickle=True,
            )
        )
    return {
        "fourier": torch.cat(fourier).numpy(),
        "phys": torch.cat(phys).numpy(),
        "npz": npz,
        "sizes": [len(f) for f in fourier],
    }


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead), from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rfind(")") + 2] not in "ZX"


def max_relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest per-image ‖actual − expected‖₂ / ‖expected‖₂."""
    difference = (actual - expected).reshape(len(expected), -1)
    scale = expected.reshape(len(expected), -1)
    return float(
        (np.linalg.norm(difference, axis=1) / np.linalg.norm(scale, axis=1)).max()
    )


@pytest.fixture
def project(tmp_path: Path) -> Any:
    """A small synthetic CryoSPARC project (48 particles, 32 px, 3 stacks)."""
    from cryolike_convert.testing import make_cryosparc_project

    return make_cryosparc_project(tmp_path / "project")


def _register_hypothesis_profile() -> None:
    from hypothesis import settings

    # Few examples, derandomized (fixed seed), no deadline: conversions touch disk.
    settings.register_profile(
        "cryolike", max_examples=20, deadline=None, derandomize=True
    )
    settings.load_profile("cryolike")


_register_hypothesis_profile()
