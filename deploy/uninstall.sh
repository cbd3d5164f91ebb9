#!/usr/bin/env bash
# Remove what install.sh installed. Your /etc/w1mqtt (sensors.yaml) and the state in
# /var/lib/w1mqtt stay, as do the w1mqtt user and the w1 group, unless --purge.
# The mosquitto packages always stay (you may use them), and so does mosquitto.service.
#   sudo ./deploy/uninstall.sh [--purge]
#   ./deploy/uninstall.sh --destdir DIR [--purge]    the same under DIR
# Options: --prefix DIR (default /opt/w1mqtt), --destdir DIR (or $DESTDIR). Safe to run again.
set -euo pipefail
prefix=/opt/w1mqtt
destdir="${DESTDIR:-}"
purge=0
die() { echo "w1mqtt: $*" >&2; exit 1; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
    --destdir=*) destdir="${1#*=}"; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
[ -n "$destdir" ] || [ "$(id -u)" = 0 ] || die "run as root (sudo $0), or with --destdir DIR"

if [ -z "$destdir" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now w1mqtt.service 2>/dev/null || true
fi
rm -f "$destdir/etc/systemd/system/w1mqtt.service" "$destdir/etc/udev/rules.d/60-w1mqtt.rules" \
  "$destdir/usr/lib/sysusers.d/w1mqtt.conf"
case "$(readlink "$destdir/usr/local/bin/w1mqtt" 2>/dev/null)" in
  "$prefix/bin/w1mqtt.cjs" | "$prefix/bin/w1mqtt.js") rm -f "$destdir/usr/local/bin/w1mqtt" ;;
esac
rm -rf "$destdir$prefix" "$destdir$prefix.new" "$destdir$prefix.old"
if [ -z "$destdir" ]; then
  systemctl daemon-reload 2>/dev/null || true
  udevadm control --reload-rules 2>/dev/null || true
fi
if [ "$purge" = 1 ]; then
  rm -rf "$destdir/etc/w1mqtt" "$destdir/var/lib/w1mqtt" "$destdir/var/lib/private/w1mqtt"
  if grep -q '^w1mqtt:' "$destdir/etc/passwd" 2>/dev/null; then userdel ${destdir:+--prefix "$destdir"} w1mqtt; fi
  # The w1 group may be used by others (it is the generic 1-Wire group): only an empty one goes.
  if grep -q '^w1:[^:]*:[^:]*:$' "$destdir/etc/group" 2>/dev/null && ! awk -F: '$4 == g' g="$(awk -F: '$1 == "w1" { print $3 }' "$destdir/etc/group")" "$destdir/etc/passwd" | grep -q .; then
    groupdel ${destdir:+--prefix "$destdir"} w1
  fi
  echo "w1mqtt: removed, with its configuration, state and user"
else
  echo "w1mqtt: removed (kept /etc/w1mqtt and /var/lib/w1mqtt; --purge removes them and the w1mqtt user)"
fi
# install.sh installed mosquitto for w1mqtt's bundled broker; the package may serve other things now.
echo "w1mqtt: kept the mosquitto and mosquitto-clients packages (sudo apt remove mosquitto mosquitto-clients if nothing else uses them)"
echo "w1mqtt: left Debian's mosquitto.service as it is (if install.sh brought the package, it disabled it: sudo systemctl enable --now mosquitto runs it)"
