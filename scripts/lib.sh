# Shared by start.sh and test.sh: make this checkout runnable on a fresh Debian / Raspberry Pi OS.

die() { echo "w1mqtt: $*" >&2; exit 1; }

require_node() {
  command -v node >/dev/null 2>&1 || die "Node.js >= 20.19 is needed: https://nodejs.org (on a Pi: sudo apt install nodejs npm on trixie, or NodeSource for bookworm)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js $(node -v) is too old: w1mqtt needs >= 20.19"
}

# apt_install PKG... : install Debian packages that are missing, as root or through passwordless sudo.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "w1mqtt: please install: sudo apt-get install -y $*" >&2
      return 1
    fi
  fi
  echo "w1mqtt: installing $* (apt-get)" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

# npm dependencies, installed again only when package-lock.json changed.
npm_deps() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}
