#!/usr/bin/env bash
# Linux tier: host-side KVM traces (chaoscontrol trace, docs/trace.md).
# Run it where KVM can run Linux guests: tools/kvm-host -- bash trace.sh.
#
#  - trace record -- boot (hello, seed 1), twice, and seed 2: each exits
#    with the command's status, a complete recording (# lost: 0, # end:
#    exit, events), tracefs mounted by record when it is not;
#  - trace verify of the two seed-1 recordings: exit 0, "same: N events";
#  - trace verify of seed 1 against seed 2: exit 1, the first difference
#    with its event index and both events;
#  - trace record's exit status is the command's (a command exiting 3);
#  - trace record --pid of a running process stops when it exits.
# Prints the measurements docs/trace.md quotes: the run's wall time with
# and without recording (side by side), events per second, the counts of
# the host-induced events.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/trace-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# The KVM probe's tiny VMs read the host TSC: leave them out of the traces.
export CC_KVM_PROBE=skip

tap_plan 13

if ! command -v "${CC_BPFTRACE:-bpftrace}" >/dev/null; then
  echo "# bpftrace is not installed (apt-get install bpftrace; scripts/deps.sh does)"
fi

now() { date +%s.%N; }
boot=("$cc" boot --kernel "$kernel" --initrd "$initrd")

# record NAME SEED: records a boot; its status in $rc, its log in NAME.log
record() {
  "$cc" trace record --output "$work/$1.txt" -- "${boot[@]}" --seed "$2" >"$work/$1.log" 2>&1
  rc=$?
}

t0=$(now); "${boot[@]}" --seed 1 >"$work/plain1.log" 2>&1; t1=$(now)
record s1a 1; rc1=$rc; t2=$(now)
"${boot[@]}" --seed 1 >"$work/plain2.log" 2>&1; t3=$(now)
record s1b 1; rc2=$rc; t4=$(now)
record s2 2; rc3=$rc
for n in s1a s1b s2; do diag_file "$work/$n.log" | grep -v -e '^#   | \[' -e '^#   | hello:'; done

if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$rc3" = 0 ]; then
  ok "trace record -- boot: exit 0 (the command's) three times"
else
  not_ok "trace record -- boot: exit 0 (the command's) three times" "exits $rc1 $rc2 $rc3"
fi
complete=1
for n in s1a s1b s2; do
  grep -qx '# lost: 0' "$work/$n.txt" && grep -qx '# end: exit' "$work/$n.txt" &&
    grep -qx '# status: exit 0' "$work/$n.txt" || complete=0
done
check "the recordings are complete (# lost: 0, # end: exit, # status: exit 0)" [ $complete = 1 ]
ev=$(sed -n 's/^# events: //p' "$work/s1a.txt")
echo "# seed 1 recording: $ev events"
check "the recording has the run's events (> 10000)" [ "${ev:-0}" -gt 10000 ]
check "... and an exit with its reason, RIP and exit info" \
  grep -qE '^0 exit reason=(svm|vmx):[a-zA-Z_]+ rip=0x[0-9a-f]+ info1=0x' "$work/s1a.txt"
check "... port I/O and userspace exits" \
  grep -q -e '^0 pio write=1 port=0x3f8 ' "$work/s1a.txt"
check "... host-induced events counted in the header" grep -q '^# counted 0 entry [0-9]' "$work/s1a.txt"

"$cc" trace verify "$work/s1a.txt" "$work/s1b.txt" >"$work/same.out" 2>&1
rc=$?
diag_file "$work/same.out"
if [ $rc = 0 ] && grep -q '^same: [0-9]* events (' "$work/same.out"; then
  ok "verify: two runs of seed 1 are the same execution"
else
  not_ok "verify: two runs of seed 1 are the same execution" "exit $rc"
fi

"$cc" trace verify "$work/s1a.txt" "$work/s2.txt" >"$work/diff.out" 2>&1
rc=$?
diag_file "$work/diff.out"
check "verify: seeds 1 and 2 differ (exit 1)" [ $rc = 1 ]
check "... naming the thread and the event index" \
  grep -qE '^different: thread 0, event [0-9]+ of that thread \(A line [0-9]+, B line [0-9]+\)' "$work/diff.out"
a_ev=$(grep -A1 '^A (' "$work/diff.out" | sed -n 2p)
b_ev=$(grep -A1 '^B (' "$work/diff.out" | sed -n 2p)
if [ -n "$a_ev" ] && [ -n "$b_ev" ] && [ "${a_ev#*: }" != "${b_ev#*: }" ] &&
   grep -qF -- "${a_ev#*: }" "$work/s1a.txt" && grep -qF -- "${b_ev#*: }" "$work/s2.txt"; then
  ok "... with both events, each from its own recording"
else
  not_ok "... with both events, each from its own recording" "A: $a_ev" "B: $b_ev"
fi

"$cc" trace record --output "$work/st.txt" -- sh -c 'exit 3' >"$work/st.log" 2>&1
rc=$?
diag_file "$work/st.log"
check "trace record exits with the command's status (3)" [ $rc = 3 ]

# --pid: a process that runs for a while; the recording ends when it exits.
sleep 45 &
sp=$!
"$cc" trace record --pid $sp --output "$work/pid.txt" >"$work/pid.log" 2>&1
rc=$?
diag_file "$work/pid.log"
if [ $rc = 0 ] && ! kill -0 $sp 2>/dev/null && grep -qx '# end: exit' "$work/pid.txt"; then
  ok "trace record --pid: ends when the process exits"
else
  not_ok "trace record --pid: ends when the process exits" "exit $rc"
fi
check "... and says it started mid-run" grep -q '^# pid: [0-9]* (attached while it ran' "$work/pid.txt"

# Measurements (docs/trace.md).
echo "# wall time, seed 1: plain $(echo "$t1 - $t0" | bc) s, recorded $(echo "$t2 - $t1" | bc) s; plain $(echo "$t3 - $t2" | bc) s, recorded $(echo "$t4 - $t3" | bc) s"
grep -h 'events from' "$work/s1a.log" "$work/s1b.log" "$work/s2.log" | sed 's/^/# /'
tap_done
