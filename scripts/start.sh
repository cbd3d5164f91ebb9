#!/usr/bin/env bash
# Run w1mqtt from this checkout. With a sensors.yaml or real 1-Wire hardware it runs
# the agent; on a machine without either it runs the demo (simulated bus, bundled broker).
# Arguments are passed to `w1mqtt` (e.g. `scripts/start.sh scan`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_node
have mosquitto_sub || apt_install mosquitto-clients || echo "w1mqtt: (mosquitto_sub is only needed to watch the readings)" >&2
npm_deps
npm run --silent build
if [ "$#" -gt 0 ]; then exec bin/w1mqtt.cjs "$@"; fi
if [ -n "${W1MQTT_CONFIG:-}" ] || [ -f /etc/w1mqtt/sensors.yaml ] || [ -f sensors.yaml ] \
  || ls /sys/bus/w1/devices/w1_bus_master* >/dev/null 2>&1 || [ -d /mnt/1wire/settings ] || [ -d /run/owfs/settings ]; then
  exec bin/w1mqtt.cjs run
fi
echo "w1mqtt: no 1-Wire bus and no sensors.yaml here: starting the demo. Watch it with: mosquitto_sub -t 'home/#' -v" >&2
exec bin/w1mqtt.cjs demo
