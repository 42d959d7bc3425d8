#!/usr/bin/env bash
# Linux tier: `chaoscontrol run` with the sdk-demo guest (issue 6). Run it
# where KVM can run Linux guests: tools/kvm-host -- bash sdk-run.sh.
#
#  - a normal run: exit 0, the assertion table lists every catalog entry
#    with kind, verdict, hits, message and location, including entries never
#    reached (unexercised); --json writes a valid record;
#  - SDK_DEMO_FAIL=always: exit 1 and a failure line with message and
#    file:line; --override 4=999 fails the rare-choice ALWAYS;
#  - --replay of seed 1's record under seed 7 gives seed 1's random values;
#  - bad --replay files and bad --override values are refused clearly.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/sdk-demo.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/sdk-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 13

run() {   # run NAME ARGS...: stdout to NAME.out, stderr to NAME.err, serial to NAME.serial
  local name=$1 rc
  shift
  # Bounded, so that a hang shows up as a failure with its diagnostics
  # instead of the whole script timing out silently.
  timeout -k 10 300 "$cc" run --kernel "$kernel" --initrd "$initrd" \
    --serial-out "$work/$name.serial" --max-exits 5000000 "$@" \
    >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  if [ $rc -ge 124 ]; then
    echo "# run $name: exit $rc (timeout or signal); stderr and serial tail:"
    diag_file "$work/$name.err"
    tail -5 "$work/$name.serial" 2>/dev/null | sed 's/^/#   | /'
  fi
  return $rc
}

run s1 --seed 1 --json "$work/s1.json"; rc=$?
diag_file "$work/s1.out"
check "a normal run exits 0" [ "$rc" = 0 ]
if grep -q '^assertions: 11 (7 passed, 0 failed, 4 unexercised)' "$work/s1.out"; then
  ok "the table counts 11 entries: 7 passed, 4 unexercised"
else
  not_ok "the table counts 11 entries: 7 passed, 4 unexercised"
fi
check "a SOMETIMES true once is listed passed, with its hits and location" \
  grep -Eq '^  SOMETIMES +passed +20  the loop reaches iteration 13 \(.*sdk-demo\.c:[0-9]+ main\)$' \
  "$work/s1.out"
check "an entry never reached is listed unexercised, by name" \
  grep -Eq '^  SOMETIMES +unexercised +0  never reached: a huge x \(.*sdk-demo\.c:[0-9]+ never_called\)$' \
  "$work/s1.out"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["run"]["seed"] == "1" and d["failure"] is None
assert len(d["assertions"]) == 11 and len(d["choices"]) >= 6
assert d["coverage"]["edges"] > 0
assert any(e["kind"] == "setup_complete" for e in d["events"])
' "$work/s1.json" 2>"$work/py.err"; then
  ok "--json writes the run record (assertions, choices, events, coverage)"
else
  not_ok "--json writes the run record (assertions, choices, events, coverage)"
  diag_file "$work/py.err"
fi

run fail --seed 1 --append SDK_DEMO_FAIL=always; rc=$?
diag_file "$work/fail.out"
check "a failing ALWAYS: exit 1" [ "$rc" = 1 ]
check "the failure line has the message, file:line and details" \
  grep -Eq '^failure: ALWAYS "balance never goes negative" at .*sdk-demo\.c:[0-9]+ \(main\), details \{"balance":-5\}' \
  "$work/fail.out"
check "the table marks it failed" \
  grep -Eq '^  ALWAYS +failed +1  balance never goes negative' "$work/fail.out"

run ov --seed 1 --override 4=999; rc=$?
check "--override 4=999 fails the rare-choice ALWAYS" \
  grep -q '^failure: ALWAYS "the rare choice 999 is never taken"' "$work/ov.out"

run rp --seed 7 --replay "$work/s1.json"; rc=$?
r1=$(grep 'sdk-demo: random:' "$work/s1.serial")
r7=$(grep 'sdk-demo: random:' "$work/rp.serial")
echo "# seed 1: $r1"
echo "# seed 7 replaying seed 1: $r7"
if [ "$rc" = 0 ] && [ -n "$r1" ] && [ "$r1" = "$r7" ]; then
  ok "--replay of seed 1's record under seed 7 gives seed 1's random values"
else
  not_ok "--replay of seed 1's record under seed 7 gives seed 1's random values" "exit $rc"
fi
run s7 --seed 7
r7b=$(grep 'sdk-demo: random:' "$work/s7.serial")
if [ -n "$r7b" ] && [ "$r7b" != "$r1" ]; then ok "without --replay seed 7 draws other values"
else not_ok "without --replay seed 7 draws other values"; fi

echo '{"replay": [1, -2]}' >"$work/bad.json"
run bad --replay "$work/bad.json"; rc=$?
if [ "$rc" = 1 ] && grep -q "replay\[1\] is not a non-negative integer" "$work/bad.err"; then
  ok "a bad --replay file is refused with the reason"
else
  not_ok "a bad --replay file is refused with the reason" "exit $rc"; diag_file "$work/bad.err"
fi
run badov --override 4; rc=$?
if [ "$rc" = 2 ] && grep -q "is not INDEX=VALUE" "$work/badov.err"; then
  ok "--override without =VALUE is a usage error"
else
  not_ok "--override without =VALUE is a usage error" "exit $rc"
fi
tap_done
