# Shared by start.sh, test.sh, bench.sh and deploy/install.sh: make this checkout runnable on a
# fresh Debian / Raspberry Pi OS.

die() { echo "w1mqtt: $*" >&2; exit 1; }

# node_version_ok vX.Y.Z: at least 20.19 (Debian trixie's nodejs), or any later major.
node_version_ok() {
  local v="${1#v}" major minor
  major="${v%%.*}"; minor=0
  case "$v" in *.*) minor="${v#*.}"; minor="${minor%%.*}" ;; esac
  case "$major:$minor" in *[!0-9:]* | :* | *:) return 1 ;; esac
  [ "$major" -gt 20 ] || { [ "$major" = 20 ] && [ "$minor" -ge 19 ]; }
}

# node_help: how to get a Node.js that w1mqtt runs on, for the machine's Debian release.
node_help() {
  cat >&2 <<'EOF'
w1mqtt: install Node.js system-wide (>= 20.19), then run this again:
  Debian / Raspberry Pi OS trixie (64- and 32-bit): Debian's own nodejs (20.19) works as it is:
    sudo apt install nodejs npm
  Debian / Raspberry Pi OS bookworm (its nodejs is 18: too old), 64-bit: the current LTS from NodeSource:
    curl -fsSL https://deb.nodesource.com/setup_24.x -o nodesource_setup.sh
    sudo -E bash nodesource_setup.sh
    sudo apt-get install -y nodejs
  32-bit bookworm has no current Node.js package: upgrade to trixie. (README: "Node.js")
EOF
}

require_node() {
  if ! command -v node >/dev/null 2>&1; then
    echo "w1mqtt: Node.js >= 20.19 is needed, and there is no node on PATH (sudo does not see a node that nvm installed, and the service could not use it)" >&2
    node_help
    exit 1
  fi
  local v
  v="$(node --version 2>/dev/null || true)"
  if ! node_version_ok "$v"; then
    echo "w1mqtt: Node.js ${v:-of unknown version} ($(command -v node)) is too old: w1mqtt needs >= 20.19" >&2
    node_help
    exit 1
  fi
}

# apt_nodejs_ok: the nodejs package apt would install is new enough (trixie's 20.19, or NodeSource's),
# not bookworm's 18, which require_node would refuse a moment later.
apt_nodejs_ok() {
  local candidate
  candidate="$(apt-cache policy nodejs 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')"
  candidate="${candidate#*:}" # an epoch
  node_version_ok "v$candidate"
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
