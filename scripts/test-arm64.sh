#!/usr/bin/env bash
# arm64, the build that 64-bit Raspberry Pi OS runs (scripts/test.sh runs this last): `w1mqtt demo`
# from this checkout's dist/ on the official linux-arm64 Node 24 from the npm registry
# (scripts/node-cache.sh), under qemu user-mode emulation (Debian's qemu-user-static) on an x86-64
# machine, natively on an arm64 one. mosquitto_sub must see its readings. That node is linked
# against glibc and libstdc++: emulated, it loads the arm64 ones of Debian's libc6-arm64-cross and
# libstdc++6-arm64-cross (in /usr/aarch64-linux-gnu).
# Only node is emulated. The mosquitto that the demo starts as its bundled broker is this machine's
# own x86-64 binary: qemu-user hands an exec of a native program to the kernel, which runs it
# natively. That is fine here, since what is tested is w1mqtt on arm64 Node (on a Pi, mosquitto is
# Debian's arm64 build of the same package).
#   W1MQTT_ARM64_NODE_MAJOR=24 (default) chooses the line.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/node-cache.sh

case "$(uname -m)" in
  aarch64) emulator=() ;;
  x86_64)
    sysroot=/usr/aarch64-linux-gnu
    qemu="$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)"
    if [ -z "$qemu" ] || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || [ ! -e "$sysroot/lib/libstdc++.so.6" ]; then
      [ -z "${CI:-}" ] || die "the arm64 smoke test needs qemu-user-static, libc6-arm64-cross and libstdc++6-arm64-cross"
      echo "w1mqtt: skipped the arm64 smoke test: sudo apt install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross" >&2
      exit 0
    fi
    emulator=("$qemu" -L "$sysroot") ;;
  *) echo "w1mqtt: skipped the arm64 smoke test on $(uname -m)" >&2; exit 0 ;;
esac
have mosquitto || die "the arm64 smoke test needs mosquitto (the demo's broker)"
[ -f dist/main.js ] || die "build first (npm run build): the demo runs from dist/"

dir="$(cached_node linux-arm64 "${W1MQTT_ARM64_NODE_MAJOR:-24}")"
node_arm64=("${emulator[@]}" "$dir/bin/node")
arch="$("${node_arm64[@]}" -p 'process.arch + " " + process.version')"
case "$arch" in arm64\ *) ;; *) die "expected an arm64 node, got: $arch" ;; esac
echo "w1mqtt: the demo on Node ${arch#* } linux-arm64 (npm registry)${emulator:+ under ${emulator[0]##*/}}; its mosquitto is this machine's" >&2

state="$(mktemp -d)"
port="$(free_port)"
web_port="$(free_port)"
# The service's node flags (bin/w1mqtt.cjs's #! line, the unit's ExecStart).
STATE_DIRECTORY="$state" W1MQTT_LOG_FORMAT=json "${node_arm64[@]}" --max-semi-space-size=1 --v8-pool-size=1 --heap-growing-percent=25 \
  bin/w1mqtt.cjs demo --port "$port" --web-port "$web_port" --interval 2s >"$state/demo.log" 2>&1 &
demo=$!
stop_demo() {
  if kill -0 "$demo" 2>/dev/null; then
    kill -TERM "$demo" 2>/dev/null || true
    wait "$demo" 2>/dev/null || true
  fi
  rm -rf "$state"
}
trap stop_demo EXIT

# Emulated, the start takes a while: ask again until the broker answers and three readings came.
started=$SECONDS
readings=""
while [ $((SECONDS - started)) -lt 240 ]; do
  kill -0 "$demo" 2>/dev/null || { cat "$state/demo.log" >&2; die "the demo on arm64 exited"; }
  if readings="$(mosquitto_sub -h 127.0.0.1 -p "$port" -t 'home/+/temperature' -t 'home/1wire/+/temperature' -v -C 3 -W 30 2>/dev/null)"; then break; fi
  sleep 1
done
[ -n "$readings" ] || { tail -n 40 "$state/demo.log" >&2; die "mosquitto_sub saw no reading from the demo on arm64 within 240 s"; }
while read -r topic value; do
  [[ "$topic" == home/* && "$value" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || die "not a reading: $topic $value"
done <<<"$readings"
echo "w1mqtt: arm64: mosquitto_sub saw readings after $((SECONDS - started)) s:" >&2
echo "$readings" >&2
