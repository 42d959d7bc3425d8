#!/usr/bin/env bash
# Linux tier (issue 16 items 3-5): chaoscontrol replay and triage on Raft
# bugs. Run it where KVM can run Linux guests:
#   tools/kvm-host -- bash tests/linux/replay.sh
#
# 1. A short fault-mode exploration finds leader_no_stepdown (most random
#    fault schedules hit it: guests/raft/README.md) and writes bug_1.json.
# 2. replay --dlog to the failure writes a dlog of the replay with a
#    register dump every 1000 exits; replay --vm V --exit N (N: the last
#    dump of VM V) prints the same registers as that dump, twice with
#    byte-identical output, and names the guest's current task.
# 3. replay --time T stops at the first quantum boundary at or after T;
#    --save-snapshot saves the VM there (snapshot info: the same exit).
# 4. A bug file for another kernel (its hash changed) is refused, exit 2,
#    naming the file; an exit before setup is refused with where setup was.
# 5. triage writes triage.md, triage.json and timeline.svg; every fault
#    gets a verdict from a replay without it, at least one is necessary,
#    and the report has each VM's console and the link traffic.
# 6. Counterfactuals on fig8_commit (the figure-8 bug, which the explorer
#    finds rarely): sim --bug runs a hand-written schedule of four
#    partitions (guests/raft/README.md: node 2 leads term 1 and is cut
#    off with its entries; node 1 wins term 2 and is cut off at once; 2 and
#    0 elect 2, which (bug) commits its term-1 entries; 2 is cut off and
#    1, with its term-2 entry, wins 0's vote without them) and writes a
#    bug file; triage names all four partitions necessary, each with a
#    sentence, at least one with a window (a move that makes the failure
#    disappear); triage --from-snapshots of the first bug (each replay
#    from a snapshot taken just before its first change) gives the same
#    results with the same final simulation hash for every counterfactual
#    as section 5's triage from setup.
# 7. chaoscontrol debug, driven by Debian's GDB in batch mode on the
#    failing VM: a breakpoint on a kernel function (__x64_sys_sendto),
#    continue to it (A) and to its next hit (B), reverse-continue back to
#    A (the same registers and position), reverse-stepi 30 then stepi 30
#    (A's registers again), continue to the end (the bug's failure, as
#    recorded), reverse-continue with a breakpoint never hit back over the
#    whole replay to its start.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/raft.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/replay-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 31

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# 1. a bug with faults
t0=$SECONDS
"$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 3 --output "$work/x" \
  --mode fault --seed 0 --rounds 4 --branches 4 --stop-after 1 \
  --append "raft_id={id} raft_bug=leader_no_stepdown" >"$work/x.out" 2>"$work/x.err"
rc=$?
echo "# explore (leader_no_stepdown, fault mode): exit $rc in $((SECONDS - t0)) s"
bug=$work/x/bug_1.json
if [ $rc = 1 ] && [ -s "$bug" ]; then
  ok "the explorer finds a bug with faults and writes bug_1.json"
else
  not_ok "the explorer finds a bug with faults and writes bug_1.json" "exit $rc"
  diag_file "$work/x.err"
fi
nf=$(json "$bug" 'len(d["recipe"]["schedule"]["faults"])' 2>/dev/null || echo 0)
fvm=$(json "$bug" 'd["failure"]["vm"]' 2>/dev/null || echo 0)
echo "# the bug: $nf faults, fails in vm $fvm: $(json "$bug" 'd["failure"]["message"]' 2>/dev/null)"

# 2. registers at exit N against the dlog's dump at N
t0=$SECONDS
"$cc" replay --bug "$bug" --dlog "$work/r.dlog" --dlog-regs 1000 --json \
  >"$work/full.json" 2>"$work/full.err"
rc=$?
echo "# replay to the failure with --dlog: exit $rc in $((SECONDS - t0)) s"
check "replay to the failure (no stop asked) with --dlog: exit 0, a dlog written" \
  test $rc = 0 -a -s "$work/r.dlog"
