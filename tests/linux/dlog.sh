#!/usr/bin/env bash
# Linux tier: the determinism log (issue 16; docs/dlog.md). Run it where KVM
# can run Linux guests: tools/kvm-host -- bash dlog.sh.
#
# A 3-VM Raft simulation of 1 s virtual time with --dlog (a register dump
# every 5000 exits), twice with seed 1, once with seed 2, and once with
# seed 1 and no dlog:
#  - the two seed-1 dlogs are byte-identical and `dlog diff` says the same
#    (exit 0); seed 2's differs: `dlog diff` reports the first divergence
#    with context on both sides (exit 1);
#  - `dlog stats` counts as many exits per VM as the simulation's own
#    report (sim --json, "exits"), and the log has register dumps, SDK
#    events, setup snapshots and an end mark per VM;
#  - the exit trace hashes and the simulation hash are the same with and
#    without --dlog (writing it perturbs nothing).
# Then the dlogs of bugs: a short fault-mode exploration with --dlog-bugs
# (leader_no_stepdown, which most fault schedules hit) and
# `reproduce --bug bug_1.json --dlog r.dlog`:
#  - bug_1.dlog is written beside bug_1.json, named in bug_1.txt and in the
#    explorer's bug line;
#  - `dlog diff bug_1.dlog r.dlog` reports no difference (both logs start at
#    setup: the explorer replays the recipe from its setup snapshot,
#    reproduce from a fresh boot that reached setup);
#  - the log is of the bug's execution: it starts after setup, has the
#    failing VM's failure SDK event at the bug file's exit and virtual time,
#    a register dump every 200 exits (--dlog-regs) and an end mark per VM.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/raft.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/dlog.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 17

