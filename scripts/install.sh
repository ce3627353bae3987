#!/usr/bin/env bash
# Installs everything migdocs needs on a fresh Debian 12 machine (run as root):
# system packages (pinned fonts, HarfBuzz subsetter, SoftHSM2, poppler, NSS tools,
# Chromium for the browser tests) and a virtual environment in .venv with the project.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3-venv
  libpango-1.0-0 libpangoft2-1.0-0
  libharfbuzz-subset0          # WeasyPrint subsets fonts ~2x faster with it
  fonts-paratype=20181108-3    # PT Serif / PT Sans, pinned: documents must not change
  softhsm2                     # PKCS#11 token for the HSM tests
  poppler-utils                # pdfsig, pdftotext, pdffonts used by tests
  libnss3-tools                # certutil: trust store for pdfsig
  chromium chromium-driver     # headless browser tests of the web pages
)

if ! dpkg -s "${APT_PACKAGES[@]%%=*}" >/dev/null 2>&1 || \
   [ "$(dpkg-query -W -f='${Version}' fonts-paratype 2>/dev/null)" != "20181108-3" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'
echo "install: done ($(.venv/bin/python --version), migdocs $(.venv/bin/migdocs --version | awk '{print $NF}'))"