[ $rc = 0 ] || diag_file "$work/full.err"
"$cc" dlog dump --json "$work/r.dlog" >"$work/r.jsonl" 2>"$work/dump.err"
# the last register dump of the failing VM after the replay's restore mark
python3 - "$work/r.jsonl" "$fvm" >"$work/pick.txt" <<'EOF'
import json, sys
vm = int(sys.argv[2]); restore = None; last = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("vm") != vm: continue
    if r["type"] == "mark" and r.get("mark") == "restore": restore = int(r["exit"])
    if r["type"] == "regs" and restore is not None and int(r["exit"]) > restore: last = r
if last:
    print(last["exit"]); json.dump(last["regs"], open(sys.argv[1] + ".regs", "w"), sort_keys=True)
EOF
n=$(cat "$work/pick.txt")
echo "# the dlog's last register dump of vm $fvm after setup: exit ${n:-none}"
check "the dlog has a register dump of vm $fvm after setup" test -n "$n"
n=${n:-1}
for i in 1 2; do
  t0=$SECONDS
  "$cc" replay --bug "$bug" --vm "$fvm" --exit "$n" --json >"$work/at$i.json" 2>"$work/at$i.err"
  rc=$?
  echo "# replay --vm $fvm --exit $n (run $i): exit $rc in $((SECONDS - t0)) s"
  [ $rc = 0 ] || diag_file "$work/at$i.err"
done
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); json.dump(d['regs'], open(sys.argv[2],'w'), sort_keys=True)" \
  "$work/at1.json" "$work/at1.regs" 2>/dev/null
check "replay --exit $n stops there (stopped, at exit $n)" \
  test "$(json "$work/at1.json" 'd["stopped"] and d["exit"]' 2>/dev/null)" = "$n"
if cmp -s "$work/at1.regs" "$work/r.jsonl.regs"; then
  ok "the registers at exit $n are the dlog's dump at exit $n"
else
  not_ok "the registers at exit $n are the dlog's dump at exit $n"
  diag_file "$work/at1.regs"
  diag_file "$work/r.jsonl.regs"
fi
check "replaying twice gives byte-identical output" cmp -s "$work/at1.json" "$work/at2.json"
task=$(json "$work/at1.json" '(d["task"].get("comm"), d["task"].get("pid"), d["task"].get("why"))' 2>/dev/null)
echo "# current task: $task"
check "the guest's current task is named (comm and pid)" \
  test "$(json "$work/at1.json" 'd["task"]["ok"] and d["task"]["pid"] >= 0' 2>/dev/null)" = True
"$cc" replay --bug "$bug" --vm "$fvm" --exit "$n" --lines 5 >"$work/at.txt" 2>&1
sed 's/^/#   /' "$work/at.txt"
check "the text form shows registers, the task and the console" \
  bash -c 'grep -q "^  rax " "$1" && grep -q "^current task: " "$1" && grep -q "^---- vm .* console" "$1"' _ "$work/at.txt"

# 3. --time and --save-snapshot
setup=$(python3 - "$work/r.jsonl" <<'EOF'
import json, sys
t = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "sim" and r.get("kind") == "setup": t = max(t, int(r["vtime"]))
print(t)
EOF
)
at=$(( setup + 250000000 ))
"$cc" replay --bug "$bug" --vm 0 --time "${at}ns" --json --save-snapshot "$work/v0.ccsnap" \
  >"$work/time.json" 2>"$work/time.err"
rc=$?
echo "# replay --time ${at}ns (setup + 250 ms): exit $rc, $(json "$work/time.json" 'd["stop"]' 2>/dev/null)"
check "replay --time stops at the first boundary at or after it" \
  test $rc = 0 -a "$(json "$work/time.json" 'd["stopped"] and d["sim_ns"] >= '"$at" 2>/dev/null)" = True
"$cc" snapshot info "$work/v0.ccsnap" >"$work/info.txt" 2>&1
e0=$(json "$work/time.json" 'd["exit"]' 2>/dev/null)
check "--save-snapshot saves vm 0 there (snapshot info: $e0 exits)" \
  grep -q "after $e0 exits" "$work/info.txt"

