#!/usr/bin/env bash
# Bad input to `chaoscontrol explore`, `minimize`, `reproduce`, `replay` and
# `triage`: missing,
# malformed, truncated and mismatched bug files, corrupt checkpoints and bad
# options give a clear error naming the file or option, and exit status 2,
# before any VM exists (so no KVM is needed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/explore-errors.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 50

# expect NAME STATUS PATTERN ARGS...: exit status STATUS and PATTERN in stderr
expect() {
  local name=$1 want=$2 pattern=$3
  shift 3
  "$cc" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$work/err"; then
    ok "$name"
    echo "#   $(grep -m1 -- "$pattern" "$work/err")"
  else
    not_ok "$name" "exit $rc (want $want), stderr:"
    diag_file "$work/err"
  fi
}

printf 'stand-in kernel\n' >"$work/bzImage"
printf 'stand-in initrd\n' >"$work/raft.initrd"
ksum=$(sha256sum "$work/bzImage" | cut -d' ' -f1)
isum=$(sha256sum "$work/raft.initrd" | cut -d' ' -f1)

# bug_json KERNEL_SHA VERSION: a well-formed bug file over the stand-ins
bug_json() {
  cat <<EOF
{"format": "chaoscontrol-bug", "version": $2, "bug": 1,
 "failure": {"vm": 2, "assertion_id": "bc7e5aee3e57093a", "kind": "ALWAYS",
   "message": "election safety: at most one leader per term",
   "file": "guests/raft/main.c", "line": 329, "function": "cb_check", "details": "",
   "sim_vtime_ns": 158035063, "vm_vtime_ns": 158029863, "vm_exit": 15798},
 "target": {"kernel": "$work/bzImage", "kernel_sha256": "$1",
   "initrd": "$work/raft.initrd", "initrd_sha256": "$isum", "vms": 3,
   "append": "raft_id={id} raft_bug=double_vote", "disk_size": 1048576, "seed": "0",
   "sdk_trigger": "port"},
 "recipe": {"schedule": {"version": 1, "faults": [
     {"at": "100ms", "type": "pause", "vm": 0, "duration": "50ms"}]},
   "overrides": [{"vm": 1, "life": 0, "index": 0, "value": 0}],
   "stops": ["158035063ns"], "end": "158035063ns"},
 "found": {"round": 1, "branch": 3, "wall_s": 30.3, "mode": "input-tree"}}
EOF
}
bad_sum=0000000000000000000000000000000000000000000000000000000000000000
bug_json "$bad_sum" 1 >"$work/wrong_kernel.json"
bug_json "$ksum" 2 >"$work/v2.json"
bug_json "$ksum" 1 | head -c 400 >"$work/truncated.json"
printf 'this is not JSON\n' >"$work/garbage.json"
bug_json "$ksum" 1 | sed 's/"kind": "ALWAYS"/"kind": "SOMETIMES-ISH"/' >"$work/kind.json"
bug_json "$ksum" 1 | sed 's/"vm": 1, "life"/"vm": 5, "life"/' >"$work/vm.json"

expect "reproduce: a missing bug file is named" 2 "$work/nope.json" \
  reproduce --bug "$work/nope.json"
expect "reproduce: not JSON" 2 "garbage.json: line 1, .*invalid JSON" \
  reproduce --bug "$work/garbage.json"
expect "reproduce: a truncated bug file" 2 "truncated.json: .*invalid JSON" \
  reproduce --bug "$work/truncated.json"
expect "reproduce: a newer format version" 2 "v2.json: version 2 is not the one" \
  reproduce --bug "$work/v2.json"
expect "reproduce: a bad assertion kind names the field" 2 "kind.json: failure.kind" \
  reproduce --bug "$work/kind.json"
expect "reproduce: an override for a VM that does not exist" 2 "vm.json: recipe.overrides\[0\].vm" \
  reproduce --bug "$work/vm.json"
expect "reproduce: a different kernel is refused with both hashes" 2 \
  "wrong_kernel.json: kernel '$work/bzImage' has SHA-256 ${ksum:0:16}\.\.\., but the recording was made with 0000000000000000" \
  reproduce --bug "$work/wrong_kernel.json"
expect "minimize: a different kernel is refused too" 2 "wrong_kernel.json: kernel" \
  minimize --bug "$work/wrong_kernel.json" --output "$work/min.json"
expect "minimize: a truncated bug file" 2 "truncated.json: .*invalid JSON" \
  minimize --bug "$work/truncated.json" --output "$work/min.json"
expect "minimize: --output is required" 2 "--output FILE is required" \
  minimize --bug "$work/v2.json"
expect "reproduce: --bug is required" 2 "--bug FILE is required" reproduce
expect "reproduce: options of other commands are refused" 2 "'--rounds' does not apply" \
  reproduce --bug "$work/v2.json" --rounds 3
expect "reproduce: --dlog-regs without --dlog" 2 "--dlog-regs needs --dlog" \
  reproduce --bug "$work/v2.json" --dlog-regs 1000
expect "reproduce: a bad --dlog-regs" 2 "--dlog-regs 'often' is not a number" \
  reproduce --bug "$work/v2.json" --dlog "$work/r.dlog" --dlog-regs often
expect "reproduce --dlog: a different kernel is refused before a log is started" 2 \
  "wrong_kernel.json: kernel" reproduce --bug "$work/wrong_kernel.json" --dlog "$work/r.dlog"
check "reproduce --dlog: no log (nor a temporary one) is left after a refusal" \
  bash -c '! ls "$1"/r.dlog* >/dev/null 2>&1' _ "$work"
expect "reproduce: explore's --dlog-bugs is refused" 2 "'--dlog-bugs' does not apply" \
  reproduce --bug "$work/v2.json" --dlog-bugs
