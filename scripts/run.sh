#!/usr/bin/env bash
# Installs everything, prepares the embedded default (SQLite + local files in ./instance,
# demo PKI and registry, one API key per authority, a demo officer) and runs the service
# on http://127.0.0.1:8000 with 2 gunicorn workers.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

export MIGDOCS_INSTANCE="${MIGDOCS_INSTANCE:-$PWD/instance}"
# Plain HTTP on localhost: the officer session cookie may not require HTTPS here.
export MIGDOCS_SESSION_COOKIE_SECURE="${MIGDOCS_SESSION_COOKIE_SECURE:-false}"
# The node serves the demo PKI's CRLs, OCSP responder and TSA itself (/demo-pki) and signs
# PAdES B-LTA: timestamp, CRL/OCSP of the chain in the DSS, archive timestamp (issue 14).
export MIGDOCS_DEMO_PKI="${MIGDOCS_DEMO_PKI:-true}"
export MIGDOCS_SIGNATURE_LEVEL="${MIGDOCS_SIGNATURE_LEVEL:-B-LTA}"
MIGDOCS=.venv/bin/migdocs

$MIGDOCS db upgrade
$MIGDOCS demo

keys="$MIGDOCS_INSTANCE/demo-api-keys.env"
if [ ! -s "$keys" ]; then
  : > "$keys.tmp"
  for authority in KZ-MVD KZ-MTSZN BY-MVD BY-GPK; do
    key=$($MIGDOCS apikey create --authority "$authority" --label "demo $authority" | tail -n 1)
    echo "KEY_${authority//-/_}=$key" >> "$keys.tmp"
  done
  chmod 600 "$keys.tmp" && mv "$keys.tmp" "$keys"
fi
MIGDOCS_OFFICER_PASSWORD="demo-password-kz" \
  $MIGDOCS officer add demo-kz --name "Демо Офицер МВД РК" --authority KZ-MVD >/dev/null 2>&1 \
  || true  # already there

echo
echo "API keys (one per authority, header X-API-Key), also in $keys:"
cat "$keys"
echo "Officer login: http://127.0.0.1:8000/login  user demo-kz  password demo-password-kz"
echo "Post every sample:  .venv/bin/python scripts/post_samples.py"
echo
exec $MIGDOCS serve --bind 127.0.0.1:8000 --workers 2
