#!/usr/bin/env bash
# Linux tier (issue 15, item 1): the explorer branches from the exact setup
# point. guests/setup-choice draws four choices of four in the first
# microseconds after cc_setup_complete; with choice_bug=1 one sequence of
# the 256 (2 0 3 1) fails an ALWAYS. Input-tree exploration must find it
# (the setup snapshot is taken at the setup_complete exit, before those
# draws; before the fix it was taken at the next quantum boundary, after
# them, and every branch saw 0 assertion states); the control
# (choice_bug=0) finds nothing in the same budget. Run it where KVM can run
# Linux guests:  tools/kvm-host -- bash tests/linux/setup-choice.sh
#
# Measured (QEMU test host): with the guest as it is now, seed 0 finds the
# sequence after 626 branches (~45 s); an earlier version of the guest (no
# history events) was found by seeds 0-7 in 5 of 8 within 320 branches.
# The search is not much better than blind here (see the issue 15 note).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/setup-choice.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/setup-choice.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 23

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# 0. the guest fails for exactly that sequence (run with overrides)
"$cc" run --kernel "$kernel" --initrd "$initrd" --append choice_bug=1 --json "$work/run.json" \
  --override 0=2 --override 1=0 --override 2=3 --override 3=1 --max-exits 2000000 \
  >"$work/run.out" 2>&1
rc=$?
check "chaoscontrol run with the choices 2 0 3 1 fails the ALWAYS (exit $rc)" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['failure']['message']=='the choices are never 2 0 3 1' else 1)" "$work/run.json"

explore() {   # explore DIR BUG [ARGS...]
  local dir=$1 bug=$2
  shift 2
  "$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 1 --output "$dir" \
    --mode input-tree --seed 0 --rounds 100 --branches 8 --branch-time 100ms --stop-after 1 \
    --append "choice_bug=$bug" "$@" >"$dir.out" 2>"$dir.err"
}

# 1. the planted sequence is found
t0=$SECONDS
explore "$work/bug" 1
rc=$?
echo "# explore choice_bug=1: exit $rc in $((SECONDS - t0)) s"
grep -E "^(explored|first bug)" "$work/bug.out" | sed 's/^/#   /'
if [ $rc = 1 ] && [ -f "$work/bug/bug_1.json" ]; then
  ok "input-tree exploration finds the failing choice sequence (exit 1, bug_1.json)"
else
  not_ok "input-tree exploration finds the failing choice sequence (exit 1, bug_1.json)" "exit $rc"
  diag_file "$work/bug.err"
fi
check "the bug is the planted ALWAYS with the choices 2 0 3 1" \
  python3 -c "import json,sys; f=json.load(open(sys.argv[1]))['failure']; sys.exit(0 if f['message']=='the choices are never 2 0 3 1' and json.loads(f['details'])['choices']==[2,0,3,1] else 1)" "$work/bug/bug_1.json"
# branches from the setup point see the draws: the REACHABLE right after
# them is hit (before the fix: unexercised in every branch)
check "branches reached the assertions right after setup" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; r=[x for x in a if x['message']=='the choices after setup are made'][0]; print('#', r); sys.exit(0 if r['verdict']=='passed' and r['branches_hit']>0 else 1)" "$work/bug/assertions.json"
"$cc" reproduce --bug "$work/bug/bug_1.json" >"$work/rep.out" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "^reproduced" "$work/rep.out"; then
  ok "reproduce: the bug fails the same way"
else
  not_ok "reproduce: the bug fails the same way" "exit $rc"
  diag_file "$work/rep.out"
fi
nov=$(json "$work/bug/bug_1.json" 'len(d["recipe"]["overrides"])' 2>/dev/null)
check "the bug's recipe overrides choices after setup (${nov:-?} overrides, no faults)" \
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['recipe']; sys.exit(0 if r['overrides'] and not r['schedule']['faults'] and all(o['index']<4 for o in r['overrides']) else 1)" "$work/bug/bug_1.json"

# 2. the control: same budget, nothing to find
t0=$SECONDS
explore "$work/ctl" 0 --check linearizable
rc=$?
echo "# explore choice_bug=0: exit $rc in $((SECONDS - t0)) s"
grep -E "^explored" "$work/ctl.out" | sed 's/^/#   /'
check "the control finds no bug in 800 branches (exit 0)" test $rc = 0
check "the control writes no bug file" test ! -e "$work/ctl/bug_1.json"
check "the control's ALWAYS was evaluated and passed" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; r=[x for x in a if x['message']=='the choices are never 2 0 3 1'][0]; sys.exit(0 if r['verdict']=='passed' and r['branches_hit']>0 else 1)" "$work/ctl/assertions.json"
check "the control's search reached the prefix 2 0 (guided by the SOMETIMES)" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; r=[x for x in a if x['message']=='choices start 2 0'][0]; sys.exit(0 if r['verdict']=='passed' else 1)" "$work/ctl/assertions.json"
check "the control judged every branch's history linearizable" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; r=[x for x in a if x['message']=='the operation history is linearizable'][0]; print('#', r); sys.exit(0 if r['verdict']=='passed' and r['branches_hit']==800 else 1)" "$work/ctl/assertions.json"

# 3. a history checker failure: with choice_bug=2 the guest's operation
# history has a stale read when its first choice is 1
explore "$work/lin" 2 --check linearizable
rc=$?
grep -E "^(explored|first bug)" "$work/lin.out" | sed 's/^/#   /'
check "explore --check linearizable finds the stale read (exit 1)" \
  test $rc = 1 -a -f "$work/lin/bug_1.json"
