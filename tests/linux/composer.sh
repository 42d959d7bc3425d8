#!/usr/bin/env bash
# Linux tier (issue 15): test commands in the style of Antithesis Test
# Composer, run by cc-init in an image made by `chaoscontrol pack`
# (docs/test-commands.md), and chaoscontrol-history.
#
# The image (tests/linux/composer/): a "server" as the main command
# (server.sh), the template main under /opt/chaoscontrol/test/v1 (first_,
# two parallel drivers that append to a file and call
# chaoscontrol-history, a serial driver, an anytime command, finally_ that
# checks the file and fails on purpose with COMPOSER_FAIL=1, eventually_
# that stops the server; a helper_ file and a file that is not executable)
# and the template compat under /opt/antithesis/test/v1 (one singleton
# driver). Checked from `chaoscontrol run --json` and `chaoscontrol sim
# --json`: the catalog, verdicts, the failure with its output, the
# history and quiesce events, the timeline's choices per seed, the
# client-only VM (cc.cmd="") and cc.tests=I in a 2-VM simulation.
#   tools/kvm-host -- bash tests/linux/composer.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
t=$here/composer
work=$(mktemp -d "${TMPDIR:-/tmp}/composer-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 21

"$cc" pack --output "$work/c.initrd" --file "$t/main:/opt/chaoscontrol/test/v1/main" \
  --file "$t/compat:/opt/antithesis/test/v1/compat" --file "$t/server.sh:/opt/composer/server.sh" \
  --cmd /opt/composer/server.sh --list >"$work/list" 2>"$work/pack.err"
rc=$?
diag_file "$work/pack.err"
check "pack writes the image with the templates and /usr/bin/chaoscontrol-history" \
  test $rc = 0 -a -n "$(grep '^/usr/bin/chaoscontrol-history$' "$work/list")" \
    -a -n "$(grep '^/opt/chaoscontrol/test/v1/main/parallel_driver_a ' "$work/list")" \
    -a -n "$(grep '^/opt/antithesis/test/v1/compat/singleton_driver_only ' "$work/list")"

opts='cc.tests=all cc.test_template=main cc.test_duration=3 cc.setup_wait="test -e /tmp/server-ready"'
run() {   # run NAME SEED [APPEND...]: JSON to NAME.json, console to NAME.serial
  local name=$1 seed=$2
  shift 2
  timeout -k 10 300 "$cc" run --kernel "$kernel" --initrd "$work/c.initrd" --seed "$seed" \
    --append "$opts $*" --json "$work/$name.json" --serial-out "$work/$name.serial" \
    --max-exits 20000000 >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  grep -h '^cc-init: \(setup\|tests\)' "$work/$name.serial" | sed "s/^/#   $name: /"
  return $rc
}
# The commands the timeline started, in order (what cc_random_choice chose).
starts() { grep -o 'cc-init: test [^ ]*: started' "$1" | sed 's/^cc-init: test //; s/: started$//'; }

run r1 1; rc=$?
tr -d '\r' <"$work/r1.serial" >"$work/r1.console"   # the console has CRLF line ends
diag_file "$work/r1.out"
check "passing variant: the run exits 0 (the server stops after eventually_)" \
  test $rc = 0 -a -n "$(grep 'cc-init: node0: the command exited with status 0' "$work/r1.serial")"

# Python checks on a run record: check_py DESCRIPTION RECORD CODE (d = the record).
check_py() {
  local desc=$1 rec=$2 code=$3
  if python3 - "$rec" >"$work/py.out" 2>&1 <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h
A = {a["message"]: a for a in d["assertions"]}
ev = d["events"]
hist = [e for e in ev if e["kind"] == "event" and e["name"] == "chaoscontrol.history"]
$code
EOF
  then ok "$desc"; else not_ok "$desc"; diag_file "$work/py.out"; fi
}

check_py "every command is in the catalog (ALWAYS, the command's path, id from path and message), helper_ and non-executable files are not" \
  "$work/r1.json" '
want = {"main/first_init", "main/parallel_driver_a", "main/parallel_driver_b",
        "main/serial_driver_mark", "main/anytime_peek", "main/finally_check",
        "main/eventually_stop", "compat/singleton_driver_only"}
got = {m[len("test command "):-len(" succeeds")] for m in A}
assert got == want, got
for m, a in A.items():
    t, f = m[len("test command "):-len(" succeeds")].split("/")
    root = "/opt/chaoscontrol/test/v1" if t == "main" else "/opt/antithesis/test/v1"
    assert a["kind"] == "ALWAYS" and a["file"] == root + "/" + t + "/" + f and a["line"] == 0, a
    assert int(a["id"], 16) == fnv((a["file"] + ":0:" + m).encode()), a
cat = [e for e in ev if e["kind"] == "catalog"]
setup = [e for e in ev if e["kind"] == "setup_complete"]
assert len(setup) == 1 and len(cat) == 8 and cat[-1]["seq"] < setup[0]["seq"], (len(cat), setup)
assert setup[0]["details"]["setup_wait"] == "test -e /tmp/server-ready", setup'

check_py "passing variant: no failed assertion; first_, finally_, eventually_ and the parallel drivers passed; the other template unexercised" \
  "$work/r1.json" '
assert d["failure"] is None, d["failure"]
assert not [a for a in A.values() if a["verdict"] == "failed"]
for c in ("first_init", "finally_check", "eventually_stop"):
    a = A["test command main/%s succeeds" % c]
    assert a["verdict"] == "passed" and a["hits"] == 1, a
for c in ("parallel_driver_a", "parallel_driver_b"):
    assert A["test command main/%s succeeds" % c]["hits"] >= 1, c
assert A["test command compat/singleton_driver_only succeeds"]["verdict"] == "unexercised"'

total=$(python3 -c 'import json,sys; print(sum(int(a["hits"]) for a in json.load(open(sys.argv[1]))["assertions"]))' "$work/r1.json" 2>/dev/null)
check "the console summary counts every command run ($total)" \
  grep -q "^cc-init: tests: $total commands run, 0 failed$" "$work/r1.console"

check_py "history events arrive: an invoke and an ok per parallel driver run, with its process, f, key and value" \
  "$work/r1.json" '
runs = int(A["test command main/parallel_driver_a succeeds"]["hits"]) + \
       int(A["test command main/parallel_driver_b succeeds"]["hits"])
assert len(hist) == 2 * runs, (len(hist), runs)
ops = {}
for e in hist:
    h = e["details"]
    assert set(h) == {"process", "type", "f", "key", "value"}, h
    assert h["f"] == "add" and h["key"] == "log" and h["value"] in ("a", "b"), h
    ops.setdefault(h["process"], []).append(h["type"])
assert len(ops) == runs and all(v == ["invoke", "ok"] for v in ops.values()), ops'

check_py "chaoscontrol.quiesce is sent once, after the drivers and before eventually_ ends" \
  "$work/r1.json" '
q = [e for e in ev if e["name"] == "chaoscontrol.quiesce"]
assert len(q) == 1 and q[0]["details"] == {}, q
assert q[0]["seq"] > max(e["seq"] for e in hist), q'

check_py "the driver phase steers by cc_random_choice (choices logged)" "$work/r1.json" '
assert len(d["choices"]) >= 3 and all(c["kind"] == "choice" for c in d["choices"]), d["choices"]'

check "the output of test commands reaches the console with a prefix" \
  grep -qE '^main/finally_check\[[0-9]+\]: finally: [0-9]+ lines, [0-9]+ adds$' "$work/r1.console"

run r2 1
check "the same seed twice: identical events, choices, verdicts and console" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("events", "choices", "assertions", "failure"):
    assert a[k] == b[k], k
assert a["run"]["serial_hash"] == b["run"]["serial_hash"]
' "$work/r1.json" "$work/r2.json"

run r3 2
starts "$work/r1.serial" >"$work/s1"
starts "$work/r3.serial" >"$work/s3"
echo "#   seed 1 starts: $(tr '\n' ' ' <"$work/s1" | cut -c1-300)"
echo "#   seed 2 starts: $(tr '\n' ' ' <"$work/s3" | cut -c1-300)"
check "another seed: the timeline starts other commands in another order (passing too)" \
  test -s "$work/s3" -a -n "$(diff -q "$work/s1" "$work/s3")" \
    -a -n "$(grep 'cc-init: tests: [0-9]* commands run, 0 failed' "$work/r3.serial")"

run f1 1 COMPOSER_FAIL=1; rc=$?
diag_file "$work/f1.out"
check "failing variant: the run stops on the failed property (exit 1)" test $rc = 1
check_py "the failure is the property of finally_check, with its exit status and output in the details" \
  "$work/f1.json" '
f = d["failure"]
assert f["message"] == "test command main/finally_check succeeds", f
assert f["file"] == "/opt/chaoscontrol/test/v1/main/finally_check", f
det = f["details"]
assert det["exit_status"] == 1 and det["signal"] is None and det["command"] == "finally_check", det
assert "failing on purpose \"quoted\" \\ with" in det["output"], det
assert det["output"].startswith("finally: ") and det["output"].endswith("adds\n"), det
assert A["test command main/finally_check succeeds"]["verdict"] == "failed"
fe = [e for e in ev if e["kind"] == "assertion_failed"]
assert len(fe) == 1 and fe[0]["name"] == f["message"], fe'
check "the failing command's output is on the console too" \
  grep -q 'finally_check\[[0-9]*\]: finally: failing on purpose' "$work/f1.serial"

# The explorer: branches from cc-init's setup_complete; the failing
# finally_ is a bug like a failed SDK ALWAYS.
timeout -k 10 400 "$cc" explore run --kernel "$kernel" --initrd "$work/c.initrd" --vms 1 \
  --append "${opts/cc.test_duration=3/cc.test_duration=1} COMPOSER_FAIL=1" --mode input-tree \
  --rounds 1 --branches 1 --branch-time 5s --stop-after 1 --output "$work/ex" --quiet \
  >"$work/ex.out" 2>&1
rc=$?
diag_file "$work/ex.out"
check "explore: the failed test command is a bug (exit 1, bug_1.json, failed in assertions.json)" \
  python3 -c '
import json, sys
assert sys.argv[3] == "1", "explore exit " + sys.argv[3]
b = json.load(open(sys.argv[1] + "/bug_1.json"))
assert b["failure"]["message"] == "test command main/finally_check succeeds", b["failure"]
a = {x["message"]: x for x in json.load(open(sys.argv[1] + "/assertions.json"))["assertions"]}
assert a["test command main/finally_check succeeds"]["verdict"] == "failed", a
assert a["test command compat/singleton_driver_only succeeds"]["verdict"] == "unexercised", a
' "$work/ex" x "$rc"

# A client-only VM: no command (cc.cmd=""), the compatibility template with
# a singleton driver, no setup_wait (setup_complete right before it).
timeout -k 10 300 "$cc" run --kernel "$kernel" --initrd "$work/c.initrd" --seed 1 \
  --append 'cc.cmd="" cc.tests=0 cc.test_template=compat' --json "$work/k.json" \
  --serial-out "$work/k.serial" >"$work/k.out" 2>"$work/k.err"
rc=$?
grep -h '^cc-init: \(setup\|tests\|node0\)' "$work/k.serial" | sed 's/^/#   k: /'
check "client-only VM: the singleton driver alone, then power-off with status 0" \
  test $rc = 0 -a -n "$(grep 'cc-init: node0: no command; powering off with status 0' "$work/k.serial")" \
    -a "$(starts "$work/k.serial" | tr '\n' ' ')" = "compat/singleton_driver_only "
check_py "client-only VM: setup_complete from cc-init, the singleton passed, main's commands unexercised" \
  "$work/k.json" '
s = [e for e in ev if e["kind"] == "setup_complete"]
assert len(s) == 1 and s[0]["details"] == {"by": "cc-init", "setup_wait": None}, s
assert A["test command compat/singleton_driver_only succeeds"]["verdict"] == "passed"
assert sum(1 for a in A.values() if a["verdict"] == "unexercised") == 7
assert not [e for e in ev if e["name"] == "chaoscontrol.quiesce"]'

# A setup_wait that never succeeds: cc-init gives up after cc.setup_timeout
# with a message, calls no setup_complete and runs no test.
timeout -k 10 300 "$cc" run --kernel "$kernel" --initrd "$work/c.initrd" --seed 1 \
  --append 'cc.cmd="" cc.tests=all cc.setup_wait="echo not yet; false" cc.setup_timeout=1' \
  --json "$work/w.json" --serial-out "$work/w.serial" >"$work/w.out" 2>"$work/w.err"
grep -h '^cc-init: \(setup\|tests\|node0\)' "$work/w.serial" | sed 's/^/#   w: /'
check "setup_wait that never succeeds: gives up after cc.setup_timeout, saying so, with its output" \
  test -n "$(grep 'cc-init: setup: gave up waiting for `echo not yet; false` after [0-9]* tries: timed out' "$work/w.serial")" \
    -a -n "$(grep 'cc-init: setup: its last output: not yet' "$work/w.serial")" \
    -a -n "$(grep 'cc-init: node0: no command; powering off with status 1' "$work/w.serial")"
check_py "and then no setup_complete and no test run (every command unexercised)" "$work/w.json" '
assert not [e for e in ev if e["kind"] == "setup_complete"]
assert len(A) == 8 and all(a["verdict"] == "unexercised" for a in A.values()), A'

# cc.tests=1 in a 2-VM simulation: only node1 runs the timeline; both wait
# for their server and say setup_complete.
mkdir -p "$work/sim"
timeout -k 10 400 "$cc" sim --vms 2 --kernel "$kernel" --initrd "$work/c.initrd" --seed 3 \
  --duration 8s --append 'cc.tests=1 cc.test_template=main cc.test_duration=2 cc.setup_wait="test -e /tmp/server-ready"' \
  --serial-dir "$work/sim" --json "$work/sim.json" >"$work/sim.out" 2>"$work/sim.err"
rc=$?
grep -h '^cc-init: \(setup\|tests:\)' "$work/sim"/vm*.log | sed 's/^/#   sim: /'
check "cc.tests=1: node1 runs the timeline, node0 only its server (both set up)" \
  test $rc = 0 -a -n "$(grep 'cc-init: tests: [0-9]* commands run, 0 failed' "$work/sim/vm1.log")" \
    -a -z "$(grep 'cc-init: test' "$work/sim/vm0.log")" \
    -a -n "$(grep 'cc-init: setup: .* succeeded' "$work/sim/vm0.log")"
check "the simulation's merged table: 8 entries, the run ones hit in one VM, none failed" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = d["assertions"]
assert len(a) == 8 and not d["failures"], (len(a), d["failures"])
hit = [x for x in a if x["verdict"] == "passed"]
assert len(hit) >= 5 and all(int(x["vms_hit"]) == 1 for x in hit), hit
' "$work/sim.json"
tap_done
