#!/usr/bin/env bash
# Installs everything, then runs the linters, the type checker and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check service signing tests bench
.venv/bin/mypy
.venv/bin/pytest "$@"
