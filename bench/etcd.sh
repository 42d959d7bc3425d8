#!/usr/bin/env bash
# The etcd reference case (issue 14): Debian's etcd in 3 VMs, etcdctl in
# VM 0 writing and reading back 100 keys (examples/etcd), once under
# `chaoscontrol sim` and once as 3 QEMU -accel kvm -M microvm processes
# (same kernel, same initrd, same command line, a multicast socket as the
# switch) running on the wall clock, side by side in one run. Prints
#  - wall time from start until VM 0 says the workload is done, both ways,
#    and their ratio (chaoscontrol / QEMU);
#  - chaoscontrol's wall seconds per virtual second over the whole run, its
#    exits per virtual second, and how many of them are clock-page reads
#    (what the nanosecond clock costs).
# Runs itself inside tools/kvm-host when needed. BENCH_VTIME: virtual
# seconds of the sim run (default 4); BENCH_QEMU_LIMIT: wall seconds QEMU
# gets to finish (default 600; if it does not, the ratio is an upper bound).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  exec "$repo/tools/kvm-host" --timeout 3000 --mem 4G -- env BENCH_DIRECT=1 bash "$0" "$@"
fi
. "$here/lib.sh"

cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
vtime=${BENCH_VTIME:-4}
done_line="read back 100 of 100 keys correctly"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-etcd.XXXXXX") || exit 1
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

etcd_bin=$(command -v etcd) etcdctl_bin=$(command -v etcdctl)
[ -n "$etcd_bin" ] && [ -n "$etcdctl_bin" ] || {
  echo "bench/etcd: etcd and etcdctl are needed (scripts/deps.sh installs etcd-server, etcd-client)" >&2
  exit 1
}
"$cc" pack --output "$work/etcd.initrd" --add "$etcd_bin" --add "$etcdctl_bin" \
  --file "$repo/examples/etcd/start.sh:/etc/etcd-example/start.sh" \
  --cmd /etc/etcd-example/start.sh >/dev/null || exit 1

# ms_until_file_line FILE PATTERN START_NS TIMEOUT_S: ms from START_NS until
# FILE holds PATTERN (polled every 50 ms), or "timeout".
ms_until_file_line() {
  local deadline=$(($(date +%s) + $4))
  while [ "$(date +%s)" -lt $deadline ]; do
    if grep -q "$2" "$1" 2>/dev/null; then
      echo $((($(date +%s%N) - $3) / 1000000))
      return 0
    fi
    sleep 0.05
  done
  echo timeout
}

# --- chaoscontrol sim ---
mkdir -p "$work/cc"
start=$(date +%s%N)
"$cc" sim --vms 3 --kernel "$kernel" --initrd "$work/etcd.initrd" --mem 512M --no-balloon \
  --seed 1 --duration "${vtime}s" --serial-dir "$work/cc" --json "$work/cc.json" --quiet \
  >"$work/cc.out" 2>&1 &
simpid=$!
cc_done=$(ms_until_file_line "$work/cc/vm0.log" "$done_line" "$start" 2400)
wait $simpid
rc=$?
cc_total=$((($(date +%s%N) - start) / 1000000))
[ $rc = 0 ] || { echo "bench/etcd: chaoscontrol sim failed (exit $rc):"; cat "$work/cc.out"; }
counts=$(python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))["vms"]
print(sum(int(x["exits"]) for x in v), sum(int(x["clock_reads"]) for x in v))
' "$work/cc.json")
exits=${counts% *} clock_reads=${counts#* }

# --- QEMU with KVM, wall clock ---
# The three QEMUs meet on a multicast socket over the loopback device; the
# test host's lo starts down and without multicast.
if [ -n "${CC_IN_TESTHOST:-}" ]; then
  ip link set lo up multicast on 2>/dev/null
  ip route add 224.0.0.0/4 dev lo 2>/dev/null
fi
cmdline=$("$cc" boot --print-cmdline | sed 's/ noapic nolapic//')
port=$((20000 + $$ % 10000))
qstart=$(date +%s%N)
# acpi=off: microvm then names its virtio-mmio devices on the kernel command
# line (our kernel has no ACPI).
for i in 0 1 2; do
  setsid qemu-system-x86_64 -accel kvm -M microvm,acpi=off -cpu host -m 512M -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$work/q$i.log" \
    -netdev "socket,id=n0,mcast=230.0.0.1:$port,localaddr=127.0.0.1" \
    -device "virtio-net-device,netdev=n0,mac=52:54:00:00:00:0$((i + 1))" \
    -kernel "$kernel" -initrd "$work/etcd.initrd" \
    -append "$cmdline cc_vm_id=$i cc_vms=3" </dev/null >"$work/q$i.err" 2>&1 &
done
q_limit=${BENCH_QEMU_LIMIT:-600}
q_done=$(ms_until_file_line "$work/q0.log" "$done_line" "$qstart" "$q_limit")
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null

echo "workload (3 etcd VMs; election, 100 puts, 100 gets) done after, wall clock:"
echo "  chaoscontrol sim:          ${cc_done} ms"
echo "  qemu -accel kvm (3 VMs):   ${q_done} ms"
if [ "$q_done" = timeout ]; then
  echo "  (QEMU's VM 0 said:)"
  for f in q0.log q0.err; do tail -n 5 "$work/$f" 2>&1; done | tr -d '\r' | sed 's/^/    /'
fi
if [ "$q_done" = timeout ] && [ "$cc_done" != timeout ]; then
  # QEMU's guests live on the wall clock: not done by the limit bounds it
  echo "ratio chaoscontrol/qemu: < $(ratio "$cc_done" "$((q_limit * 1000))") (QEMU not done in ${q_limit} s)"
else
  echo "ratio chaoscontrol/qemu: $(ratio "$cc_done" "$q_done")"
fi
echo
awk -v w="$cc_total" -v v="$vtime" -v e="$exits" -v c="$clock_reads" 'BEGIN {
  printf "chaoscontrol, whole run (%d s of virtual time): %.1f wall s per virtual s\n", v, w / 1000 / v
  printf "  exits per virtual second (3 VMs): %d, of which clock-page reads: %d (%.0f%%)\n",
         e / v, c / v, e ? 100 * c / e : 0 }'
