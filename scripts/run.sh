#!/usr/bin/env bash
# Installs everything, prepares the embedded default (SQLite + local files, demo PKI and
# registry, API keys, demo officers) and runs migdocs.  Ctrl-C stops everything.
#
#   bash scripts/run.sh            two nodes, one per Party, exchanging documents:
#                                  KZ on http://127.0.0.1:8000 (instance/kz),
#                                  BY on http://127.0.0.1:8001 (instance/by),
#                                  peered over mTLS on 127.0.0.1:8443 and 127.0.0.1:8444
#   bash scripts/run.sh --single   one node for both Parties on http://127.0.0.1:8000
#                                  (instance/, port KZ_PORT), nothing delivered
#
# Each node has its own instance directory: SQLite database, documents, demo PKI, node
# TLS certificate and receipt seal, API keys.  Ports: KZ_PORT, BY_PORT, KZ_PEER_PORT,
# BY_PEER_PORT; SKIP_INSTALL=1 skips scripts/install.sh; PYTHON_BIN picks the Python.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_INSTALL:-}" ] || bash scripts/install.sh

PY=${PYTHON_BIN:-.venv/bin/python}
BASE="${MIGDOCS_INSTANCE:-$PWD/instance}"
# Plain HTTP on localhost: the officer session cookie may not require HTTPS here.
export MIGDOCS_SESSION_COOKIE_SECURE="${MIGDOCS_SESSION_COOKIE_SECURE:-false}"
# Each node serves its demo PKI's CRLs, OCSP responder and TSA itself (/demo-pki) and signs
# PAdES B-LTA: timestamp, CRL/OCSP of the chain in the DSS, archive timestamp.
export MIGDOCS_DEMO_PKI="${MIGDOCS_DEMO_PKI:-true}"
export MIGDOCS_SIGNATURE_LEVEL="${MIGDOCS_SIGNATURE_LEVEL:-B-LTA}"
migdocs() { "$PY" -m service "$@"; }

api_keys() {  # instance-dir authority...
  local keys="$1/demo-api-keys.env" authority key
  shift
  if [ ! -s "$keys" ]; then
    : > "$keys.tmp"
    for authority in "$@"; do
      key=$(migdocs apikey create --authority "$authority" --label "demo $authority" | tail -n 1)
      echo "KEY_${authority//-/_}=$key" >> "$keys.tmp"
    done
    chmod 600 "$keys.tmp" && mv "$keys.tmp" "$keys"
  fi
}

officer() {  # login name authority password
  MIGDOCS_OFFICER_PASSWORD="$4" migdocs officer add "$1" --name "$2" --authority "$3" \
    >/dev/null 2>&1 || true  # already there
}

if [ "${1:-}" = "--single" ]; then
  export MIGDOCS_INSTANCE="$BASE"
  migdocs db upgrade
  migdocs demo
  api_keys "$BASE" KZ-MVD KZ-MTSZN BY-MVD BY-GPK
  officer demo-kz "Демо Офицер МВД РК" KZ-MVD demo-password-kz
  echo
  echo "API keys (one per authority, header X-API-Key), also in $BASE/demo-api-keys.env:"
  cat "$BASE/demo-api-keys.env"
  port=${KZ_PORT:-8000}
  echo "Officer login: http://127.0.0.1:$port/login  user demo-kz  password demo-password-kz"
  echo "Post every sample:  $PY scripts/post_samples.py --single --base http://127.0.0.1:$port"
  echo
  exec "$PY" -m service serve --bind "127.0.0.1:$port" --workers 2
fi

KZ_PORT=${KZ_PORT:-8000}
BY_PORT=${BY_PORT:-8001}
KZ_PEER_PORT=${KZ_PEER_PORT:-8443}
BY_PEER_PORT=${BY_PEER_PORT:-8444}

node_env() {  # party: this node's settings, as environment variables
  local lower=${1,,} port
  port=$([ "$1" = KZ ] && echo "$KZ_PORT" || echo "$BY_PORT")
  export MIGDOCS_INSTANCE="$BASE/$lower" MIGDOCS_PARTY="$1"
  export MIGDOCS_BASE_URL="http://127.0.0.1:$port"
  export MIGDOCS_NODE_CERT="$BASE/$lower/pki/node-$lower.pem"
  export MIGDOCS_NODE_KEY="$BASE/$lower/pki/node-$lower.key.pem"
  export MIGDOCS_SEAL_PKCS12="$BASE/$lower/pki/node-$lower-seal.p12"
  # Each node trusts its own Party's root and the other Party's root (from the other node).
  # `migdocs demo` makes a whole demo PKI per instance, and its TSA hangs under that
  # instance's "KZ" root: each node must also trust the root of its own TSA and of the
  # peer's TSA (B-LT/B-LTA gather revocation data for the timestamp's chain too).  In
  # production: the two Parties' roots and the roots of both Parties' TSAs.
  export MIGDOCS_TRUST_ROOTS="$BASE/kz/pki/kz-root.pem,$BASE/by/pki/by-root.pem,$BASE/by/pki/kz-root.pem"
}

prepare() {  # party officer-authority authority...
  (
    node_env "$1"
    migdocs db upgrade >/dev/null
    migdocs demo >/dev/null
    migdocs peer identity >/dev/null
    officer "demo-${1,,}" "Демо офицер $2" "$2" "demo-password-${1,,}"
    shift 2
    api_keys "$MIGDOCS_INSTANCE" "$@"
  )
}

peer() {  # party other-party other-peer-port
  (
    node_env "$1"
    local other=${2,,}
    migdocs peer add --party "$2" --url "https://127.0.0.1:$3" \
      --trust-root "$BASE/$other/pki/$other-root.pem" \
      --node-cert "$BASE/$other/pki/node-$other.pem" >/dev/null
  )
}

prepare KZ KZ-MVD KZ-MVD KZ-MTSZN
prepare BY BY-MVD BY-MVD BY-GPK
peer KZ BY "$BY_PEER_PORT"
peer BY KZ "$KZ_PEER_PORT"

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
  wait
}
trap stop INT TERM EXIT
for party in KZ BY; do
  (
    node_env "$party"
    if [ "$party" = KZ ]; then port=$KZ_PORT peer_port=$KZ_PEER_PORT
    else port=$BY_PORT peer_port=$BY_PEER_PORT; fi
    exec "$PY" -m service serve --bind "127.0.0.1:$port" --peer-bind "127.0.0.1:$peer_port" \
      --workers 2
  ) &
  pids+=($!)
done

echo
for party in KZ BY; do
  lower=${party,,}
  port=$([ "$party" = KZ ] && echo "$KZ_PORT" || echo "$BY_PORT")
  peer_port=$([ "$party" = KZ ] && echo "$KZ_PEER_PORT" || echo "$BY_PEER_PORT")
  echo "Node $party: http://127.0.0.1:$port  (peer listener https://127.0.0.1:$peer_port, mTLS)"
  echo "  API keys (header X-API-Key), also in $BASE/$lower/demo-api-keys.env:"
  sed 's/^/    /' "$BASE/$lower/demo-api-keys.env"
  echo "  Officer login: http://127.0.0.1:$port/login  user demo-$lower" \
    " password demo-password-$lower"
done
echo "Post every sample to its sender's node and wait for the receipts:"
echo "  $PY scripts/post_samples.py"
echo
wait
