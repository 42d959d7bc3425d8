#!/usr/bin/env bash
# Linux tier (issue 8): the explorer finds a planted Raft bug, the minimizer
# shrinks it, the reproducer replays it, an exploration resumes from its
# checkpoint, and the control (raft_bug=none) finds nothing in the same
# budget. Run it where KVM can run Linux guests:
#   tools/kvm-host -- bash tests/linux/explore.sh
#
# Budget (measured in the QEMU test host): double_vote is found in input-tree
# mode at branch 3 of round 1 (seed 0); minimizing takes ~16 replays; in
# hybrid mode at branch 24 (round 3, seed 0, 8 branches a round, 37 s).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/raft.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/explore-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 25

# json FILE EXPR: a value from a JSON file (python3 is a build dependency)
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

explore() {   # explore DIR BUG ARGS...
  local dir=$1 bug=$2
  shift 2
  "$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 3 --output "$dir" \
    --mode input-tree --seed 0 --append "raft_id={id} raft_bug=$bug" "$@"
}

# 1. find double_vote
t0=$SECONDS
explore "$work/dv" double_vote --rounds 3 --branches 4 --stop-after 1 \
  >"$work/dv.out" 2>"$work/dv.err"
rc=$?
echo "# explore (double_vote): exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/dv.out"
if [ $rc = 1 ] && [ -f "$work/dv/bug_1.json" ]; then
  ok "the explorer finds double_vote and writes bug_1.json (exit 1)"
else
  not_ok "the explorer finds double_vote and writes bug_1.json (exit 1)" "exit $rc"
  diag_file "$work/dv.err"
fi
msg=$(json "$work/dv/bug_1.json" 'd["failure"]["message"]' 2>/dev/null)
check "the failure is a safety assertion (election safety)" \
  test "${msg#election safety}" != "$msg"
check "report.txt, assertions.json and checkpoint.json are written" \
  test -s "$work/dv/report.txt" -a -s "$work/dv/assertions.json" -a -s "$work/dv/checkpoint.json"
check "report.txt lists the bug" grep -q "election safety" "$work/dv/report.txt"
check "assertions.json has a failed verdict for it" \
  python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['assertions']; sys.exit(0 if any(x['verdict']=='failed' and x['message'].startswith('election safety') for x in a) else 1)" "$work/dv/assertions.json"

# 2. reproduce the bug as found
t0=$SECONDS
"$cc" reproduce --bug "$work/dv/bug_1.json" >"$work/rep.out" 2>"$work/rep.err"
rc=$?
echo "# reproduce bug_1.json: exit $rc in $((SECONDS - t0)) s"
if [ $rc = 0 ] && grep -q "^reproduced: the same failure at the same virtual time" "$work/rep.out"; then
  ok "reproduce: bug_1.json fails the same way at the same virtual time"
else
  not_ok "reproduce: bug_1.json fails the same way at the same virtual time" "exit $rc"
  diag_file "$work/rep.out"
  diag_file "$work/rep.err"
fi

# 3. minimize it
t0=$SECONDS
"$cc" minimize --bug "$work/dv/bug_1.json" --output "$work/min.json" \
  >"$work/min.out" 2>"$work/min.err"
rc=$?
echo "# minimize: exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/min.out"
check "minimize succeeds and writes min.json" test $rc = 0 -a -s "$work/min.json"
size() { json "$1" 'len(d["recipe"]["schedule"]["faults"]) + len(d["recipe"]["overrides"])'; }
orig=$(size "$work/dv/bug_1.json" 2>/dev/null || echo -1)
small=$(size "$work/min.json" 2>/dev/null || echo 999)
echo "# recipe size (faults + overrides): $orig -> $small"
check "the minimized recipe is no larger than the original ($orig -> $small)" \
  test "$small" -le "$orig" -a "$small" -ge 1
id1=$(json "$work/dv/bug_1.json" 'd["failure"]["assertion_id"]' 2>/dev/null)
id2=$(json "$work/min.json" 'd["failure"]["assertion_id"]' 2>/dev/null)
check "the minimized bug fails the same assertion ($id1)" test -n "$id1" -a "$id1" = "$id2"

