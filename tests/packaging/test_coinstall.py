"""cryolike-convert installs beside CryoLike (whose package is ``cryolike``).

A stand-in distribution named ``cryolike`` with a ``cryolike/likelihoods`` module and
this project are installed, as wheels, into one fresh virtual environment; both
import, and installing ours leaves CryoLike's files in place.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STAND_IN_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "cryolike"
version = "0.0.1"

[tool.hatch.build.targets.wheel]
packages = ["src/cryolike"]
"""


def _run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _stand_in(folder: Path) -> Path:
    package = folder / "src" / "cryolike"
    package.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(STAND_IN_PYPROJECT)
    (package / "__init__.py").write_text('"""Stand-in for CryoLike."""\n')
    (package / "likelihoods.py").write_text(
        "def likelihood():\n    return 'cryolike'\n"
    )
    return folder


def test_installs_beside_cryolike(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for project in (_stand_in(tmp_path / "cryolike"), ROOT):
        _run(
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--wheel-dir", wheels, project,
        )  # fmt: skip
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    stand_in = next(wheels.glob("cryolike-*.whl"))
    ours = next(wheels.glob("cryolike_convert-*.whl"))
    for wheel in (stand_in, ours):  # CryoLike first, as users have it
        _run(
            sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
            "--no-deps", "--no-index", wheel,
        )  # fmt: skip
    # Our dependencies (numpy, torch, ...) come from the test environment.
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run(python, "-c", where).strip())
    (site / "test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    check = (
        "import cryolike, cryolike.likelihoods, cryolike_convert\n"
        "from cryolike_convert.file_conversions.particle_stacks_wrappers import (\n"
        "    convert_particle_stacks_from_indexed_cryosparc_file)\n"
        "assert cryolike.likelihoods.likelihood() == 'cryolike'\n"
        f"assert cryolike_convert.__file__.startswith({str(site)!r})\n"
        f"assert cryolike.__file__.startswith({str(site)!r})\n"
        "print(cryolike_convert.__version__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = _run(python, "-c", check, env=env).strip()
    ours_here = "import cryolike_convert; print(cryolike_convert.__version__)"
    assert version == _run(sys.executable, "-c", ours_here).strip()
    assert (site / "cryolike" / "likelihoods.py").is_file()
    assert (site / "cryolike_convert" / "file_conversions").is_dir()
    script = venv / "bin" / "cryolike-convert"
    assert _run(script, "--version", env=env).strip() == f"cryolike-convert {version}"
