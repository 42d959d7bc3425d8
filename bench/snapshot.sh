#!/usr/bin/env bash
# bench/snapshot: (1) reset latency after dirtying 1 MiB, 16 MiB and nearly
# all of a 256 MiB guest, against copying all of memory back; (2) saving
# and loading a snapshot file of the hello guest at /init's first line,
# against QEMU's savevm/loadvm of the same kernel and initrd (microvm, a
# qcow2 image holding the VM state). Side by side in one run, in the KVM
# test host when this machine's KVM cannot run Linux guests.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  exec "$repo/tools/kvm-host" --timeout 1800 -- env BENCH_DIRECT=1 bash "$0" "$@"
fi
. "$here/lib.sh"
runs=${BENCH_RUNS:-3}
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
pattern="hello: ChaosControl guest starting"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-snapshot.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== 1. reset latency =="
"$build/bench/snapshot_reset"
echo

echo "== 2. snapshot file save/load vs QEMU savevm/loadvm (hello at /init's first line) =="
cc_save=() cc_load=() q_save=() q_load=()
for i in $(seq "$runs"); do
  "$build/chaoscontrol" snapshot save --kernel "$kernel" --initrd "$initrd" \
    --until "$pattern" --output "$work/s.ccsnap" 2>"$work/save.err"
  cc_save+=("$(sed -n 's/.* in \([0-9.]*\) ms$/\1/p' "$work/save.err" | cut -d. -f1)")
  size=$(stat -c %s "$work/s.ccsnap")
  "$build/chaoscontrol" snapshot load "$work/s.ccsnap" --max-exits 1 --quiet \
    --serial-out /dev/null 2>"$work/load.err" || true
  "$build/chaoscontrol" snapshot load "$work/s.ccsnap" --max-exits 1 \
    --serial-out /dev/null 2>"$work/load.err" || true
  cc_load+=("$(sed -n 's/.*VM ready in \([0-9.]*\) ms$/\1/p' "$work/load.err" | cut -d. -f1)")

  # QEMU: boot, wait for the same line, savevm; then a new QEMU, loadvm.
  rm -f "$work/q.qcow2" "$work/serial"
  qemu-img create -q -f qcow2 "$work/q.qcow2" 16M
  qargs=(-accel kvm -M microvm -cpu host -m 256M -smp 1 -nodefaults -no-user-config
         -display none -drive "if=none,id=vmstate,file=$work/q.qcow2,format=qcow2"
         -kernel "$kernel" -initrd "$initrd"
         -append "$("$build/chaoscontrol" boot --print-cmdline | sed 's/ noapic nolapic//')")
  q_save+=("$(qemu_hmp_time "$work" "$pattern" "savevm s1" "${qargs[@]}" -serial "file:$work/serial")")
  q_load+=("$(qemu_hmp_time "$work" "" "loadvm s1" "${qargs[@]}" -serial null -S)")
  echo "run $i: chaoscontrol save ${cc_save[-1]} ms, load ${cc_load[-1]} ms ($size bytes);" \
       "qemu savevm ${q_save[-1]} ms, loadvm ${q_load[-1]} ms ($(stat -c %s "$work/q.qcow2") bytes qcow2)"
done
cs=$(median "${cc_save[@]}") cl=$(median "${cc_load[@]}")
qs=$(median "${q_save[@]}") ql=$(median "${q_load[@]}")
echo
echo "save: chaoscontrol $cs ms, qemu savevm $qs ms, ratio $(ratio "$cs" "$qs")"
echo "load: chaoscontrol $cl ms, qemu loadvm $ql ms, ratio $(ratio "$cl" "$ql")"
