#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages, npm packages),
# type-checks, then runs every unit and integration test with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_node
missing=()
have mosquitto || missing+=(mosquitto)
have mosquitto_sub || missing+=(mosquitto-clients)
have owserver || missing+=(owserver)
have owdir || missing+=(ow-shell)
[ -x /usr/libexec/owfs/owfs ] || have owfs || missing+=(owfs-fuse)
have systemd-analyze || missing+=(systemd)   # the unit's verify and security checks
have python3 || missing+=(python3)           # the sd_notify receiver socket in tests
have openssl || missing+=(openssl)           # the broker's TLS listener test makes its certificate
have chromium || missing+=(chromium)         # the live page's browser tests (driven by playwright-core)
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}" || { [ -z "${CI:-}" ] || die "CI needs ${missing[*]}"; }
fi
npm_deps
npx tsc --noEmit -p .
npm run --silent build
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 test/unit/*.test.ts test/integration/*.test.ts
