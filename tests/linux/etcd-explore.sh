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
  both) tap_plan 13 ;;
  *) echo "usage: $0 [s|l|both]" >&2; exit 2 ;;
esac

etcd_bin=$(command -v etcd) etcdctl_bin=$(command -v etcdctl)
if [ -z "$etcd_bin" ] || [ -z "$etcdctl_bin" ]; then
  tap_bail "etcd or etcdctl missing: scripts/deps.sh installs etcd-server and etcd-client"
fi

# Each exploration is a declarative test (docs/tests.md): the example's
# file says the image (chaoscontrol pack of etcd, etcdctl, start.sh and the
# template), the VMs, the faults, the budget and the verdict expected.
export ETCD_X_SEED=$SEED ETCD_X_BRANCH=$BRANCH ETCD_X_S_ROUNDS=$S_ROUNDS ETCD_X_L_ROUNDS=$L_ROUNDS
ctest() {   # ctest NAME: chaoscontrol test examples/NAME.yaml into $work/NAME
  local t0=$SECONDS
  "$cc" test --output "$work" --junit "$work/$1.xml" "$src/examples/$1.yaml" \
    >"$work/$1.out" 2>"$work/$1.err"
  local rc=$?
  echo "# chaoscontrol test examples/$1.yaml: exit $rc, $((SECONDS - t0)) s wall"
  sed 's/^/#   /' "$work/$1.out"
  grep -E "^chaoscontrol explore run: (booted|round)" "$work/$1/test.log" 2>/dev/null |
    sed 's/^/#   /'
  return $rc
}
junit_ok() {  # junit_ok FILE FAILURES: valid JUnit XML, one test, so many failures
  xmllint --noout --schema "$src/tests/fixtures/junit/junit.xsd" "$1" 2>/dev/null &&
    python3 -c 'import sys, xml.etree.ElementTree as E
s = E.parse(sys.argv[1]).getroot().find("testsuite")
sys.exit(not (s.get("tests") == "1" and s.get("failures") == sys.argv[2] and s.get("errors") == "0"))' "$1" "$2"
}
py() { python3 -c "$1" "${@:2}"; }

if [ $part != l ]; then
# S: serializable reads
ctest etcd-stale-read
rc=$?
sdir=$work/etcd-stale-read
bug=$sdir/bug_1.json
if [ $rc = 0 ] && [ -f "$bug" ] && grep -q "^PASS  *etcd-stale-read  *found the expected bug" "$work/etcd-stale-read.out"; then
  ok "S: the test passes: the explorer finds the expected bug with serializable reads (bug_1.json)"
else
  not_ok "S: the test passes: the explorer finds the expected bug with serializable reads (bug_1.json)" "exit $rc"
  diag_file "$work/etcd-stale-read.err"
  tail -n 30 "$sdir/test.log" 2>/dev/null | sed 's/^/#   /'
fi
check "S: its JUnit report is valid (the JUnit schema), one test, no failure" \
  junit_ok "$work/etcd-stale-read.xml" 0
sed -n '1,40p' "$sdir/bug_1.txt" 2>/dev/null | sed 's/^/#   /'
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
  local t=$sdir/bug_1.txt
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
ctest etcd-linearizable
rc=$?
ldir=$work/etcd-linearizable
check "L: linearizable reads: the test passes, no bug in $L_ROUNDS rounds of 3 branches" \
  test $rc = 0 -a -z "$(ls "$ldir"/bug_*.json 2>/dev/null)"
check "L: its JUnit report is valid, one test, no failure" junit_ok "$work/etcd-linearizable.xml" 0
check "L: every branch's history was judged linearizable, and partitions were among its faults" py '
import json, sys
a = json.load(open(sys.argv[1]))["assertions"]
r = [x for x in a if x["message"] == "the operation history is linearizable"]
print("#", r)
ok = len(r) >= 1 and all(x["verdict"] == "passed" for x in r) and max(x["branches_hit"] for x in r) == 3 * int(sys.argv[3])
rep = open(sys.argv[2]).read()
sys.exit(0 if ok and "partition" in rep else 1)' "$ldir/assertions.json" "$ldir/checkpoint.json" "$L_ROUNDS"
fi
tap_done