# 4. bad input
python3 - "$bug" "$work/other.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["target"]["kernel_sha256"] = "0" * 64
json.dump(d, open(sys.argv[2], "w"))
EOF
"$cc" replay --bug "$work/other.json" --vm 0 --exit 100000 >"$work/bad.out" 2>&1
rc=$?
diag_file "$work/bad.out"
check "a bug file for another kernel: exit 2, the message names the file and the kernel" \
  bash -c '[ "$1" = 2 ] && grep -q "other.json" "$2" && grep -qi "kernel" "$2"' _ $rc "$work/bad.out"
"$cc" replay --bug "$bug" --vm 0 --exit 5 >"$work/early.out" 2>&1
rc=$?
diag_file "$work/early.out"
check "an exit before setup: exit 2, says where setup was" \
  bash -c '[ "$1" = 2 ] && grep -q "before setup completed" "$2"' _ $rc "$work/early.out"

# 5. triage
t0=$SECONDS
"$cc" triage --bug "$bug" --output "$work/tri" >"$work/tri.out" 2>"$work/tri.err"
rc=$?
echo "# triage: exit $rc in $((SECONDS - t0)) s ($nf faults: a replay without each, and one per move)"
sed 's/^/#   /' "$work/tri.out"
check "triage writes triage.md, triage.json and timeline.svg" \
  test $rc = 0 -a -s "$work/tri/triage.md" -a -s "$work/tri/triage.json" -a -s "$work/tri/timeline.svg"
[ $rc = 0 ] || diag_file "$work/tri.err"
grep -E "^\| [0-9]+ \|" "$work/tri/triage.md" | head -20 | sed 's/^/#   /'
check "triage: the bug reproduced, every fault has a verdict, at least one necessary" \
  test "$(json "$work/tri/triage.json" 'd["reproduced"] and len(d["faults"]) == '"$nf"' and all(f["verdict"] in ("necessary", "incidental") for f in d["faults"]) and any(f["verdict"] == "necessary" for f in d["faults"])' 2>/dev/null)" = True
check "triage: a console per VM, link traffic, the failing property" \
  bash -c 'grep -q "^### vm 2" "$1" && grep -q "^| 0 → 1 |" "$1" && grep -q "^## Failing property" "$1"' _ "$work/tri/triage.md"
check "triage: the timeline is an SVG with a bar per fault" \
  test "$(grep -c '<rect x=' "$work/tri/timeline.svg")" -ge "$nf"

# 6. counterfactuals on a hand-made figure-8 bug. The times come from the
# run itself (node 2 leads term 1 at 0.177 s; node 1 wins term 2 at 0.527 s;
# node 2 wins term 7 at 1.479 s and node 0 learns its commit at 1.529 s):
# a change to the guest's timing can move them, and then the first check
# below says so.
cat >"$work/fig8.json" <<'EOF'
{"faults": [
  {"at": "300ms", "type": "partition", "sides": [[2], [0, 1]]},
  {"at": "530ms", "type": "partition", "sides": [[0], [1], [2]]},
  {"at": "1200ms", "type": "partition", "sides": [[1], [0, 2]]},
  {"at": "1540ms", "type": "partition", "sides": [[2], [0, 1]]}
]}
EOF
t0=$SECONDS
"$cc" sim --vms 3 --kernel "$kernel" --initrd "$initrd" --disk 1M --duration 2500ms \
  --append "raft_id={id} raft_bug=fig8_commit" --schedule "$work/fig8.json" \
  --bug "$work/fig8.bug.json" --quiet >"$work/fig8.out" 2>"$work/fig8.err"
rc=$?
echo "# sim --bug (fig8_commit, 4 partitions): exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/fig8.out"
f8=$work/fig8.bug.json
if [ $rc = 1 ] && [ -s "$f8" ] && \
   [ "$(json "$f8" 'd["failure"]["vm"] == 1 and d["failure"]["message"].startswith("leader completeness")' 2>/dev/null)" = True ]; then
  ok "sim --bug: the figure-8 schedule fails leader completeness in vm 1 and writes a bug file"
else
  not_ok "sim --bug: the figure-8 schedule fails leader completeness in vm 1 and writes a bug file" \
    "exit $rc; if the run no longer fails, the guest's timing moved: see the times above the schedule"
  diag_file "$work/fig8.err"
