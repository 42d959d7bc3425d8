#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, in turn. Each prints ratios
# measured side by side in one run; absolute times on emulated test hosts
# say little about real hardware.
set -u
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
export CC_BUILD_DIR=$repo/$build
status=0
for b in boot snapshot sdk etcd lincheck dlog dashboard dist pin; do
  [ -x "$repo/bench/$b.sh" ] || continue
  echo "=== bench/$b ==="
  "$repo/bench/$b.sh" || status=1
  echo
done
exit $status
