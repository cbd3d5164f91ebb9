#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Debian packages, npm packages),
# type-checks, then runs every unit and integration test with node's test runner; then the other
# Node.js lines (scripts/test-node-versions.sh) and arm64 (scripts/test-arm64.sh).
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
/usr/bin/python3 -c 'import paho.mqtt' 2>/dev/null || missing+=(python3-paho-mqtt)  # Home Assistant's side of the MQTT 5 test
have openssl || missing+=(openssl)           # the broker's TLS listener test makes its certificate
have chromium || missing+=(chromium)         # the live page's browser tests (driven by playwright-core)
have debootstrap || missing+=(debootstrap)   # test/system: a Debian root for a container with systemd as PID 1 ...
have systemd-nspawn || missing+=(systemd-container)  # ... booted by systemd-nspawn
if [ "$(uname -m)" = x86_64 ]; then            # scripts/test-arm64.sh: arm64 node under qemu, with its libc
  have qemu-aarch64-static || have qemu-aarch64 || missing+=(qemu-user-static)
  [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
  [ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || missing+=(libstdc++6-arm64-cross)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}" || { [ -z "${CI:-}" ] || die "CI needs ${missing[*]}"; }
fi
npm_deps
# A few tests run the agent as nobody (uid 65534), the way the service runs without root's
# rights: it must be able to read this checkout. A clone made in `mktemp -d` is 0700.
if [ "$(id -u)" = 0 ] && ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$PWD/package.json" 2>/dev/null; then
  echo "w1mqtt: letting other users read $PWD, for the tests that run the agent as nobody" >&2
  chmod o+rx "$PWD"
fi
npx tsc --noEmit -p .
npm run --silent build
# test/system first: it spends most of its ~2 minutes waiting on systemd's timers, beside the others.
node --import tsx --test --test-concurrency=2 --test-timeout=600000 test/system/*.test.ts test/unit/*.test.ts test/integration/*.test.ts
# The other supported Node.js lines (24, 26: unit tests and a core end-to-end set) and arm64 (the
# demo under qemu), with the official builds from the npm registry: README "Node.js on a Pi".
./scripts/test-node-versions.sh
exec ./scripts/test-arm64.sh