# 4. reproduce the minimized bug once more (minimize verified it once from
# a fresh boot already): same failure, same virtual time
want=$(json "$work/min.json" 'd["failure"]["sim_vtime_ns"]' 2>/dev/null)
for i in 1; do
  t0=$SECONDS
  "$cc" reproduce --bug "$work/min.json" --serial >"$work/r$i.out" 2>"$work/r$i.err"
  rc=$?
  echo "# reproduce min.json run $i: exit $rc in $((SECONDS - t0)) s"
  if [ $rc = 0 ] && grep -q "^reproduced:" "$work/r$i.out" && grep -q "^---- vm 2 console" "$work/r$i.out"; then
    ok "reproduce min.json (run $i): same failure at $want ns, consoles printed"
  else
    not_ok "reproduce min.json (run $i): same failure at $want ns, consoles printed" "exit $rc"
    grep -v "^\[" "$work/r$i.out" | tail -5 | sed 's/^/#   | /'
    diag_file "$work/r$i.err"
  fi
done

# 5. resume after a kill mid-round: the checkpoint on disk is the one from
# before the round (round 0, no bugs), bug_1.json was written during it.
cp "$work/dv/bug_1.json" "$work/bug_1.before"
python3 - "$work/dv/checkpoint.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["rounds_done"], d["bugs"], d["history"], d["max_bug_number"] = 0, [], [], 0
d["points"] = [p for p in d["points"] if p["id"] == 1]
d["lineage"] = []
json.dump(d, open(sys.argv[1], "w"))
EOF
t0=$SECONDS
"$cc" explore resume --corpus "$work/dv" --rounds 2 --stop-after 50 \
  >"$work/res.out" 2>"$work/res.err" &
pid=$!
# ... and this resume is killed for real (SIGKILL) in its second round, as
# soon as the checkpoint says the first one is done.
r=
for _ in $(seq 1 1200); do
  r=$(grep -o '"rounds_done": *[0-9]*' "$work/dv/checkpoint.json" 2>/dev/null | grep -o '[0-9]*$')
  [ "$r" = 1 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.5
done
kill -9 $pid 2>/dev/null
{ wait $pid; } 2>/dev/null  # no "Killed" line from bash: it would break the TAP stream
rc=$?
echo "# resume: killed (exit $rc) $((SECONDS - t0)) s in, checkpoint at round ${r:-?}"
sed 's/^/#   /' "$work/res.out"
check "the first resume was killed by SIGKILL in its second round (checkpoint at round 1)" \
  test $rc = 137 -a "$r" = 1
check "the bug file written after the checkpoint is adopted, not lost" \
  grep -q "adopted .*bug_1.json" "$work/res.err"
check "after the kill the checkpoint is whole JSON and every bug file it lists exists" \
  python3 -c "import json,os,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if all(os.path.exists(os.path.join(os.path.dirname(sys.argv[1]), b['file'])) for b in d['bugs']) else 1)" "$work/dv/checkpoint.json"
nbugs=$(json "$work/dv/checkpoint.json" 'len(d["bugs"])' 2>/dev/null)
t0=$SECONDS
"$cc" explore resume --corpus "$work/dv" --rounds 1 --stop-after 50 \
  >"$work/res2.out" 2>"$work/res2.err"
rc=$?
echo "# second resume: exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/res2.out"
after=$(json "$work/dv/checkpoint.json" 'd["rounds_done"]' 2>/dev/null)
bugs=$(json "$work/dv/checkpoint.json" '[b["number"] for b in d["bugs"]]' 2>/dev/null)
check "the second resume continues the round count (1 -> $after) and exits 1 (bugs known)" \
  test $rc = 1 -a "$after" = 2
check "no recorded bug is lost ($nbugs before, bugs now: $bugs)" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d['bugs']) >= int(sys.argv[2]) else 1)" "$work/dv/checkpoint.json" "${nbugs:-999}"
check "it stays bug 1 in the checkpoint" \
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['bugs'][0]['number']==1 and d['bugs'][0]['file']=='bug_1.json' else 1)" "$work/dv/checkpoint.json"
check "bug_1.json is byte-identical" cmp -s "$work/bug_1.before" "$work/dv/bug_1.json"

# 6. the control: raft_bug=none, the budget that found double_vote
t0=$SECONDS
explore "$work/none" none --rounds 1 --branches 4 >"$work/none.out" 2>"$work/none.err"
rc=$?
echo "# explore (none): exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/none.out"
if [ $rc = 0 ] && ! ls "$work/none"/bug_*.json >/dev/null 2>&1; then
  ok "the control (raft_bug=none) finds no failure in the same budget"
else
  not_ok "the control (raft_bug=none) finds no failure in the same budget" "exit $rc"
  diag_file "$work/none.err"
fi
# 7. fault mode with the reactive rule in every branch, on the control:
# the rule fires, points made inside windows and re-made by replay (which
# compares the simulation hash with the recorded one) never diverge, and
# the control still finds nothing
t0=$SECONDS
explore "$work/react" none --mode fault --react 100 --rounds 3 --branches 4 \
  >"$work/react.out" 2>"$work/react.err"
