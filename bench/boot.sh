#!/usr/bin/env bash
# bench/boot: time from start to the first line /init prints, ChaosControl
# vs `qemu-system-x86_64 -accel kvm -M microvm` on the same kernel, initrd
# and command line (QEMU's guest keeps its local APIC: microvm delivers the
# timer only through it), side by side in one run, median of 5 each;
# printed as a ratio. Runs itself inside tools/kvm-host when needed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  exec "$repo/tools/kvm-host" --timeout 1800 -- env BENCH_DIRECT=1 bash "$0" "$@"
fi
. "$here/lib.sh"

runs=${BENCH_RUNS:-5}
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
pattern="hello: ChaosControl guest starting"
cmdline=$("$build/chaoscontrol" boot --print-cmdline)
# QEMU's microvm delivers the PIT interrupt only through the local APIC, so
# its guest keeps the APIC on; everything else is the same command line.
qemu_cmdline=$(echo "$cmdline" | sed 's/ noapic nolapic//')

cc_ms=() q_ms=()
for i in $(seq "$runs"); do
  cc_ms+=("$(ms_until_line "$pattern" "$build/chaoscontrol" boot --kernel "$kernel" \
              --initrd "$initrd" --seed "$i" --quiet)")
  q_ms+=("$(ms_until_line "$pattern" qemu-system-x86_64 -accel kvm -M microvm -cpu host \
              -m 256M -smp 1 -nodefaults -no-user-config -display none \
              -serial stdio \
              -kernel "$kernel" -initrd "$initrd" -append "$qemu_cmdline")")
  echo "run $i: chaoscontrol ${cc_ms[-1]} ms, qemu microvm ${q_ms[-1]} ms"
done
cc=$(median "${cc_ms[@]}")
q=$(median "${q_ms[@]}")
echo
echo "boot to /init's first line (median of $runs): chaoscontrol $cc ms, qemu -M microvm $q ms"
echo "ratio chaoscontrol/qemu: $(ratio "$cc" "$q")"