expect "minimize: --dlog is refused" 2 "'--dlog' does not apply" \
  minimize --bug "$work/v2.json" --output "$work/min.json" --dlog "$work/m.dlog"

expect "replay: a missing bug file is named" 2 "$work/nope.json" replay --bug "$work/nope.json"
expect "replay: a different kernel is refused with both hashes" 2 \
  "wrong_kernel.json: kernel '$work/bzImage' has SHA-256 ${ksum:0:16}" \
  replay --bug "$work/wrong_kernel.json" --vm 1 --exit 20000
expect "replay: --exit and --time exclude each other" 2 "--exit and --time exclude each other" \
  replay --bug "$work/v2.json" --exit 5 --time 1s
expect "replay: a bad --time" 2 "--time 'soon' is not a virtual time" \
  replay --bug "$work/v2.json" --time soon
expect "replay: --exit 0" 2 "--exit '0' is not an exit number" replay --bug "$work/v2.json" --exit 0
expect "triage: a truncated bug file" 2 "truncated.json: .*invalid JSON" \
  triage --bug "$work/truncated.json" --output "$work/tri"
expect "triage: replay's options are refused" 2 "option --exit does not apply here" \
  triage --bug "$work/v2.json" --exit 5

expect "debug: a missing bug file is named" 2 "$work/nope.json" debug --bug "$work/nope.json"
expect "debug: a different kernel is refused with both hashes" 2 \
  "wrong_kernel.json: kernel '$work/bzImage' has SHA-256 ${ksum:0:16}" \
  debug --bug "$work/wrong_kernel.json" --port-file "$work/never"
expect "debug: a bad --port" 2 "--port '70000' is not a TCP port" debug --bug "$work/v2.json" --port 70000
expect "debug: a bad --listen" 2 "--listen 'localhost:1' is not an IPv4 address" \
  debug --bug "$work/v2.json" --listen localhost:1
expect "debug: a bad --checkpoint-every" 2 "--checkpoint-every 'often' is not a virtual time" \
  debug --bug "$work/v2.json" --checkpoint-every often
check "debug: nothing listened (no port file) after a refusal" test ! -e "$work/never"

run=(explore run --kernel "$work/bzImage" --initrd "$work/raft.initrd" --vms 3 --rounds 2
     --branches 4 --output "$work/out")
expect "explore run: a bad --mode" 2 "--mode 'chaos' is not one of fault, input-tree, hybrid" \
  "${run[@]}" --mode chaos
expect "explore run: --branches 0" 2 "--branches '0' is not a positive number" \
  "${run[@]}" --branches 0
expect "explore run: no VMs" 2 "--vms '0' is not a number of VMs" "${run[@]}" --vms 0
expect "explore run: a missing kernel is named" 2 "kernel '$work/none': No such file" \
  "${run[@]}" --kernel "$work/none"
expect "explore run: --output is required" 2 "--output is required" \
  explore run --kernel "$work/bzImage" --initrd "$work/raft.initrd" --vms 3 --rounds 1 --branches 1
expect "explore run: --dlog-regs without --dlog-bugs" 2 "--dlog-regs needs --dlog-bugs" \
  "${run[@]}" --dlog-regs 1000
expect "explore run: a bad --dlog-regs" 2 "--dlog-regs '-1' is not a number" \
  "${run[@]}" --dlog-bugs --dlog-regs -1
expect "explore run: reproduce's --dlog is refused" 2 "'--dlog' does not apply" \
  "${run[@]}" --dlog "$work/x.dlog"
expect "explore resume: --dlog-regs without --dlog-bugs" 2 "--dlog-regs needs --dlog-bugs" \
  explore resume --corpus "$work/old" --rounds 1 --dlog-regs 1000
expect "explore run: an unknown --faults kind lists vcpu among the known" 2 \
  "--faults 'vcpu,meteor': want a comma-separated list of .*, disk, vcpu" \
  "${run[@]}" --faults vcpu,meteor
expect "explore run: --cpus 0" 2 "--cpus '0' is not a number of vCPUs (1-8)" "${run[@]}" --cpus 0
expect "explore run: --vcpu-schedule lottery" 2 "--vcpu-schedule 'lottery': want rr or random" \
  "${run[@]}" --cpus 2 --vcpu-schedule lottery
expect "reproduce: --cpus is refused (the bug file has the target)" 2 "'--cpus' does not apply" \
  reproduce --bug "$work/v2.json" --cpus 2
expect "explore resume: --vcpu-schedule is refused (the checkpoint has the target)" 2 \
  "'--vcpu-schedule' does not apply" explore resume --corpus "$work/old" --rounds 1 \
  --vcpu-schedule random
expect "explore: an unknown subcommand" 2 "unknown subcommand 'walk'" explore walk
mkdir -p "$work/old"
printf '{}' >"$work/old/checkpoint.json"
expect "explore run: refuses a directory that holds an exploration" 2 "explore resume --corpus" \
  explore run --kernel "$work/bzImage" --initrd "$work/raft.initrd" --vms 3 --rounds 1 \
  --branches 1 --output "$work/old"
expect "explore resume: a checkpoint of the wrong format" 2 "old/checkpoint.json: format" \
  explore resume --corpus "$work/old" --rounds 1
mkdir -p "$work/empty"
expect "explore resume: no checkpoint" 2 "empty/checkpoint.json: cannot read it" \
  explore resume --corpus "$work/empty" --rounds 1
printf '{"format": "chaoscontrol-explore-checkpoint", "version": 1, "target": ' >"$work/old/checkpoint.json"
expect "explore resume: a truncated checkpoint" 2 "old/checkpoint.json: line .*invalid JSON" \
  explore resume --corpus "$work/old" --rounds 1
tap_done
