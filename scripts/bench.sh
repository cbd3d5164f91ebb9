#!/usr/bin/env bash
# The benchmark from a clean checkout: installs what it needs (Debian's mosquitto and
# python3-paho-mqtt for the baseline, the npm packages), then runs `npm run bench`.
# Arguments go to bench/run.ts (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_node
missing=()
have mosquitto || missing+=(mosquitto)
/usr/bin/python3 -c 'import paho.mqtt' >/dev/null 2>&1 || missing+=(python3-paho-mqtt)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}" || die "the bench needs ${missing[*]}"; fi
npm_deps
exec node --import tsx bench/run.ts "$@"
