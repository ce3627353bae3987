#!/usr/bin/env bash
# Installs everything, then renders every valid sample into out/ (the main job so far).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
mkdir -p out
for xml in samples/*.xml; do
  .venv/bin/migdocs render "$xml" -o "out/$(basename "${xml%.xml}").pdf"
done
echo "run: rendered PDFs are in out/"
