#!/usr/bin/env bash
# Set up, generate the bundled example project and convert it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m cryolike_convert.example "${1:-example_output}"
