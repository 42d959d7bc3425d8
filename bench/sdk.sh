#!/usr/bin/env bash
# bench/sdk: the cost of one guest SDK call per doorbell (port I/O from user
# space, hypercall through /dev/chaoscontrol), of a random value, of an
# assertion (no exit) and of a plain port write for comparison, in one run
# of guests/sdk-bench under our VMM (inside the KVM test host where this
# machine's KVM cannot run Linux guests).
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
n=${SDK_BENCH_N:-10000}
exec "$repo/tools/kvm-host" --timeout 900 -- "$build/bench/sdk_doorbell" \
  --kernel "$build/kernel/bzImage" --initrd "$build/guests/sdk-bench.initrd" --n "$n"
