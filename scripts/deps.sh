#!/usr/bin/env bash
# Install the Debian packages ChaosControl needs, but only those missing.
# Idempotent and offline-safe: when everything is installed it touches
# nothing and needs no network.
set -euo pipefail

PKGS=(
  # build
  gcc g++ make meson ninja-build pkg-config musl-tools clang
  libjansson-dev libxxhash-dev libzstd-dev zlib1g-dev libsodium-dev
  # the dashboard's HTTP server (src/dash/server.c)
  libmicrohttpd-dev
  # distributed exploration: Redis and its C client (src/dist)
  libhiredis-dev redis-server
  # Redis over TLS through stunnel (Debian's hiredis has none; tests/cli/redis_tls.sh)
  stunnel4
  # chaoscontrol test: YAML test files, JUnit XML reports (src/cli/test*.c);
  # their test validates the XML (xmllint) and the examples against the
  # JSON schema (tests/cli/ctest.sh)
  libyaml-dev libxml2-dev libxml2-utils python3-jsonschema
  # guest kernel build
  linux-source-6.1 bc flex bison libelf-dev libssl-dev cpio xz-utils patch
  # KVM test host (QEMU TCG with an emulated SVM CPU) and its tiny initramfs
  qemu-system-x86 qemu-utils busybox-static kmod
  # tests
  e2fsprogs strace
  # the fleet examples' test reads the Kubernetes manifests (tests/unit/fleet_examples.py)
  python3-yaml
  # the time-travel debugger's test drives Debian's GDB (tests/linux/replay.sh)
  gdb
  # host-side KVM traces: chaoscontrol trace record runs bpftrace (src/cli/trace.c)
  bpftrace
  # Linux-tier tests with real software: a Go program (tests/linux/gotime)
  # and the reference case, a 3-node etcd cluster (tests/linux/etcd.sh)
  golang-go etcd-server etcd-client
  # the dashboard's browser test drives Debian's Chromium (tests/web)
  chromium
  # the man pages (man -l) and the Debian package: its build and its check
  # (tests/install: man-db, debhelper, lintian)
  man-db debhelper lintian
)

# The dashboard's front end is built with Node.js and npm packages (web/):
# Debian's nodejs and npm unless a node is already installed (from another
# source, say; web/build.sh says which versions it needs).
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: error: not root; run as root or install: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  echo "deps: install failed; refreshing the package lists and retrying" >&2
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
