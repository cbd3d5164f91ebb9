#!/usr/bin/env bash
# The other supported Node.js lines (scripts/test.sh runs this after the whole suite on this
# machine's node): the official Linux builds of Node 24 and 26 from the npm registry
# (scripts/node-cache.sh). On each:
#   - the unit tests and the core end-to-end set below, with that node running the tests and
#     every agent they start;
#   - the optional native addon unix-dgram (systemd notify) built against that version's headers,
#     as `npm ci` under that node builds it, and one datagram sent through it.
# Not the whole suite: on a 2-core machine it would add about 9 minutes to the test command.
# The core set goes through what differs between Node versions: the agent end to end, child
# processes (mosquitto), fs.watch and signals (live reload), sockets and the notify fallback,
# HTTP and server-sent events, the CLI and the journald log.
#   W1MQTT_TEST_NODE_MAJORS="24 26" (default) chooses the lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/node-cache.sh

CORE_E2E=(
  test/integration/agent-e2e.test.ts
  test/integration/bundled-broker.test.ts
  test/integration/cli.test.ts
  test/integration/journal-log.test.ts
  test/integration/live-reload.test.ts
  test/integration/mqtt-protocol.test.ts
  test/integration/owserver-agent.test.ts
  test/integration/systemd-notify.test.ts
  test/integration/web-api.test.ts
)

case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *) echo "w1mqtt: no official Node.js build for $(uname -m) on the npm registry: other Node versions not tested here" >&2; exit 0 ;;
esac

# addon_check DIR: unix-dgram built for DIR/bin/node with npm's node-gyp and DIR's headers, then used.
addon_check() {
  local dir="$1" gyp tmp
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  if [ ! -f "$gyp" ] || ! have make || ! have g++ || ! have python3; then
    [ -z "${CI:-}" ] || die "building unix-dgram needs npm's node-gyp, make, g++ and python3"
    echo "w1mqtt: skipped building unix-dgram (needs npm's node-gyp, make, g++ and python3)" >&2
    return 0
  fi
  tmp="$(mktemp -d)"
  mkdir "$tmp/node_modules"
  cp -a node_modules/unix-dgram node_modules/nan node_modules/bindings node_modules/file-uri-to-path "$tmp/node_modules/"
  rm -rf "$tmp/node_modules/unix-dgram/build"
  (cd "$tmp/node_modules/unix-dgram" && PATH="$dir/bin:$PATH" node "$gyp" rebuild --nodedir="$dir" --loglevel=error >/dev/null 2>&1) \
    || { rm -rf "$tmp"; die "unix-dgram does not build for Node $("$dir/bin/node" --version)"; }
  # One datagram from a client socket to a bound one, as sd_notify sends READY=1.
  "$dir/bin/node" -e '
    const unix = require(process.argv[1] + "/node_modules/unix-dgram");
    const path = process.argv[1] + "/notify.sock";
    const timer = setTimeout(() => { console.error("no datagram"); process.exit(1); }, 10000);
    const server = unix.createSocket("unix_dgram", (msg) => {
      if (msg.toString() !== "READY=1") process.exit(1);
      clearTimeout(timer); server.close(); client.close();
    });
    server.bind(path);
    const client = unix.createSocket("unix_dgram");
    client.send(Buffer.from("READY=1"), 0, 7, path, (err) => { if (err) { console.error(err.message); process.exit(1); } });
  ' "$tmp" || { rm -rf "$tmp"; die "unix-dgram built for Node $("$dir/bin/node" --version) does not send"; }
  rm -rf "$tmp"
  echo "w1mqtt: unix-dgram builds for Node $("$dir/bin/node" --version) and sends a datagram" >&2
}

read -r -a majors <<<"${W1MQTT_TEST_NODE_MAJORS:-24 26}"
for major in "${majors[@]}"; do
  dir="$(cached_node "$platform" "$major")"
  version="$("$dir/bin/node" --version)"
  echo "w1mqtt: Node $version ($platform, npm registry): unit tests and the core end-to-end set" >&2
  started=$SECONDS
  PATH="$dir/bin:$PATH" node --import tsx --test --test-concurrency=2 --test-timeout=600000 test/unit/*.test.ts "${CORE_E2E[@]}"
  addon_check "$dir"
  echo "w1mqtt: Node $version passed in $((SECONDS - started)) s" >&2
done
