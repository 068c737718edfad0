"""The README tutorial's code blocks run as written (Python and command line)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryolike_convert.cli.app import app

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(python|bash)\n(.*?)```", re.DOTALL)


def tutorial_blocks() -> list[tuple[str, str]]:
    text = README.read_text()
    start, end = text.index("## Tutorial"), text.index("## How inputs are read")
    return BLOCK.findall(text[start:end])


def test_tutorial_has_python_and_cli_for_every_step() -> None:
    kinds = [kind for kind, _ in tutorial_blocks()]
    assert kinds.count("python") >= 9
    assert kinds.count("bash") >= 9


def test_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    runner = CliRunner()
    for kind, code in tutorial_blocks():
        if kind == "python":
            exec(compile(code, str(README), "exec"), namespace)
            continue
        for line in code.splitlines():
            if not line.startswith("cryolike-convert "):
                continue
            result = runner.invoke(app, shlex.split(line)[1:])
            assert result.exit_code == 0, f"{line}\n{result.output}"
    assert (
        tmp_path / "tutorial/out_pairs_cli/fft/particles_fourier_stack_000003.pt"
    ).is_file()
    assert sorted(p.name for p in (tmp_path / "tutorial/plots").glob("*.png"))


def test_every_guarantee_names_tests_that_exist() -> None:
    text = README.read_text()
    section = text[text.index("## Guarantees") : text.index("## Development")]
    named = re.findall(r"`(test_\w+)(?:\[([^\]]+)\])?`", section)
    assert len(named) >= 20
    sources = "\n".join(
        path.read_text() for path in (README.parent / "tests").rglob("test_*.py")
    )
    for name, case in named:
        assert f"def {name}(" in sources, name
        for part in case.split("-") if case else ():
            assert part in sources, (name, case)
