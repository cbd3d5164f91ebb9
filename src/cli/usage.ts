export const USAGE = `w1mqtt: 1-Wire temperature sensors to MQTT

Usage:
  w1mqtt run   [--config FILE]          run the agent (default when no command is given)
  w1mqtt demo  [--port N] [--interval D] [--web-port N] [--realistic]
                                        run on a simulated 1-Wire bus with the bundled broker and the live page;
                                        --realistic: reads block like the kernel's (bulk conversion shows)
  w1mqtt scan  [--config FILE] [--yaml]  list devices, their chip and a reading; --yaml prints a sensors.yaml skeleton
  w1mqtt check [--config FILE]          validate sensors.yaml; every problem as file:line:col
  w1mqtt passwd [-c] [-b] [-D] [-U] FILE USER [PASSWORD]
                                        mosquitto_passwd's arguments and format: set USER's password in FILE
                                        (-c: a new file; -b: PASSWORD given; -D: delete USER; -U: hash plain-text ones)
  w1mqtt --version | --help

Config: --config, else $W1MQTT_CONFIG, else /etc/w1mqtt/sensors.yaml, else ./sensors.yaml;
none at all: auto-detect the 1-Wire bus and publish through the bundled broker on 127.0.0.1:1883.
Watch the readings:  mosquitto_sub -h <pi> -t 'home/#' -v
The live page:       http://127.0.0.1:8080/ (web: in sensors.yaml)
Log level: LOG_LEVEL=debug (or log_level: in sensors.yaml).
As a service (sudo ./deploy/install.sh): w1mqtt.service, runs \`w1mqtt run\` with /etc/w1mqtt/sensors.yaml;
  systemctl status w1mqtt; its log: journalctl -u w1mqtt -f (warnings and errors: -p warning).
Exit codes: 0 ok, 1 bad config or runtime failure, 2 usage error.
`;

/** Thrown for command-line mistakes; main prints it with the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