fi
t0=$SECONDS
"$cc" triage --bug "$f8" --output "$work/f8-root" >"$work/f8-root.out" 2>"$work/f8-root.err"
rc=$?
echo "# triage of the figure-8 bug (from setup): exit $rc in $((SECONDS - t0)) s"
[ $rc = 0 ] || diag_file "$work/f8-root.err"
# --from-snapshots against from-setup on the first bug (section 5's report;
# the same comparison on the figure-8 bug costs a minute more)
t0=$SECONDS
"$cc" triage --bug "$bug" --output "$work/tri-snap" --from-snapshots >"$work/tri-snap.out" \
  2>"$work/tri-snap.err"
rc=$?
echo "# triage of the first bug --from-snapshots: exit $rc in $((SECONDS - t0)) s"
[ $rc = 0 ] || diag_file "$work/tri-snap.err"
sed 's/^/#   /' "$work/f8-root.out"
check "triage of the figure-8 bug writes its report, reproduced, 4 faults" \
  test "$(json "$work/f8-root/triage.json" 'd["reproduced"] and len(d["faults"]) == 4' 2>/dev/null)" = True
check "triage names all four partitions necessary, each 'the cause' in its sentence" \
  test "$(json "$work/f8-root/triage.json" 'all(f["type"] == "partition" and f["verdict"] == "necessary" and " is the cause" in f["summary"] and f["summary"].startswith("fault #%d (partition" % f["index"]) for f in d["faults"])' 2>/dev/null)" = True
check "the sentences are printed and in triage.md's counterfactual section" \
  bash -c 'grep -q "^  fault #1 (partition .* is the cause" "$1" && grep -q "^## Counterfactuals" "$2" && grep -q "^- fault #3 (partition" "$2"' _ "$work/f8-root.out" "$work/f8-root/triage.md"
w=$(json "$work/f8-root/triage.json" '"; ".join("#%d: %s" % (f["index"], " ".join("%s=%s" % ("removed" if c["change"] == "removed" else "%+gms" % (c["shift_ns"] / 1e6), c["result"]) for c in f["counterfactuals"])) for f in d["faults"])' 2>/dev/null)
echo "# counterfactuals: $w"
check "the moves find a window: for some fault a move keeps the failure and a larger one ends it" \
  test "$(json "$work/f8-root/triage.json" 'any((f["window"]["bounded_before"] or f["window"]["bounded_after"]) and f["window"]["earliest_shift_ns"] < f["window"]["latest_shift_ns"] for f in d["faults"])' 2>/dev/null)" = True
echo "# counterfactual replays of the first bug: $(json "$work/tri/triage.json" '"%.1f s" % d["counterfactual_wall_s"]' 2>/dev/null) from setup, $(json "$work/tri-snap/triage.json" '"%.1f s (+ %d snapshots: %.1f s)" % (d["counterfactual_wall_s"], d["snapshots"], d["snapshot_wall_s"])' 2>/dev/null) from snapshots"
check "from snapshots and from setup: the same result and final simulation hash for every counterfactual" \
  python3 - "$work/tri-snap/triage.json" "$work/tri/triage.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["from_snapshots"] and not b["from_snapshots"] and a["snapshots"] > 0
key = lambda d: [[(c["change"], c.get("shift_ns"), c["result"], c.get("sim_hash"), c.get("end_ns"))
                  for c in f["counterfactuals"]] for f in d["faults"]]
assert key(a) == key(b), (key(a), key(b))
assert any(c.get("from_ns", 0) > a["setup_ns"] for f in a["faults"] for c in f["counterfactuals"])
EOF
check "the timeline marks the windows" grep -q "still fails from" "$work/f8-root/timeline.svg"

