#!/usr/bin/env bash
# `chaoscontrol check`: exit status 0 for a linearizable history (set: nothing
# lost), 1 for a violation with the explanation and the witness, 2 for bad
# input (naming the file and line) or bad options, 3 when the budget runs
# out; --witness writes a history that fails on its own, --json one object.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/check-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 22

# run STATUS PATTERN STREAM ARGS...: exit status STATUS and PATTERN (fixed
# string) in STREAM (out or err)
run() {
  local name=$1 want=$2 pattern=$3 stream=$4
  shift 4
  "$cc" check "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = "$want" ] && grep -qF -- "$pattern" "$work/$stream"; then
    ok "$name"
    echo "#   $(grep -m1 -F -- "$pattern" "$work/$stream")"
  else
    not_ok "$name" "exit $rc (want $want), want '$pattern' in std$stream; stdout, stderr:"
    diag_file "$work/out"
    diag_file "$work/err"
  fi
}

line() {  # line PROCESS TYPE F KEY VALUE TIME  (VALUE - for none)
  local v=""
  [ "$5" = - ] || v=", \"value\": $5"
  printf '{"process": %s, "type": "%s", "f": "%s", "key": "%s"%s, "time": %s}\n' "$1" "$2" "$3" "$4" "$v" "$6"
}

{
  line 0 invoke write x 1 0; line 0 ok write x - 100
  line 1 invoke read x - 150; line 1 ok read x 1 180
  line 2 invoke write y '"a"' 150; line 2 ok write y - 170
  line 3 invoke read y - 160; line 3 ok read y null 175
} >"$work/good.jsonl"
cp "$work/good.jsonl" "$work/stale.jsonl"
{
  line 0 invoke write x 2 200; line 0 ok write x - 300
  line 1 invoke read x - 1204000000; line 1 ok read x 1 1206000000
} >>"$work/stale.jsonl"

run "linearizable: exit 0" 0 "good.jsonl: linearizable: 4 operations on 2 keys" out \
  --history "$work/good.jsonl"
run "stale read: exit 1 with the explanation" 1 \
  "key \"x\": stale read: the read by process 1 [1.204 s, 1.206 s] returned 1" out \
  --history "$work/stale.jsonl" --witness "$work/w.jsonl"
run "the witness is printed" 1 'witness: 3 of key "x"'"'"'s 4 operations (no single one can be dropped):' out \
  --history "$work/stale.jsonl"
if [ "$(wc -l <"$work/w.jsonl")" = 6 ] && grep -q '"value":1,"time":1206000000' "$work/w.jsonl"; then
  ok "--witness wrote the witness's 6 lines"
else
  not_ok "--witness wrote the witness's 6 lines"; diag_file "$work/w.jsonl"
fi
run "the witness fails on its own" 1 "stale read" out --history "$work/w.jsonl"
"$cc" check --history "$work/stale.jsonl" --json >"$work/json" 2>"$work/err"
rc=$?
if [ "$rc" = 1 ] && python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is False and r["unknown"] is False and r["key"] == "x", r
assert len(r["witness"]) == 6 and r["witness_minimal"] is True and r["key_operations"] == 4
assert r["operations"] == 6 and r["keys"] == 2 and r["failed_keys"] == 1
assert "stale read" in r["explain"]
' "$work/json"; then
  ok "--json: one object with the verdict and the witness"
else
  not_ok "--json: one object with the verdict and the witness" "exit $rc"; diag_file "$work/json"
fi
run "--json when linearizable" 0 '"ok": true' out --history "$work/good.jsonl" --json

# sets
{
  line 0 invoke add s 1 0; line 0 ok add s - 10
  line 1 invoke add s 2 0; line 1 ok add s - 10
  line 0 invoke read s - 100; line 0 ok read s '[2, 7]' 110
} >"$work/set.jsonl"
run "set: a lost add, exit 1" 1 "lost: 1;" out --history "$work/set.jsonl" --model set
run "set: an unexpected element" 1 "(unexpected: 7)" out --history "$work/set.jsonl" --model set
run "set: --json lists lost elements" 1 '"lost": [' out --history "$work/set.jsonl" --model set --json
run "a set history under the kv model: exit 2" 2 "set.jsonl: line 1: an add is a set operation" err \
  --history "$work/set.jsonl"
run "a kv history under the set model: exit 2" 2 "good.jsonl: line 1: a write is not a set operation" err \
  --history "$work/good.jsonl" --model set

# budget: 10 concurrent writes, then a read of a value none wrote
{
  for i in 0 1 2 3 4 5 6 7 8 9; do line "$i" invoke write x "$i" 0; done
  for i in 0 1 2 3 4 5 6 7 8 9; do line "$i" ok write x - 100; done
  line 20 invoke read x - 200; line 20 ok read x 99 300
} >"$work/hard.jsonl"
run "--max-steps: no verdict, exit 3" 3 "no verdict: key \"x\" (11 operations) was not decided within 50 search steps" out \
  --history "$work/hard.jsonl" --max-steps 50
run "--timeout: no verdict, exit 3" 3 "was not decided before the check was stopped" out \
  --history "$work/hard.jsonl" --timeout 1ns

# bad input
printf '%s\n{"process": 1,\n' "$(line 0 invoke read x - 0)" >"$work/badjson.jsonl"
run "bad JSON: file, line and column" 2 "badjson.jsonl: line 2, column" err --history "$work/badjson.jsonl"
{ line 0 invoke read x - 0; line 0 ok read x 1 5; line 0 ok read x 1 6; } >"$work/orphan.jsonl"
run "a completion with no invoke: file and line" 2 \
  "orphan.jsonl: line 3: ok for process 0, which has no operation in progress" err --history "$work/orphan.jsonl"
run "a missing file" 2 "$work/none.jsonl: cannot read the history" err --history "$work/none.jsonl"
run "--history is required" 2 "--history FILE is required" err
run "--model must be kv or set" 2 "--model 'queue' is not kv or set" err --history "$work/good.jsonl" --model queue
run "--max-steps must be a number" 2 "--max-steps 'many' is not a positive number" err \
  --history "$work/good.jsonl" --max-steps many
run "--timeout must be a time" 2 "--timeout '5 minutes' is not a positive time" err \
  --history "$work/good.jsonl" --timeout "5 minutes"
run "unknown option" 2 "unknown option '--linearizable'" err --history "$work/good.jsonl" --linearizable

tap_done
