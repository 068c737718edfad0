"""Help texts show what to type: metavars, no Python types, install hints intact."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cryolike_convert.cli.app import app

runner = CliRunner()
COMMANDS = [
    [],
    ["convert"],
    ["cryosparc"],
    ["cryosparc-job"],
    ["star"],
    ["star-pairs"],
    ["params"],
    ["inspect"],
    ["verify"],
    ["example"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "app")
def test_help_has_no_python_types(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Usage: cryolike-convert" in text
    for python in ("<bool>", "<list[", "<path>", "<file>", "<int", "<float>", "<str>"):
        assert python not in text, python
    assert not re.search(r"\{[a-z_]+\}", text), text  # no {particles}


def test_help_keeps_brackets_of_install_hints() -> None:
    output = runner.invoke(app, ["convert", "--help"]).output
    text = " ".join(output.split())  # help is wrapped (also after a hyphen)
    assert "pipinstall'cryolike-convert[dask]'" in "".join(output.split())
    assert "--folder, --datadir DIR" in text
    assert "Usage: cryolike-convert convert [OPTIONS] PATH..." in text
    root = " ".join(runner.invoke(app, ["--help"]).output.split())
    assert "'cryolike-convert PATH ...' converts any input" in root
