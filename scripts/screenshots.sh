#!/usr/bin/env bash
# Regenerates docs/screenshots: every page of the browser walk (officer and anonymous) at
# 1280 px and 375 px, as full-page PNGs taken by headless Chromium during the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/screenshots
rm -rf "$out" && mkdir -p "$out"
PAGE_SCREENSHOTS="$PWD/$out" PYTHONPATH="$PWD" "${PYTHON:-.venv/bin/python}" -m pytest -q \
  tests/web/test_browser_workplace.py -k "officer or anonymous" -p no:cacheprovider
ls "$out"
