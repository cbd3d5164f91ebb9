#!/usr/bin/env bash
# Install w1mqtt as a systemd service (Raspberry Pi OS / Debian bookworm or trixie).
#   sudo ./deploy/install.sh              from a checkout: build, install, enable, start
#   ./deploy/install.sh --destdir DIR     the same files under DIR, touching nothing else
#                                         (packaging and tests: no systemctl, no udevadm)
# Options: --prefix DIR (program, default /opt/w1mqtt), --destdir DIR (or $DESTDIR),
#          --no-start (install and enable, but do not start).
# Safe to run again: it updates the program and the unit, and never overwrites an
# existing /etc/w1mqtt/sensors.yaml. It installs Debian's mosquitto (w1mqtt runs it as its
# bundled broker) and never disturbs a mosquitto.service that was already in use.
# Node.js >= 20.19, system-wide: trixie's nodejs is installed if missing; bookworm's (18) is not.
# Update:  git pull && sudo ./deploy/install.sh   (new dependencies, a rebuild, a restart)
# The service is w1mqtt.service:  systemctl status w1mqtt;  its log: journalctl -u w1mqtt -f
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$repo/scripts/lib.sh"

prefix=/opt/w1mqtt
destdir="${DESTDIR:-}"
start=1
while [ "$#" -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
    --destdir=*) destdir="${1#*=}"; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
if [ -n "$destdir" ]; then
  mkdir -p "$destdir"
  destdir="$(cd "$destdir" && pwd)"
elif [ "$(id -u)" != 0 ]; then
  die "run as root (sudo $0), or with --destdir DIR to install into a directory"
fi
say() { echo "w1mqtt: $*"; }

# 1. Node.js >= 20.19. Debian's nodejs only where apt offers one that new (trixie: 20.19, or
#    NodeSource's where the user added it); bookworm's 18 would only be refused. require_node
#    says what to install.
if ! command -v node >/dev/null 2>&1 && [ -z "$destdir" ] && apt_nodejs_ok; then
  apt_install nodejs || true
  have npm || apt_install npm || true # NodeSource's nodejs brings its own npm
