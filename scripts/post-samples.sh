#!/usr/bin/env bash
# POSTs every valid sample to a running service with the API key of its sending authority
# (keys from scripts/run.sh) and checks each downloaded PDF with pdfsig.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-http://127.0.0.1:8000}
# shellcheck disable=SC1091
source "${MIGDOCS_INSTANCE:-$PWD/instance}/demo-api-keys.env"
for xml in samples/*.xml; do
  sender=$(sed -n 's:.*<sender>\(.*\)</sender>.*:\1:p' "$xml" | head -n 1)
  var="KEY_${sender//-/_}"
  key=${!var}
  response=$(curl -sS -w '\n%{http_code}' -X POST "$BASE/api/v1/documents" \
    -H "X-API-Key: $key" -H 'Content-Type: application/xml' --data-binary @"$xml")
  status=$(tail -n 1 <<<"$response")
  body=$(sed '$d' <<<"$response")
  pdf_link=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["links"]["pdf"])' <<<"$body")
  curl -sS -H "X-API-Key: $key" "$BASE$pdf_link" -o /tmp/migdocs-sample.pdf
  verdict=$(pdfsig /tmp/migdocs-sample.pdf 2>/dev/null | grep -o 'Signature is Valid' || echo 'SIGNATURE INVALID')
  echo "$status $(basename "$xml") → $(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["registration_number"])' <<<"$body"): $verdict"
done
