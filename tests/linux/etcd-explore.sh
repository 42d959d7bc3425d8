#!/usr/bin/env bash
# Linux tier (issue 15, item 6): the etcd example, explored. Three VMs run
# an unmodified etcd cluster (Debian's etcd-server), a fourth is a client
# (--clients 3: no fault targets it, every partition leaves it reaching
# every member, as Jepsen's control node) that runs the Test Composer
# template examples/etcd/test: puts and gets on keys k0-k2 through etcdctl,
# each recorded with chaoscontrol-history, judged by the linearizability
# checker after every branch; faults come from the schedule mutator.
# Fault kinds: partitions (with heals), kills and pauses; network loss and
# delays, clock and disk faults would dilute the partitions in a small
# budget. Not restart, which returns a VM to its post-setup
# snapshot; etcd keeps its data in the VM's RAM (/tmp), so that is a member
# forgetting what it acknowledged, outside Raft's failure model (a first
# run found a "stale read" that way: a restarted member without the key).
#  S  serializable reads (etcd_consistency=s, stale by design): the
#     explorer finds a stale read; minimize keeps the checker's failure with
#     no more faults; reproduce fails the same way; bug_1.txt says it all.
#  L  linearizable reads (etcd's default), the same seed and a larger
#     budget: every history is linearizable, no bug (the control).
# The argument says which: s, l or both (default); make test runs s and l
# as two tests, so that they can run side by side. Run it where KVM can run
# Linux guests:
#   tools/kvm-host --mem 10G -- bash tests/linux/etcd-explore.sh [s|l]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
work=$(mktemp -d "${TMPDIR:-/tmp}/etcd-explore.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# The budget: rounds x 3 branches of BRANCH virtual time; S stops at its
# first bug (S_ROUNDS at most), the control runs L_ROUNDS.
SEED=${ETCD_X_SEED:-0}
BRANCH=${ETCD_X_BRANCH:-2s}
S_ROUNDS=${ETCD_X_S_ROUNDS:-6}
L_ROUNDS=${ETCD_X_L_ROUNDS:-2}
part=${1:-both}
case $part in
  s) tap_plan 10 ;;
  l) tap_plan 3 ;;
  both) tap_plan 12 ;;
  *) echo "usage: $0 [s|l|both]" >&2; exit 2 ;;
esac

etcd_bin=$(command -v etcd) etcdctl_bin=$(command -v etcdctl)
if [ -z "$etcd_bin" ] || [ -z "$etcdctl_bin" ]; then
  tap_bail "etcd or etcdctl missing: scripts/deps.sh installs etcd-server and etcd-client"
fi
"$cc" pack --output "$work/etcd.initrd" --add "$etcd_bin" --add "$etcdctl_bin" \
  --file "$src/examples/etcd/start.sh:/etc/etcd-example/start.sh" \
  --file "$src/examples/etcd/test:/opt/chaoscontrol/test/v1/kv" \
  --cmd /etc/etcd-example/start.sh 2>"$work/pack.err"
rc=$?
diag_file "$work/pack.err"
check "pack: etcd, etcdctl, start.sh and the test template" test $rc = 0 -a -s "$work/etcd.initrd"

setup_wait='etcdctl --endpoints http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379 endpoint health'
explore() {   # explore NAME CONSISTENCY ROUNDS [ARGS...]
  local name=$1 cons=$2 rounds=$3
  shift 3
  local t0=$SECONDS
  "$cc" explore run --kernel "$kernel" --initrd "$work/etcd.initrd" --vms 4 --clients 3 \
    --mem 512M --mode fault --seed "$SEED" --rounds "$rounds" --branches 3 \
    --faults partition,heal,kill,pause \
    --branch-time "$BRANCH" --check linearizable --output "$work/$name" \
    --append "ETCD_WORKLOAD=none etcd_members=3 etcd_consistency=$cons cc.tests=3
              cc.test_template=kv cc.test_duration=60 cc.test_parallel=3
              cc.setup_wait=\"$setup_wait\"" "$@" >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  echo "# explore $name (etcd_consistency=$cons): exit $rc, $((SECONDS - t0)) s wall"
  grep -E "^(explored|first bug)" "$work/$name.out" | sed 's/^/#   /'
  return $rc
}
py() { python3 -c "$1" "${@:2}"; }