# 7. the time-travel debugger under GDB
ip link set lo up 2>/dev/null || true      # (the test host's loopback starts down)
"$cc" debug --bug "$bug" --port-file "$work/port" >"$work/dbg.out" 2>&1 &
dpid=$!
for _ in $(seq 900); do { [ -s "$work/port" ] || ! kill -0 $dpid 2>/dev/null; } && break; sleep 0.2; done
port=$(cat "$work/port" 2>/dev/null)
check "debug boots the target and listens (port file written)" test -n "$port"
regs="rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags"
cat >"$work/s.gdb" <<EOF
set pagination off
set confirm off
target remote 127.0.0.1:${port:-1}
break __x64_sys_sendto
continue
echo ==A\n
info registers $regs
monitor when
continue
echo ==B\n
info registers $regs
monitor when
reverse-continue
echo ==A2\n
info registers $regs
monitor when
delete
reverse-stepi 30
echo ==BACK\n
info registers rip
stepi 30
echo ==A3\n
info registers $regs
monitor when
continue
echo ==END\n
monitor when
break do_exit
shell date +%s.%N >$work/t0
reverse-continue
shell date +%s.%N >$work/t1
echo ==BEGIN\n
monitor when
monitor checkpoints
detach
EOF
t0=$SECONDS
timeout 900 gdb -batch -nx -x "$work/s.gdb" "$build/kernel/vmlinux" >"$work/gdb.out" 2>&1
grc=$?
wait $dpid
drc=$?
echo "# gdb session: gdb exit $grc, debug exit $drc, $((SECONDS - t0)) s"
# a section's registers and position (GDB's next command prints its stop
# line into the section before the next marker)
sect() {
  awk -v s="==$1" '$0 == s {on = 1; next} /^==/ {on = 0} on' "$work/gdb.out" |
    grep -E '^((r|e)[a-z0-9]+ +0x|vm [0-9]+: )'
}
sect A >"$work/A"; sect B >"$work/B"; sect A2 >"$work/A2"; sect A3 >"$work/A3"
sect BACK >"$work/BACK"; sect BEGIN >"$work/BEGIN"
check "GDB stops at the breakpoint on __x64_sys_sendto" \
  bash -c 'grep -q "^Breakpoint 1, .* in __x64_sys_sendto" "$1" && grep -q "^rip .*<__x64_sys_sendto>" "$2"' _ "$work/gdb.out" "$work/A"
sed 's/^/#   A: /' "$work/A" | tail -3
sed 's/^/#   B: /' "$work/B" | tail -1
check "the next hit (B) is another one: a later position, other registers" \
  bash -c '[ -s "$1" ] && [ -s "$2" ] && ! cmp -s "$1" "$2"' _ "$work/A" "$work/B"
check "reverse-continue from B stops at A: the same registers and position" \
  bash -c '[ -s "$1" ] && cmp -s "$1" "$2"' _ "$work/A" "$work/A2"
[ -s "$work/A2" ] && ! cmp -s "$work/A" "$work/A2" && diff "$work/A" "$work/A2" | sed 's/^/#   /'
sed 's/^/#   30 back: /' "$work/BACK"
grep -v "^vm " "$work/A" >"$work/A.r"; grep -v "^vm " "$work/A3" >"$work/A3.r"
check "reverse-stepi 30 then stepi 30 comes back to A's registers" \
  bash -c '[ -s "$3" ] && [ -s "$1" ] && cmp -s "$1" "$2"' _ "$work/A.r" "$work/A3.r" "$work/BACK"
diff "$work/A.r" "$work/A3.r" | sed 's/^/#   A|A3 /'
msg=$(json "$bug" 'd["failure"]["message"]' 2>/dev/null)
check "continuing to the end replays the bug's failure as recorded" \
  grep -qF "the replay ended at the failure: \"$msg\"" "$work/gdb.out"
rct=$(python3 -c "import sys; print('%.2f' % (float(open(sys.argv[2]).read()) - float(open(sys.argv[1]).read())))" "$work/t0" "$work/t1" 2>/dev/null)
echo "# reverse-continue from the end back to the start (no hit on the way): ${rct:-?} s wall"
sed 's/^/#   /' "$work/BEGIN"
check "reverse-continue with no earlier hit stops at the start (no more history)" \
  bash -c 'awk "/^==END/,0" "$1" | grep -q "No more reverse-execution history" && grep -q "life 0, exit [0-9]* (+0 steps, 0 breakpoint runs), its clock 0.0" "$2"' _ "$work/gdb.out" "$work/BEGIN"
check "debug and gdb end cleanly after detach (exit 0)" test "$grc" = 0 -a "$drc" = 0
[ "$grc$drc" = 00 ] || { diag_file "$work/dbg.out"; tail -30 "$work/gdb.out" | sed 's/^/#   /'; }
grep "session over" "$work/dbg.out" | sed 's/^/# /'
tap_done
