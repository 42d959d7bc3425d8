#!/usr/bin/env bash
# chaoscontrol-history (guests/init/chaoscontrol-history.c) in SDK local
# mode, run natively: the JSON line it prints for each form of arguments,
# the chaoscontrol.history event it writes to CHAOSCONTROL_SDK_OUTPUT, and
# exit status 2 with a usage message for bad arguments.
#   bash tests/cli/history.sh   (CC_BUILD_DIR: the build directory)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
h=$build/src/chaoscontrol-history
work=$(mktemp -d "${TMPDIR:-/tmp}/history-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
export CHAOSCONTROL_SDK_TRIGGER=local
unset CHAOSCONTROL_SDK_OUTPUT

tap_plan 17

# line DESCRIPTION EXPECTED ARGS...: exit 0 and exactly EXPECTED on stdout.
line() {
  local desc=$1 want=$2 got rc
  shift 2
  got=$("$h" "$@" 2>"$work/err")
  rc=$?
  if [ $rc = 0 ] && [ "$got" = "$want" ]; then
    ok "$desc"
  else
    not_ok "$desc" "args: $*" "exit $rc, stdout: $got" "want: $want" "stderr: $(head -c 300 "$work/err")"
  fi
}

line "write with an integer value" \
  '{"process":12,"type":"invoke","f":"write","key":"x","value":3}' --process 12 invoke write x 3
line "read without a value: null; an integer key" \
  '{"process":12,"type":"ok","f":"read","key":5,"value":null}' --process 12 ok read 5
line "'-' is null too" \
  '{"process":12,"type":"invoke","f":"read","key":5,"value":null}' --process 12 invoke read 5 -
line "no key: both null; negative process numbers are integers" \
  '{"process":-1,"type":"info","f":"add","key":null,"value":null}' --process -1 info add
line "cas OLD,NEW is an array; strings are escaped JSON strings" \
  '{"process":3,"type":"fail","f":"cas","key":"k\"1","value":[1,"two\\x"]}' \
  --process 3 fail cas 'k"1' '1,two\x'
line "not integers stay strings (leading zero, sign only, too big)" \
  '{"process":3,"type":"ok","f":"add","key":"007","value":"99999999999999999999"}' \
  --process 3 ok add 007 99999999999999999999
line "--json sends a ready object as is (trimmed)" \
  '{"process":9,"type":"ok","f":"add","value":[1, 2]}' --json '  {"process":9,"type":"ok","f":"add","value":[1, 2]} '

# --process defaults to the parent's pid: here, the subshell's.
got=$(bash -c 'echo "$$"; "$1" invoke read k; true' _ "$h")
pp=$(echo "$got" | head -1)
check "--process defaults to the parent's pid ($pp)" \
  test "$(echo "$got" | tail -1)" = "{\"process\":$pp,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\",\"value\":null}"

# The SDK event, in the Antithesis vocabulary, in CHAOSCONTROL_SDK_OUTPUT.
CHAOSCONTROL_SDK_OUTPUT=$work/events.jsonl "$h" --process 4 ok write y 7 >/dev/null
check "the event chaoscontrol.history reaches CHAOSCONTROL_SDK_OUTPUT with the same object" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ev = [l["chaoscontrol.history"] for l in lines if "chaoscontrol.history" in l]
assert ev == [{"process": 4, "type": "ok", "f": "write", "key": "y", "value": 7}], lines
' "$work/events.jsonl"

# bad DESCRIPTION MESSAGE ARGS...: exit 2, MESSAGE and the usage on stderr, nothing on stdout.
bad() {
  local desc=$1 msg=$2 out rc
  shift 2
  out=$("$h" "$@" 2>"$work/err")
  rc=$?
  if [ $rc = 2 ] && [ -z "$out" ] && grep -qF -- "$msg" "$work/err" && grep -q '^usage:' "$work/err"; then
    ok "$desc"
  else
    not_ok "$desc" "args: $*" "exit $rc, stdout: $out" "stderr: $(head -c 300 "$work/err")"
  fi
}
bad "no arguments: exit 2 with usage" "TYPE and F are needed"
bad "an unknown TYPE" "TYPE is invoke, ok, fail or info" start read x
bad "an unknown F" "F is read, write, cas or add" ok delete x
bad "cas needs OLD,NEW" "a cas VALUE is OLD,NEW" ok cas x 5
bad "too many arguments" "too many arguments" ok write x 1 2
bad "--process needs an integer" "--process needs an integer" --process abc ok read x
bad "--json needs one JSON object" "--json needs one JSON object" --json '[1,2]'
bad "--json with other arguments" "no other arguments" --json '{}' ok read
tap_done
