"""pyproject.toml: licence, metadata, dependencies named once, install hints that exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the test group installs tomli
    import tomli as tomllib

from cryolike_convert.errors import INSTALL_HINTS

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None, requirement
    return match.group(0).lower()


def test_licence_file_and_spdx_expression() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "WITHOUT WARRANTY OF ANY KIND" in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])


def test_metadata_for_an_index() -> None:
    classifiers = PROJECT["classifiers"]
    assert "Intended Audience :: Science/Research" in classifiers
    assert "Typing :: Typed" in classifiers
    assert PROJECT["urls"]
    minimum = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {minimum}" in classifiers


def test_every_dependency_is_declared_once() -> None:
    names = [_name(r) for r in PROJECT["dependencies"]]
    for requirements in PROJECT["optional-dependencies"].values():
        names += [_name(r) for r in requirements]
    assert len(names) == len(set(names)), names
    assert "matplotlib" in [_name(r) for r in PROJECT["dependencies"]]
    assert "pyyaml" in [_name(r) for r in PROJECT["dependencies"]]


def test_install_hints_name_extras_that_exist() -> None:
    extras = set(PROJECT["optional-dependencies"])
    hinted = set()
    for path in (ROOT / "src").rglob("*.py"):
        hinted |= set(re.findall(r"cryolike-convert\[([a-z,]+)\]", path.read_text()))
    for hint in INSTALL_HINTS.values():
        hinted |= set(re.findall(r"cryolike-convert\[([a-z,]+)\]", hint))
    named = {extra for group in hinted for extra in group.split(",")}
    assert named, "no install hint found"
    assert named <= extras, named - extras
    assert INSTALL_HINTS["matplotlib"] == "pip install matplotlib"