sim() {   # sim NAME ARGS...: stdout to NAME.out, stderr to NAME.err, report NAME.json
  local name=$1 rc start=$(date +%s)
  shift
  timeout -k 10 300 "$cc" sim --vms 3 --kernel "$kernel" --initrd "$initrd" \
    --append "raft_id={id}" --duration 1s --json "$work/$name.json" "$@" \
    >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  echo "# sim $name: exit $rc, $(( $(date +%s) - start )) s wall"
  [ $rc = 0 ] || { diag_file "$work/$name.out"; diag_file "$work/$name.err"; }
  return $rc
}
json() {   # json FILE EXPR: evaluate a Python expression over a JSON file
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

sim a --seed 1 --dlog "$work/a.dlog" --dlog-regs 5000; rc=$?
check "sim --dlog exits 0 and writes the log" [ $rc = 0 -a -s "$work/a.dlog" ]
sim b --seed 1 --dlog "$work/b.dlog" --dlog-regs 5000
sim c --seed 2 --dlog "$work/c.dlog" --dlog-regs 5000
sim n --seed 1

check "the same seed twice: byte-identical dlogs" cmp -s "$work/a.dlog" "$work/b.dlog"
"$cc" dlog diff "$work/a.dlog" "$work/b.dlog" >"$work/same.txt" 2>&1; rc=$?
diag_file "$work/same.txt"
check "dlog diff of the same seed: exit 0, 'same'" \
  bash -c '[ "$1" = 0 ] && grep -q "^same: " "$2"' _ "$rc" "$work/same.txt"

"$cc" dlog diff --context 3 "$work/a.dlog" "$work/c.dlog" >"$work/diff.txt" 2>&1; rc=$?
diag_file "$work/diff.txt"
check "dlog diff of another seed: exit 1" [ $rc = 1 ]
if grep -q '^first divergence at record #[0-9]' "$work/diff.txt" &&
   grep -q '^  before (the same in both):' "$work/diff.txt" &&
   [ "$(grep -c '^  > vm' "$work/diff.txt")" = 2 ]; then
  ok "the first divergence is shown with context before it and both sides after it"
else not_ok "the first divergence is shown with context before it and both sides after it"; fi

"$cc" dlog stats --json "$work/a.dlog" >"$work/stats.json" 2>"$work/stats.err"; rc=$?
check "dlog stats --json exits 0" [ $rc = 0 ]
want=$(json "$work/a.json" "' '.join(str(v['exits']) for v in r['vms'])")
got=$(json "$work/stats.json" "' '.join(str(v['exits']) for v in r['by_vm'])")
echo "# exits per VM: sim report $want, dlog stats $got"
check "dlog stats: exits per VM agree with the simulation's report" [ -n "$want" -a "$want" = "$got" ]
check "dlog stats: the exits by reason add up to the exits" \
  [ "$(json "$work/stats.json" "sum(r['by_reason'].values()) == r['exits']")" = True ]
t=$(json "$work/stats.json" "' '.join(str(r['records_by_type'][k]) for k in ('regs','sdk','mark'))")
echo "# regs sdk mark records: $t"
read -r nregs nsdk nmark <<<"$t"
check "the log has register dumps, SDK events and marks (setup snapshot + end per VM)" \
  [ "${nregs:-0}" -gt 0 -a "${nsdk:-0}" -gt 0 -a "${nmark:-0}" -ge 6 ]

"$cc" dlog dump --json --vm 1 --from 100 --count 50 "$work/a.dlog" >"$work/dump.jsonl"; rc=$?
check "dlog dump --json: 50 JSON lines of VM 1 from exit 100" \
  python3 -c "
import json,sys
l=[json.loads(x) for x in open(sys.argv[1])]
assert sys.argv[2]=='0' and len(l)==50 and all(r['vm']==1 and r['exit']>=100 for r in l)" "$work/dump.jsonl" "$rc"

ha=$(json "$work/a.json" "r['hash'] + ' ' + ' '.join(v['trace_hash'] for v in r['vms'])")
hn=$(json "$work/n.json" "r['hash'] + ' ' + ' '.join(v['trace_hash'] for v in r['vms'])")
echo "# with dlog:    $ha"
echo "# without dlog: $hn"
check "the trace and simulation hashes are the same with and without --dlog" \
  [ -n "$ha" -a "$ha" = "$hn" ]

# ---- dlogs of bugs: explore --dlog-bugs, reproduce --dlog ----
t0=$SECONDS
timeout -k 10 600 "$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 3 \
  --output "$work/x" --mode fault --seed 0 --rounds 4 --branches 4 --stop-after 1 \
  --append "raft_id={id} raft_bug=leader_no_stepdown" --dlog-bugs --dlog-regs 200 \
  >"$work/x.out" 2>"$work/x.err"
rc=$?
echo "# explore --dlog-bugs (leader_no_stepdown, fault mode): exit $rc in $((SECONDS - t0)) s"
bug=$work/x/bug_1.json
if [ $rc = 1 ] && [ -s "$bug" ] && [ -s "$work/x/bug_1.dlog" ]; then
  ok "explore --dlog-bugs finds the bug and writes bug_1.dlog beside bug_1.json"
else
  not_ok "explore --dlog-bugs finds the bug and writes bug_1.dlog beside bug_1.json" "exit $rc"
  diag_file "$work/x.err"
fi
echo "# bug_1.dlog: $(stat -c %s "$work/x/bug_1.dlog" 2>/dev/null) bytes"
check "bug_1.txt and the explorer's bug line name bug_1.dlog" \
  bash -c 'grep -q "^determinism log: bug_1.dlog" "$1/x/bug_1.txt" &&
           grep -q "^chaoscontrol explore run: bug 1: .*bug_1.json, .*bug_1.dlog$" "$1/x.err"' \
  _ "$work"
ls "$work/x"/bug_1.dlog.* >/dev/null 2>&1; rc=$?
check "no temporary file is left beside it" [ $rc != 0 ]

t0=$SECONDS
timeout -k 10 300 "$cc" reproduce --bug "$bug" --dlog "$work/r.dlog" --dlog-regs 200 \
  >"$work/rp.out" 2>"$work/rp.err"
rc=$?
echo "# reproduce --dlog: exit $rc in $((SECONDS - t0)) s"
[ $rc = 0 ] || { diag_file "$work/rp.out"; diag_file "$work/rp.err"; }
check "reproduce --dlog reproduces the bug and writes the log" [ $rc = 0 -a -s "$work/r.dlog" ]
"$cc" dlog diff "$work/x/bug_1.dlog" "$work/r.dlog" >"$work/bugdiff.txt" 2>&1; rc=$?
diag_file "$work/bugdiff.txt"
check "dlog diff bug_1.dlog r.dlog: no difference (exit 0, 'same')" \
  bash -c '[ "$1" = 0 ] && grep -q "^same: " "$2"' _ "$rc" "$work/bugdiff.txt"

"$cc" dlog dump --json "$work/x/bug_1.dlog" >"$work/bug.jsonl" 2>"$work/bugdump.err"; rc=$?
python3 - "$work/bug.jsonl" "$bug" "$rc" >"$work/bugcheck.txt" 2>&1 <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
b = json.load(open(sys.argv[2]))
f = b["failure"]; vm = f["vm"]; n = b["target"]["vms"]
assert sys.argv[3] == "0", "dlog dump failed"
exits = [r for r in recs if r["type"] == "exit"]
marks = [r for r in recs if r["type"] == "mark"]
print("records %d, exits %d, first exit record: vm %d exit %d" %
      (len(recs), len(exits), exits[0]["vm"], int(exits[0]["exit"])))
# it starts after setup: no boot (exit 1), no setup snapshot mark
assert all(int(r["exit"]) > 1 for r in exits), "an exit of the boot"
assert not [m for m in marks if m["mark"] != "end"], "a mark other than the end marks"
assert sorted(m["vm"] for m in marks) == list(range(n)), "not one end mark per VM"
fails = [r for r in recs
         if r["type"] == "sdk" and r["vm"] == vm and r.get("kind") == "assertion_failed"]
print("failure events of vm %d: %s; the bug file: exit %s, vm time %s" %
      (vm, [(r["exit"], r["vtime"]) for r in fails], f["vm_exit"], f["vm_vtime_ns"]))
assert fails and int(fails[-1]["exit"]) == int(f["vm_exit"]) and \
    int(fails[-1]["vtime"]) == int(f["vm_vtime_ns"]), "the failure is not where the bug file says"
regs = [r for r in recs if r["type"] == "regs"]
assert regs and all(int(r["exit"]) % 200 == 0 for r in regs), "no dumps every 200 exits"
print("register dumps: %d" % len(regs))
PY
rc=$?
diag_file "$work/bugcheck.txt"
check "bug_1.dlog is the bug's execution: from setup to the failure at the bug file's exit and time" \
  [ $rc = 0 ]
tap_done