check "the bug is the checker's property, its witness has the null read, the history is beside it" \
  python3 -c "import json,sys,os; d=json.load(open(sys.argv[1])); f=d['failure']; h=d['history']; print('#', h.get('explain')); sys.exit(0 if f['message']=='the operation history is linearizable' and f['file']=='chaoscontrol:checker' and any(w.get('f')=='read' and w.get('type')=='ok' and w.get('value') is None for w in h['witness']) and h['operations']==2 and os.path.getsize(os.path.join(os.path.dirname(sys.argv[1]), h['file']))>0 else 1)" "$work/lin/bug_1.json"
"$cc" reproduce --bug "$work/lin/bug_1.json" >"$work/lrep.out" 2>&1
rc=$?
check "reproduce re-checks the history: same failure, witness printed" \
  sh -c "test $rc = 0 && grep -q '^reproduced' '$work/lrep.out' && grep -q 'failing sub-history' '$work/lrep.out'"
"$cc" minimize --bug "$work/lin/bug_1.json" --output "$work/lmin.json" >"$work/lmin.out" 2>&1
rc=$?
check "minimize keeps the checker's failure (one override left: the first choice)" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['recipe']; sys.exit(0 if d['failure']['message']=='the operation history is linearizable' and len(r['overrides'])==1 and r['overrides'][0]['index']==0 else 1)" "$work/lmin.json"
check "the control of case 3 (choice_bug=0, same budget) has no history violation" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; r=[x for x in a if x['message']=='the operation history is linearizable'][0]; sys.exit(0 if r['verdict']=='passed' else 1)" "$work/ctl/assertions.json"

# 4. the same with 2 workers sharing the exploration through a private
# Redis, --dlog-bugs: the bug's operation history and its determinism log
# travel through Redis with the bug file (the worker that found it may be
# on another machine), and come out as bug_1.history.jsonl and bug_1.dlog
t0=$SECONDS
explore "$work/wlin" 2 --check linearizable --workers 2 --dlog-bugs
rc=$?
echo "# explore --workers 2 choice_bug=2: exit $rc in $((SECONDS - t0)) s"
check "2 workers find the stale read (exit 1), with the history and the dlog beside the bug" \
  python3 -c "import json,sys,os; p=sys.argv[1]; d=json.load(open(p)); h=d['history']; print('#', h['file']); sys.exit(0 if $rc==1 and d['failure']['message']=='the operation history is linearizable' and h['file']=='bug_1.history.jsonl' and 'bug_1.dlog' in open(p[:-5]+'.txt').read() and os.path.getsize(os.path.join(os.path.dirname(p), 'bug_1.history.jsonl'))>0 and os.path.getsize(os.path.join(os.path.dirname(p), 'bug_1.dlog'))>0 else 1)" "$work/wlin/bug_1.json"
check "the exported history holds the witness's operations" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); ops=[json.loads(l) for l in open(sys.argv[2]) if l.strip()]; w=d['history']['witness']; sys.exit(0 if w and all(any(all(o.get(k)==x.get(k) for k in ('f','type','value','process')) for o in ops) for x in w) else 1)" "$work/wlin/bug_1.json" "$work/wlin/bug_1.history.jsonl"
"$cc" reproduce --bug "$work/wlin/bug_1.json" --dlog "$work/wrep.dlog" >"$work/wrep.out" 2>&1
rc=$?
check "the exported bug reproduces, its history re-checked (exit $rc)" \
  sh -c "test $rc = 0 && grep -q '^reproduced' '$work/wrep.out' && grep -q 'failing sub-history' '$work/wrep.out'"
"$cc" dlog diff "$work/wlin/bug_1.dlog" "$work/wrep.dlog" >"$work/wdiff.out" 2>&1
rc=$?
sed 's/^/#   /' "$work/wdiff.out" | head -5
check "the exported dlog is the reproduction's (dlog diff: exit 0)" test $rc = 0

# 5. explore resume --workers: 2 more rounds of the shared exploration of
# case 4 (its Redis restarted from wlin/redis), on 2 workers; and a
# single-process directory is not resumed with --workers
b0=$(json "$work/wlin/checkpoint.json" 'd["branches_done"]' 2>/dev/null)
"$cc" explore resume --corpus "$work/wlin" --rounds 2 --workers 2 >"$work/wres.out" 2>"$work/wres.err"
rc=$?
sed 's/^/#   /' "$work/wres.err" | grep -v "^#   \[" | head -5
check "explore resume --workers 2: 2 more rounds after round $(( (${b0:-0} + 7) / 8 )) (exit $rc: the bug so far)" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); b=d['branches_done']; print('#', $b0, '->', b); sys.exit(0 if $rc==1 and b==(($b0+7)//8+2)*8 and sum(h['branches'] for h in d['history'])==b else 1)" "$work/wlin/checkpoint.json"
check "... the bug files are still there (the property is found once)" \
  sh -c "test -s '$work/wlin/bug_1.json' && test ! -e '$work/wlin/bug_2.json'"
"$cc" explore resume --corpus "$work/lin" --rounds 1 --workers 2 >"$work/wres2.out" 2>&1
rc=$?
check "a directory explored by one process is not resumed with --workers (exit 2, says so)" \
  sh -c "test $rc = 2 && grep -q 'has no redis/' '$work/wres2.out'"
