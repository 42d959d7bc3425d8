#!/usr/bin/env bash
# Linux tier (issue 14), the reference case: a 3-node etcd cluster from
# Debian's etcd-server and etcd-client packages, unmodified (dynamically
# linked Go binaries), packed by `chaoscontrol pack` with
# examples/etcd/start.sh, in 3 VMs over the simulated network.
#  A  seed 1: the cluster elects a leader; etcdctl in VM 0 writes 100 keys
#     and reads them back; every member then probes its own endpoint.
#  B  seed 1 again: every VM's exit trace, serial output and RAM hash equal
#     A's, and the consoles are byte-identical.
#  C  seed 1 with the leader of A cut off at PART_AT: up to then the run is
#     A's, so the partition isolates the leader; the two others elect a new
#     leader and keep serving puts, the old leader's puts fail.
#  D  seed 2, until the first election: a different election (order,
#     timing or term).
#   tools/kvm-host -- bash tests/linux/etcd.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
work=$(mktemp -d "${TMPDIR:-/tmp}/etcd-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# Virtual seconds: the workload ends by ~WORK_END on seed 1 (measured; see
# the issue 14 note), the partition comes after it, and C runs long enough
# for an election timeout (1 s) and a few probes on each side.
DUR_A=${ETCD_DUR_A:-5s}
PART_AT=${ETCD_PART_AT:-5}
DUR_C=${ETCD_DUR_C:-12s}
DUR_D=${ETCD_DUR_D:-4s}

tap_plan 12

etcd_bin=$(command -v etcd) etcdctl_bin=$(command -v etcdctl)
if [ -z "$etcd_bin" ] || [ -z "$etcdctl_bin" ]; then
  tap_bail "etcd or etcdctl missing: scripts/deps.sh installs etcd-server and etcd-client"
fi
"$cc" pack --output "$work/etcd.initrd" --add "$etcd_bin" --add "$etcdctl_bin" \
  --file "$src/examples/etcd/start.sh:/etc/etcd-example/start.sh" \
  --cmd /etc/etcd-example/start.sh 2>"$work/pack.err"
rc=$?
diag_file "$work/pack.err"
check "pack: etcd, etcdctl, their libraries and the example's script" \
  test $rc = 0 -a -s "$work/etcd.initrd"

sim() {   # sim NAME SEED DURATION [ARGS...]: serial logs in NAME/, report NAME.json
  local name=$1 seed=$2 dur=$3
  shift 3
  local t0=$SECONDS
  "$cc" sim --vms 3 --kernel "$kernel" --initrd "$work/etcd.initrd" --mem 512M --no-balloon \
    --seed "$seed" --duration "$dur" --serial-dir "$work/$name" --json "$work/$name.json" \
    --quiet "$@" >"$work/$name.out" 2>&1
  local rc=$?
  echo "# run $name: seed $seed, $dur of virtual time: exit $rc, $((SECONDS - t0)) s wall"
  return $rc
}
hashes() {   # per VM: trace, serial and RAM hash, exit count
  python3 -c '
import json, sys
for v in json.load(open(sys.argv[1]))["vms"]:
    print(v["vm"], v["trace_hash"], v["serial_hash"], v["ram_hash"], v["exits"],
          v["clock_reads"])
' "$1"
}
leader_of() {   # the VM whose etcd said "became leader" first in run NAME
  grep -l 'became leader at term' "$work/$1"/vm*.log 2>/dev/null | head -1 |
    sed -n 's/.*vm\([0-9]*\)\.log$/\1/p'
}

sim a 1 "$DUR_A" --append etcd_probe=1; rca=$?
grep -h 'workload:' "$work/a"/vm0.log | sed 's/^/#   /'
check "A: the simulation runs (exit 0)" test $rca = 0
check "A: the cluster elects a leader" test -n "$(leader_of a)"
check "A: etcdctl writes 100 keys and reads every one back" \
  grep -q 'workload: .* read back 100 of 100 keys correctly' "$work/a/vm0.log"
hashes "$work/a.json" >"$work/a.hashes" 2>"$work/a.py.err"
sed 's/^/#   A vm /' "$work/a.hashes"

sim b 1 "$DUR_A" --append etcd_probe=1
hashes "$work/b.json" >"$work/b.hashes" 2>/dev/null
check "B = A: every VM's exit trace, serial and RAM hash (and exit count)" \
  test -s "$work/a.hashes" -a "$(cut -d' ' -f1-5 "$work/a.hashes")" = "$(cut -d' ' -f1-5 "$work/b.hashes")"
same_consoles() { for i in 0 1 2; do cmp -s "$work/a/vm$i.log" "$work/b/vm$i.log" || return 1; done; }
check "B = A: the three consoles are byte-identical" same_consoles

old=$(leader_of a)
old=${old:-0}
rest=$(for i in 0 1 2; do [ $i != "$old" ] && echo $i; done | paste -sd,)
cat >"$work/part.json" <<EOF
{"version": 1, "faults": [
  {"at": "${PART_AT}s", "type": "partition", "sides": [[$old], [$rest]]}
]}
EOF
sim c 1 "$DUR_C" --append etcd_probe=1 --schedule "$work/part.json"; rcc=$?
echo "# C: leader of A is VM $old, cut off at ${PART_AT}s from VMs $rest"
# Probe lines: "probe: <uptime> put <i> ok|failed"; after the partition
# (plus an election timeout and a little) which ones worked, per side.
after() {   # after VM: probe results later than PART_AT + 3 s
  awk -v t="$PART_AT" '{ for (i = 1; i < NF; i++)
      if ($i == "probe:" && $(i + 1) > t + 3) print $(i + 4) }' "$work/c/vm$1.log" |
    sort | uniq -c | tr -s ' \n' ' '
}
for i in 0 1 2; do echo "# C: vm$i probes after $((PART_AT + 3)) s:$(after $i)"; done
# The new leader says "became leader at term N" after the partition (etcd's
# "ts" is the guest's CLOCK_REALTIME: the configured epoch plus virtual time).
newl=$(for i in ${rest//,/ }; do
  sed -n 's/.*"ts":"2026-01-01T00:00:\([0-9.]*\)Z".*became leader at term \([0-9]*\).*/\1 term \2/p' \
    "$work/c/vm$i.log" | awk -v t="$PART_AT" -v vm=$i '$1 > t {print "vm" vm " at " $0}'
done)
echo "# C: new leader: ${newl:-none}"
check "C: the simulation runs with the partition (exit 0)" test $rcc = 0
check "C: the majority side elects a new leader after the partition" test -n "$newl"
maj_ok=0
for i in ${rest//,/ }; do
  case "$(after $i)" in *ok*) maj_ok=$((maj_ok + 1)) ;; esac
done
check "C: both majority members' puts succeed after the partition" test $maj_ok = 2
check "C: the cut-off leader's puts fail" \
  test -n "$(after "$old" | grep failed)" -a -z "$(after "$old" | grep ' ok')"

sim d 2 "$DUR_D" --append ETCD_WORKLOAD=none
rcd=$?
if [ $rcd != 0 ]; then
  # A clean-clone make test (2026-12-06) saw run D exit 1 after 1 s wall,
  # before the simulation ran, while other test hosts ran beside it: show
  # why, and run it once more (the run itself is deterministic).
  diag_file "$work/d.out"
  sim d 2 "$DUR_D" --append ETCD_WORKLOAD=none
fi
ea=$(grep -ho '"ts":"[^"]*","caller":"raft/raft.go:[0-9]*","msg":"[0-9a-f]* became leader at term [0-9]*"' "$work/a"/vm*.log | head -1)
ed=$(grep -ho '"ts":"[^"]*","caller":"raft/raft.go:[0-9]*","msg":"[0-9a-f]* became leader at term [0-9]*"' "$work/d"/vm*.log | head -1)
echo "# seed 1: $ea"
echo "# seed 2: $ed"
check "D: seed 2 elects a leader too" test -n "$ed"
check "D: and its election differs from seed 1's (time, leader or term)" test -n "$ea" -a "$ea" != "$ed"
tap_done
