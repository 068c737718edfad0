#!/usr/bin/env bash
# Create .venv and install cryolike with its test and lint tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
# torch: the CPU build pinned here installs from the local wheel cache in seconds.
# It is also pyproject's floor: the .pt layout is written by hand and tested on
# this version (tests/formats/test_tensorfile.py keeps the two equal).
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dask,cryosparc]" \
    "pytest>=8" "hypothesis>=6.100" "tomli>=2; python_version < '3.11'" \
    "ruff>=0.6" "mypy>=1.10" "hatchling>=1.27"
