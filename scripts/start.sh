#!/usr/bin/env bash
# Run w1mqtt from this checkout. With a sensors.yaml or real 1-Wire hardware it runs
# the agent; on a machine without either it runs the demo (simulated bus, bundled broker).
# Arguments are passed to `w1mqtt` (e.g. `scripts/start.sh scan`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_node
# The bundled broker (the demo's, and the agent's without mqtt.url) is a mosquitto that w1mqtt runs
# itself; a stock mosquitto.service that installing it started is disabled, one that ran before is kept.
mosquitto_setup
npm_deps
npm run --silent build
if [ "$#" -gt 0 ] && [ "$1" != demo ]; then exec bin/w1mqtt.cjs "$@"; fi
if [ "$#" = 0 ]; then
  if [ -n "${W1MQTT_CONFIG:-}" ] || [ -f /etc/w1mqtt/sensors.yaml ] || [ -f sensors.yaml ] \
    || ls /sys/bus/w1/devices/w1_bus_master* >/dev/null 2>&1 || [ -d /mnt/1wire/settings ] || [ -d /run/owfs/settings ]; then
    exec bin/w1mqtt.cjs run
  fi
  echo "w1mqtt: no 1-Wire bus and no sensors.yaml here: starting the demo" >&2
  set -- demo
fi
# The demo: its broker on 1883, unless the user's own mosquitto.service is there.
port="$(demo_port)"
case " $* " in
  *" --port "* | *" --port="*) ;;
  *)
    watch="mosquitto_sub -t 'home/#' -v"
    if [ "$port" != 1883 ]; then
      echo "w1mqtt: Debian's mosquitto.service holds port 1883 (left as it is): the demo's broker takes port $port" >&2
      set -- "$@" --port "$port"
      watch="mosquitto_sub -p $port -t 'home/#' -v"
    fi
    echo "w1mqtt: watch the readings with: $watch" >&2
    ;;
esac
exec bin/w1mqtt.cjs "$@"
