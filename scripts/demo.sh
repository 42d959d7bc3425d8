#!/usr/bin/env bash
# `make demo`: the most complete end-to-end path that works today.
# Boots the bundled hello guest under ChaosControl (through tools/kvm-host,
# so it runs on real KVM: directly, or inside the QEMU test host when this
# machine's /dev/kvm cannot run Linux guests) and proves determinism with
# `chaoscontrol verify`.
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CC_BUILD_DIR=$repo/$build

echo "demo: booting the hello guest, then verifying 3 runs are bit-identical"
exec tools/kvm-host --timeout 900 -- bash -c '
  set -e
  b=$CC_BUILD_DIR
  echo "== chaoscontrol boot (seed 1) =="
  "$b/chaoscontrol" boot --kernel "$b/kernel/bzImage" --initrd "$b/guests/hello.initrd" --seed 1
  echo
  echo "== chaoscontrol verify --runs 3 (seed 1) =="
  "$b/chaoscontrol" verify --runs 3 --kernel "$b/kernel/bzImage" --initrd "$b/guests/hello.initrd" --seed 1
'
