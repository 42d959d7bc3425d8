#!/usr/bin/env bash
# Declarative tests (issue 20, docs/tests.md) on the Raft guest, in one
# `chaoscontrol test` run with --junit: the repo's examples
# examples/raft-double-vote.yaml (passes: finds its planted bug) and
# examples/raft-control.yaml (passes: no bug), a test that must fail (no bug
# expected from double_vote: its line names the bug file and the command
# that reproduces it, and that command does), and one whose time budget
# cuts a 1000-round budget after its first branch. The JUnit report
# validates against the JUnit schema and holds what the lines said. The etcd
# examples run in tests/linux/etcd-explore.sh.
# Run it where KVM can run Linux guests:
#   tools/kvm-host -- bash tests/linux/ctest.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
build=$(cd "${CC_BUILD_DIR:-$src/build}" && pwd)
export CC_BUILD_DIR=$build
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/ctest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
tap_plan 11

t0=$SECONDS
# the repo's examples by relative paths, as a user's CI would name them
(cd "$src" && "$cc" test --output "$work/out" --junit "$work/junit.xml" \
  examples/raft-double-vote.yaml examples/raft-control.yaml \
  tests/fixtures/ctest/double-vote-must-hold.yaml tests/fixtures/ctest/time-budget.yaml) \
  >"$work/out.txt" 2>"$work/err.txt"
rc=$?
echo "# chaoscontrol test: exit $rc in $((SECONDS - t0)) s"
sed 's/^/#   /' "$work/out.txt"
[ -s "$work/err.txt" ] && diag_file "$work/err.txt"
check "exit 1: one test failed" test $rc = 1
check "raft-double-vote passes: it found the election-safety bug it expects" \
  grep -Eq '^PASS  raft-double-vote +found the expected bug: .*at most one leader per term' \
  "$work/out.txt"
check "raft-control passes: no bug in its 3 rounds of 4 branches" \
  grep -Eq '^PASS  raft-control +no bug: 3 rounds, 12 branches \[' "$work/out.txt"
check "double-vote-must-hold fails: a property failed" \
  grep -Eq '^FAIL  double-vote-must-hold +a property failed: .*at most one leader per term' \
  "$work/out.txt"
bugf=$work/out/double-vote-must-hold/bug_1.json
check "its lines name the bug file and the reproduce command" \
  grep -Fq "reproduce: $cc reproduce --bug $bugf" "$work/out.txt"
check "raft-time-budget passes on what its 1 s time budget allowed: one round cut after a branch" \
  grep -Eq '^PASS  raft-time-budget +no bug: 1 round, 1 branch \(time budget reached\)' \
  "$work/out.txt"
check "the summary line counts 3 passed, 1 failed" \
  grep -q "^4 tests: 3 passed, 1 failed, 0 errors in" "$work/out.txt"

# the printed command, run as printed
repro=$(sed -n '/^FAIL  double-vote-must-hold/,/ log: /s/^ *reproduce: //p' "$work/out.txt")
t0=$SECONDS
bash -c "$repro" >"$work/repro.txt" 2>&1
rc=$?
echo "# $repro: exit $rc in $((SECONDS - t0)) s"
check "the printed reproduce command reproduces the failure (exit 0, 'reproduced')" \
  bash -c '[ "$1" = 0 ] && grep -q "^reproduced" "$2"' _ $rc "$work/repro.txt"

if xmllint --noout --schema "$src/tests/fixtures/junit/junit.xsd" "$work/junit.xml" \
    >"$work/xmllint.txt" 2>&1; then
  ok "the JUnit report validates against the JUnit schema (xmllint)"
else
  not_ok "the JUnit report validates against the JUnit schema (xmllint)" "$(cat "$work/xmllint.txt")"
fi
check "it holds 4 test cases, 1 failure naming the bug file, 0 errors, classnames from paths" \
  python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
s = r.find("testsuite")
cases = {c.get("name"): c for c in s.findall("testcase")}
f = cases["double-vote-must-hold"].find("failure")
ok = (r.get("tests") == "4" and r.get("failures") == "1" and r.get("errors") == "0" and
      s.get("tests") == "4" and set(cases) == {"raft-double-vote", "raft-control",
      "double-vote-must-hold", "raft-time-budget"} and f is not None and
      f.get("type") == "bug" and sys.argv[2] in f.text and
      cases["raft-control"].get("classname") == "examples.raft-control" and
      all(c.find("failure") is None for n, c in cases.items() if n != "double-vote-must-hold") and
      all(float(c.get("time")) > 0 for c in cases.values()) and
      "explored" in (cases["raft-control"].findtext("system-out") or ""))
sys.exit(not ok)' "$work/junit.xml" "$bugf"
check "each test's exploration is in OUTPUT/NAME with its report and log" \
  bash -c 'for t in raft-double-vote raft-control double-vote-must-hold raft-time-budget; do
             [ -s "$1/$t/report.txt" ] && [ -s "$1/$t/test.log" ] || exit 1; done' _ "$work/out"
tap_done