rc=$?
echo "# explore (none, fault mode, --react 100): exit $rc in $((SECONDS - t0)) s"
grep -E "reactive|inside a window|^ +[0-9]+ +[0-9]+ " "$work/react/report.txt" | sed 's/^/#   /'
fired=$(grep -o "it fired [0-9]* faults" "$work/react/report.txt" | grep -o "[0-9]*")
check "the reactive rule fired faults (${fired:-none})" test "${fired:-0}" -gt 0
mids=$(grep -o "^ *[0-9]* points made inside a window" "$work/react/report.txt" | grep -o "[0-9]*")
# report columns: round branches wall_s br/s edges +new asserts +new frontier +pts bugs remade diverged
# (no process substitution: the test host has no /dev/fd)
sums=$(awk '/^round branches/ {on=1; next} on && NF==0 {on=0}
  on && NF==13 {r+=$12; d+=$13} END {print r+0, d+0}' "$work/react/report.txt")
remade=${sums% *} diverged=${sums#* }
echo "# points made inside a window: ${mids:-?}; re-made by replay: $remade, diverged: $diverged"
check "points were re-made by replay (${remade}) and none diverged (${diverged})" \
  test "${remade:-0}" -gt 0 -a "${diverged:-1}" = 0
check "points were made inside windows (${mids:-0})" test "${mids:-0}" -gt 0
if [ $rc = 0 ] && ! ls "$work/react"/bug_*.json >/dev/null 2>&1; then
  ok "the control finds no failure with reactive faults either"
else
  not_ok "the control finds no failure with reactive faults either" "exit $rc"
  diag_file "$work/react.err"
fi

# 8. hybrid mode finds the planted bug too, and coverage.svg plots the
# report's numbers: one point per round (after a starting point) on each of
# the two curves, scaled to the largest value, and a marker for the bug.
t0=$SECONDS
explore "$work/hy" double_vote --mode hybrid --rounds 5 --branches 8 --stop-after 1 \
  >"$work/hy.out" 2>"$work/hy.err"
rc=$?
echo "# explore (double_vote, hybrid): exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/hy.out"
msg=$(json "$work/hy/bug_1.json" 'd["failure"]["message"]' 2>/dev/null)
if [ $rc = 1 ] && [ "${msg#election safety}" != "$msg" ]; then
  ok "--mode hybrid finds double_vote (election safety) and exits 1"
else
  not_ok "--mode hybrid finds double_vote (election safety) and exits 1" "exit $rc, failure '${msg}'"
  diag_file "$work/hy.err"
fi
check "report.txt says mode hybrid" grep -q "^explorer: mode hybrid," "$work/hy/report.txt"
svg=$(python3 - "$work/hy/report.txt" "$work/hy/coverage.svg" <<'PY' 2>&1
import re, sys, xml.etree.ElementTree as ET
rep = open(sys.argv[1]).read().splitlines()
rows, on = [], False
for l in rep:
    if l.startswith("round branches"): on = True; continue
    if on and not l.strip(): break
    if on: rows.append([float(x) for x in l.split()])
edges = [int(r[4]) for r in rows]; asserts = [int(r[6]) for r in rows]
first_e = edges[0] - int(rows[0][5]); first_a = asserts[0] - int(rows[0][7])
root = ET.parse(sys.argv[2]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(ns + "polyline")
assert len(lines) == 2, "want 2 curves, got %d" % len(lines)
T, ph = 40.0, 270.0
for pl, vals, first in ((lines[0], edges, first_e), (lines[1], asserts, first_a)):
    pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
    assert len(pts) == len(vals) + 1, "want %d points, got %d" % (len(vals) + 1, len(pts))
    top = max([first] + vals)
    for (x, y), v in zip(pts, [first] + vals):
        want = T + ph * (1 - v / top)
        assert abs(y - want) < 0.06, "point %s for value %d: want y %.1f" % ((x, y), v, want)
    xs = [p[0] for p in pts]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), "x not increasing: %s" % xs
texts = [t.text for t in root.iter(ns + "text")]
assert "bug 1" in texts, "no bug marker"
print("ok: %d rounds, edges %s, assertion states %s" % (len(rows), edges, asserts))
PY
)
rc=$?
echo "# coverage.svg: $svg"
check "coverage.svg: two curves with the report's per-round edges and assertion states, and the bug" \
  test $rc = 0
tap_done
