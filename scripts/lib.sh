# Shared by start.sh, test.sh, bench.sh and deploy/install.sh: make this checkout runnable on a
# fresh Debian / Raspberry Pi OS.

die() { echo "w1mqtt: $*" >&2; exit 1; }

require_node() {
  command -v node >/dev/null 2>&1 || die "Node.js >= 20.19 is needed: https://nodejs.org (on a Pi: sudo apt install nodejs npm on trixie, or NodeSource for bookworm)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js $(node -v) is too old: w1mqtt needs >= 20.19"
}

# can_be_root: this shell is root, or may use sudo without a password. as_root CMD...: run CMD so.
can_be_root() { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

# apt_install PKG... : install Debian packages that are missing, as root or through passwordless sudo.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  if ! can_be_root; then
    echo "w1mqtt: please install: sudo apt-get install -y $*" >&2
    return 1
  fi
  echo "w1mqtt: installing $* (apt-get)" >&2
  as_root apt-get update -qq >/dev/null 2>&1 || true
  # env, not VAR=… before sudo: sudo's env_reset would drop it.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# npm dependencies, installed again only when package-lock.json changed.
npm_deps() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# pkg_installed PKG [BIN]: the Debian package PKG is installed (without dpkg: the command BIN is found).
pkg_installed() {
  if command -v dpkg-query >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # ${…} is dpkg-query's format, not the shell's
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
  else
    have "${2:-$1}"
  fi
}

# stock_mosquitto_in_use [--root=DIR]: Debian's own mosquitto.service is enabled or running, so it
# is the user's broker (with --root: enabled in the tree DIR; systemctl cannot say "running" there).
# shellcheck disable=SC2120 # install.sh --destdir passes --root=DIR
stock_mosquitto_in_use() {
  command -v systemctl >/dev/null 2>&1 || return 1
  case "$(systemctl "$@" is-enabled mosquitto.service 2>/dev/null)" in enabled | enabled-runtime) return 0 ;; esac
  [ "$#" = 0 ] && systemctl is-active --quiet mosquitto.service 2>/dev/null
}

# mosquitto_setup: the packages mosquitto (w1mqtt's bundled broker: a mosquitto that w1mqtt runs as
# its own child with its own configuration) and mosquitto-clients (mosquitto_sub), installed when
# missing and possible. Debian's postinst enables and starts the stock mosquitto.service on port
# 1883, the bundled broker's port. So, decided before installing:
#   - a mosquitto.service that was already enabled or running is the user's broker: left alone;
#   - one that runs only because this call installed the package is disabled (and stopped).
# Sets mosquitto_stock: in-use | disabled | off (installed, unit off) | missing (could not install).
# Every decision comes from systemctl, systemd-notify, dpkg-query and apt-get on PATH.
mosquitto_setup() {
  local had_server=1 missing=()
  mosquitto_stock=off
  # shellcheck disable=SC2119 # this machine, not a --root
  if stock_mosquitto_in_use; then mosquitto_stock=in-use; fi
  if ! pkg_installed mosquitto; then had_server=0; missing+=(mosquitto); fi
  pkg_installed mosquitto-clients mosquitto_sub || missing+=(mosquitto-clients)
  [ "${#missing[@]}" -gt 0 ] || return 0
  if ! apt_install "${missing[@]}"; then
    if [ "$had_server" = 1 ]; then
      echo "w1mqtt: (mosquitto_sub is only needed to watch the readings)" >&2
    else
      mosquitto_stock=missing
      echo "w1mqtt: without it the bundled broker (the demo, or a sensors.yaml without mqtt.url) cannot start: sudo apt install mosquitto mosquitto-clients" >&2
    fi
    return 0
  fi
  if [ "$had_server" = 1 ] || [ "$mosquitto_stock" = in-use ]; then return 0; fi
  # systemd-notify --booted: systemd is PID 1 (/run/systemd/system exists). Without it (a chroot,
  # a container) there is nothing to stop, and disable works on the unit files alone.
  local now=()
  if systemd-notify --booted 2>/dev/null; then now=(--now); fi
  if as_root systemctl disable "${now[@]}" mosquitto.service >/dev/null 2>&1; then
    mosquitto_stock=disabled
    echo "w1mqtt: disabled${now:+ and stopped} Debian's mosquitto.service, which came with the package: w1mqtt runs its own mosquitto on port 1883" >&2
  else
    echo "w1mqtt: could not disable Debian's mosquitto.service: if it holds port 1883, run: sudo systemctl disable --now mosquitto" >&2
  fi
}

# demo_port: the port for the demo's broker: 1883, or 1884 while Debian's mosquitto.service (left
# alone by mosquitto_setup as the user's broker) holds 1883.
demo_port() {
  if [ "${mosquitto_stock:-}" = in-use ] && systemctl is-active --quiet mosquitto.service 2>/dev/null; then echo 1884; else echo 1883; fi
}