fi
require_node
node_bin="$(command -v node)"
#    The unit runs with ProtectHome=yes: /home and /root do not exist for the service, so a node
#    there (nvm's, say) cannot start it, and `systemd-analyze verify` does not warn.
for path in "$node_bin" "$(readlink -f "$node_bin")"; do
  case "$path/" in
    /home/* | /root/*)
      where="$node_bin"; [ "$path" = "$node_bin" ] || where="$node_bin (a link to $path)"
      echo "w1mqtt: the node found, $where, is under /home or /root, which the service cannot see (w1mqtt.service has ProtectHome=yes): systemd could not start it" >&2
      node_help
      exit 1 ;;
  esac
done

# 2. mosquitto: the bundled broker (used when sensors.yaml has no mqtt.url) is a mosquitto that
#    w1mqtt runs as its own child, inside w1mqtt.service. Debian's package starts its own
#    mosquitto.service on port 1883: mosquitto_setup (scripts/lib.sh) keeps one that was already
#    enabled or running, as the user's broker, and disables one that only this install brought.
#    Into a --destdir nothing is installed; the unit's state is read in that tree.
stock_url=mqtt://127.0.0.1:1883
if [ -n "$destdir" ]; then
  mosquitto_stock=off
  if stock_mosquitto_in_use --root="$destdir"; then mosquitto_stock=in-use; fi
else
  mosquitto_setup
fi
case "$mosquitto_stock" in
  in-use) say "Debian's mosquitto.service is in use${destdir:+ in $destdir}: left as it is, as your broker" ;;
  missing) say "warning: mosquitto is not installed: w1mqtt will need mqtt.url in /etc/w1mqtt/sensors.yaml" ;;
esac

# 3. The dependencies again when package-lock.json changed (a `git pull` may bring new ones
#    alone), and a build when dist/ is missing or older than what goes into it. Run by root, npm
#    and the build run as the checkout's owner, so dist/ and node_modules/ stay theirs (a root-owned
#    dist/ would stop their next ./scripts/start.sh); root-owned ones an older install.sh left
#    are given back first.
cd "$repo"
owner_uid="$(stat -c %u "$repo")"
owner_gid="$(stat -c %g "$repo")"
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ] && [ "$owner_uid" != 0 ]; then
  for d in dist node_modules; do
    if [ -d "$d" ] && [ -n "$(find "$d" ! -user "$owner_uid" -print -quit)" ]; then chown -R "$owner_uid:$owner_gid" "$d"; fi
  done
  owner_groups=--init-groups
  owner_home="$(getent passwd "$owner_uid" | cut -d: -f6)" || owner_groups=--clear-groups
  # npm keeps its cache under $HOME: the owner's own, or a fresh one for this run.
  if [ -z "$owner_home" ] || [ "$(stat -c %u "$owner_home" 2>/dev/null)" != "$owner_uid" ]; then
    owner_home="$(mktemp -d)"
    chown "$owner_uid:$owner_gid" "$owner_home"
    trap 'rm -rf "$owner_home"' EXIT
  fi
  as_owner() { setpriv --reuid="$owner_uid" --regid="$owner_gid" "$owner_groups" env HOME="$owner_home" "$@"; }
fi
as_owner bash -c '. scripts/lib.sh; npm_deps'
if [ ! -f dist/main.js ] || [ -n "$(find src package.json package-lock.json scripts/build.mjs -newer dist/main.js -print -quit)" ]; then
  say "building"
  as_owner npm run --silent build
fi

# 4. The program: a copy of the package with its runtime dependencies only,
#    swapped in whole so a running service never sees half an update.
target="$destdir$prefix"
say "installing the program into $target"
rm -rf "$target.new" "$target.old"
mkdir -p "$target.new"
# Owned by the installing user (root), not by the checkout's owner.
cp -a --no-preserve=ownership package.json package-lock.json README.md bin dist deploy fixtures web node_modules "$target.new/"
(cd "$target.new" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
[ -d "$target" ] && mv "$target" "$target.old"
mv "$target.new" "$target"
rm -rf "$target.old"
mkdir -p "$destdir/usr/local/bin"
ln -sfn "$prefix/bin/w1mqtt.cjs" "$destdir/usr/local/bin/w1mqtt"

# 5. The service user w1mqtt in the group w1 (sysusers.d: idempotent, works on a DESTDIR).
install -D -m 0644 deploy/w1mqtt.sysusers "$destdir/usr/lib/sysusers.d/w1mqtt.conf"
mkdir -p "$destdir/etc"
if command -v systemd-sysusers >/dev/null 2>&1; then
  systemd-sysusers ${destdir:+--root="$destdir"} "$destdir/usr/lib/sysusers.d/w1mqtt.conf" >/dev/null
else
  getent group w1 >/dev/null || groupadd --system ${destdir:+--prefix "$destdir"} w1
  getent passwd w1mqtt >/dev/null || useradd --system ${destdir:+--prefix "$destdir"} --gid w1 --home-dir /var/lib/w1mqtt --shell /usr/sbin/nologin w1mqtt
fi

# 6. The unit, with this machine's node and the install prefix; the udev rule.
mkdir -p "$destdir/etc/systemd/system" "$destdir/etc/udev/rules.d"
sed -e "s|^ExecStart=/usr/bin/node \(.*\)/opt/w1mqtt/|ExecStart=$node_bin \1$prefix/|" -e "s|file:/opt/w1mqtt/|file:$prefix/|" \
  deploy/w1mqtt.service >"$destdir/etc/systemd/system/w1mqtt.service.new"
chmod 0644 "$destdir/etc/systemd/system/w1mqtt.service.new"
mv "$destdir/etc/systemd/system/w1mqtt.service.new" "$destdir/etc/systemd/system/w1mqtt.service"
install -m 0644 deploy/60-w1mqtt.rules "$destdir/etc/udev/rules.d/60-w1mqtt.rules"

# 7. /etc/w1mqtt: the example for reference; sensors.yaml only if there is none yet.
install -d -m 0755 "$destdir/etc/w1mqtt"
install -m 0644 deploy/sensors.example.yaml "$destdir/etc/w1mqtt/sensors.example.yaml"
#    With the user's mosquitto.service in use, a new one sends to it (the example's commented
#    mqtt.url line, made real): w1mqtt's own broker would want its port 1883.
config="$destdir/etc/w1mqtt/sensors.yaml"
if [ -e "$config" ]; then
  say "keeping your /etc/w1mqtt/sensors.yaml"
  if [ "$mosquitto_stock" = in-use ] && ! grep -Eq '^[[:space:]]+url:' "$config"; then
    say "to publish to that mosquitto.service, set in /etc/w1mqtt/sensors.yaml:  mqtt: { url: $stock_url }"
    say "(with username/password_file if it needs them); without a url w1mqtt starts its own broker on port 1883"
  fi
else
  rm -f "$config.new"
  if [ "$mosquitto_stock" = in-use ]; then
    sed -e "s|^  # url: mqtt://[^ ]* .*|  url: $stock_url          # Debian's mosquitto.service, in use here at install time|" \
      deploy/sensors.example.yaml >"$config.new"
  else
    cp deploy/sensors.example.yaml "$config.new"
  fi
  chmod 0640 "$config.new"
  [ -n "$destdir" ] || chgrp w1 "$config.new"
  mv "$config.new" "$config"
  say "installed an example /etc/w1mqtt/sensors.yaml (edit it: changes apply without a restart)"
  if [ "$mosquitto_stock" = in-use ]; then
    if grep -q "^  url: $stock_url " "$config"; then
      say "it publishes to that mosquitto.service (mqtt.url: $stock_url); add username/password_file there if it needs them"
    else
      say "to publish to that mosquitto.service, set in /etc/w1mqtt/sensors.yaml:  mqtt: { url: $stock_url }"
    fi
  fi
fi

if [ -n "$destdir" ]; then
  say "installed into $destdir (nothing enabled or started)"
  exit 0
fi

# 8. Apply the udev rule to sensors already present, then enable and (re)start.
udevadm control --reload-rules 2>/dev/null || true
udevadm trigger --subsystem-match=w1 --action=add 2>/dev/null || true
systemctl daemon-reload
systemctl enable w1mqtt.service >/dev/null
if [ "$start" = 1 ]; then
  if ! systemctl restart w1mqtt.service; then
    journalctl -u w1mqtt.service -n 30 --no-pager || true
    die "w1mqtt did not start (the log is above)"
  fi
  systemctl --no-pager status w1mqtt.service | head -n 5 || true
fi
say "done. Logs: journalctl -u w1mqtt -f   Status: systemctl status w1mqtt"
