#!/usr/bin/env bash
# Linux tier (issue 2): our guest kernel with the hello initrd boots under
# qemu-system-x86_64 -accel kvm (the reference VMM), and hello prints what
# it should. Run where KVM can run Linux guests: tools/kvm-host -- bash ...
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-hello.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 6
# QEMU's microvm machine (the pc machine's BIOS takes minutes under nested
# emulation; microvm delivers its timer through the local APIC, so the
# guest keeps it). The guest has no ACPI, so power-off ends in a halt: stop
# QEMU when hello says it is done. A pipe that stays open feeds stdin.
# Its own session, so that QEMU and the pipe feeding it go away together.
# attempt N: one boot, until hello is done or 120 s have passed (a boot
# takes about 10 s here); true when it finished.
attempt() {
  setsid bash -c 'sleep 300 | exec timeout 130 "$@"' _ \
    qemu-system-x86_64 -accel kvm -M microvm -cpu host -m 256M -smp 1 \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -kernel "$build/kernel/bzImage" -initrd "$build/guests/hello.initrd" \
    -append "console=ttyS0 panic=-1 reboot=k random.trust_cpu=on" >"$work/out" 2>"$work/err" &
  local pid=$! deadline=$((SECONDS + 120)) done=1 t0=$SECONDS
  while [ $SECONDS -lt $deadline ]; do
    if grep -q '^hello: done' "$work/out" 2>/dev/null; then done=0; break; fi
    sleep 1
  done
  kill -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  tr -d '\r' <"$work/out" >"$work/clean"
  echo "# attempt $1: $([ $done = 0 ] && echo finished || echo 'did not finish') in $((SECONDS - t0)) s"
  return $done
}
# A guest of a VMM inside the test host (QEMU's emulated SVM) very rarely
# stops making progress (tools/README.md, "Known: guests corrupted ..."):
# seen once in a CI run of this test (no output for 400 s). One more boot
# then, saying so; a second hang fails the test.
if ! attempt 1; then
  echo "# the first boot did not finish; its console ends:"
  tail -5 "$work/clean" | sed 's/^/#   /'
  attempt 2
fi
check "QEMU with -accel kvm boots our kernel" grep -q 'Linux version 6.1' "$work/clean"
check "hello starts as /init" grep -q '^hello: ChaosControl guest starting' "$work/clean"
check "hello prints its numbered lines" grep -q '^hello: line 5 of 5' "$work/clean"
check "hello computes the same checksum as natively" \
  grep -q '^hello: primes: sum of first 1000 = 3682913' "$work/clean"
check "hello reads getrandom and the clocks" \
  grep -Eq '^hello: getrandom: [0-9a-f]{32}' "$work/clean"
check "hello finishes" grep -q '^hello: done' "$work/clean"
if [ "$tap_failed" != 0 ]; then diag_file "$work/err"; tail -30 "$work/clean" | diag_file /dev/stdin; fi
tap_done