if [ $part != l ]; then
# S: serializable reads
explore s s "$S_ROUNDS" --stop-after 1
rc=$?
bug=$work/s/bug_1.json
if [ $rc = 1 ] && [ -f "$bug" ]; then
  ok "S: the explorer finds a bug with serializable reads (exit 1, bug_1.json)"
else
  not_ok "S: the explorer finds a bug with serializable reads (exit 1, bug_1.json)" "exit $rc"
  diag_file "$work/s.err"
fi
sed -n '1,40p' "$work/s/bug_1.txt" 2>/dev/null | sed 's/^/#   /'
check "S: it is the checker's property, a stale read" py '
import json, sys
b = json.load(open(sys.argv[1]))
ok = (b["failure"]["message"] == "the operation history is linearizable"
      and "stale read" in b["history"]["explain"] and len(b["history"]["witness"]) >= 4)
sys.exit(0 if ok else 1)' "$bug"
check "S: its faults spare the client (VM 3) and its partitions let it reach every side" py '
import json, sys
fs = json.load(open(sys.argv[1]))["recipe"]["schedule"]["faults"]
ok = bool(fs)
for f in fs:
    ok &= f.get("vm") != 3
    if f["type"] == "partition":
        ok &= f.get("bridge") == [3] and all(3 not in s for s in f["sides"])
sys.exit(0 if ok else 1)' "$bug"
readable() {   # the report in words: sub-history, schedule, command
  local t=$work/s/bug_1.txt
  grep -q "^failing sub-history" "$t" && grep -q '"f":"read"' "$t" &&
    grep -q "fault    at " "$t" && grep -q "^reproduce: chaoscontrol reproduce --bug $bug$" "$t"
}
check "S: bug_1.txt has the sub-history, the schedule and the reproduce command" readable

t0=$SECONDS
"$cc" minimize --bug "$bug" --output "$work/min.json" >"$work/min.out" 2>"$work/min.err"
rc=$?
echo "# minimize: exit $rc, $((SECONDS - t0)) s wall"
sed 's/^/#   /' "$work/min.err" | grep -v "TSC frequency"
grep "^minimized" "$work/min.out" | sed 's/^/#   /'
check "minimize: exit 0" test $rc = 0
check "minimize: the same checker failure (a stale read), no more faults, no later end" py '
import json, sys
a, m = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def ns(t): return int(t[:-2]) if t.endswith("ns") else None
ok = (m["failure"]["message"] == a["failure"]["message"] and "stale read" in m["history"]["explain"]
      and len(m["recipe"]["schedule"]["faults"]) <= len(a["recipe"]["schedule"]["faults"])
      and ns(m["recipe"]["end"]) <= ns(a["recipe"]["end"]))
sys.exit(0 if ok else 1)' "$bug" "$work/min.json"
check "minimize: min.txt names the file it was minimized from" grep -q "minimized from $bug" "$work/min.txt"

t0=$SECONDS
"$cc" reproduce --bug "$work/min.json" >"$work/rep.out" 2>&1
rc=$?
echo "# reproduce: exit $rc, $((SECONDS - t0)) s wall"
if [ $rc = 0 ] && grep -q "^reproduced" "$work/rep.out"; then
  ok "reproduce: the minimized bug fails the same way"
else
  not_ok "reproduce: the minimized bug fails the same way" "exit $rc"
  diag_file "$work/rep.out"
fi
check "reproduce: prints the checker's stale read again" grep -q "^history: .*stale read" "$work/rep.out"

fi

if [ $part != s ]; then
# L: linearizable reads, the control
explore l l "$L_ROUNDS"
rc=$?
check "L: linearizable reads: no bug in $L_ROUNDS rounds of 3 branches (exit 0)" \
  test $rc = 0 -a -z "$(ls "$work/l"/bug_*.json 2>/dev/null)"
check "L: every branch's history was judged linearizable, and partitions were among its faults" py '
import json, sys
a = json.load(open(sys.argv[1]))["assertions"]
r = [x for x in a if x["message"] == "the operation history is linearizable"]
print("#", r)
ok = len(r) >= 1 and all(x["verdict"] == "passed" for x in r) and max(x["branches_hit"] for x in r) == 3 * int(sys.argv[3])
rep = open(sys.argv[2]).read()
sys.exit(0 if ok and "partition" in rep else 1)' "$work/l/assertions.json" "$work/l/checkpoint.json" "$L_ROUNDS"
fi
tap_done
