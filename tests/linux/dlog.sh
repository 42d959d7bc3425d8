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
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/raft.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/dlog.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 11

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
tap_done
