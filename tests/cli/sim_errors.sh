#!/usr/bin/env bash
# Bad input to `chaoscontrol sim` gives a clear error and exit status 2
# before any VM exists (no KVM needed): malformed schedules (bad JSON,
# unknown fault, negative and non-integer times, VM index out of range)
# name the file and the JSON path; bad options name the option.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
work=$(mktemp -d "${TMPDIR:-/tmp}/sim-errors.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 16

# expect NAME PATTERN ARGS...: exit status 2 and PATTERN in stderr
expect() {
  local name=$1 pattern=$2
  shift 2
  "$cc" sim "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = 2 ] && grep -qF -- "$pattern" "$work/err"; then
    ok "$name"
    echo "#   $(head -1 "$work/err")"
  else
    not_ok "$name" "exit $rc (want 2), stderr:"
    diag_file "$work/err"
  fi
}

schedule() {   # schedule NAME TEXT: write $work/NAME.json
  printf '%s\n' "$2" >"$work/$1.json"
}

schedule badjson '{"faults": [{"at": 0, "type": "heal"},'
expect "bad JSON: file, line and column" "$work/badjson.json: line 2, column 0: invalid JSON" \
  --vms 3 --kernel "$kernel" --schedule "$work/badjson.json"
schedule unknown '{"faults": [{"at": "1s", "type": "partition", "sides": [[0]]}, {"at": "2s", "type": "meteor"}]}'
expect "unknown fault type" "$work/unknown.json: faults[1].type: unknown fault type 'meteor'" \
  --vms 3 --kernel "$kernel" --schedule "$work/unknown.json"
schedule negative '{"faults": [{"at": -1000, "type": "heal"}]}'
expect "negative time" "$work/negative.json: faults[0].at: -1000 is negative" \
  --vms 3 --kernel "$kernel" --schedule "$work/negative.json"
schedule fraction '{"faults": [{"at": 0.5, "type": "heal"}]}'
expect "non-integer time" "$work/fraction.json: faults[0].at: 0.5 is not a whole number of nanoseconds" \
  --vms 3 --kernel "$kernel" --schedule "$work/fraction.json"
schedule range '{"faults": [{"at": 0, "type": "heal"}, {"at": "1s", "type": "kill", "vm": 0}, {"at": "1s", "type": "pause", "vm": 1, "duration": "1s"}, {"at": "2s", "type": "restart", "vm": 5}]}'
expect "VM index out of range" "$work/range.json: faults[3].vm: 5 is out of range (3 VMs)" \
  --vms 3 --kernel "$kernel" --schedule "$work/range.json"
expect "the same schedule is fine with 6 VMs until the kernel check" "kernel '/nonexistent'" \
  --vms 6 --kernel /nonexistent --schedule "$work/range.json"
schedule sides '{"faults": [{"at": 0, "type": "partition", "sides": [[0, 1], [1, 2]]}]}'
expect "overlapping partition sides" "faults[0].sides[1]: VM 1 is already on another side" \
  --vms 3 --kernel "$kernel" --schedule "$work/sides.json"
expect "missing schedule file" "$work/none.json: cannot read the schedule" \
  --vms 3 --kernel "$kernel" --schedule "$work/none.json"
schedule noseed '{"faults": [{"at": "1s", "type": "vcpu_schedule", "vm": 1}]}'
expect "vcpu_schedule without a seed" "$work/noseed.json: faults[0]: a vcpu_schedule fault needs \"seed\"" \
  --vms 3 --kernel "$kernel" --schedule "$work/noseed.json"
schedule vcpuvm '{"faults": [{"at": "1s", "type": "vcpu_schedule", "vm": 3, "seed": 12345}]}'
expect "vcpu_schedule on a VM out of range" "$work/vcpuvm.json: faults[0].vm: 3 is out of range (3 VMs)" \
  --vms 3 --kernel "$kernel" --schedule "$work/vcpuvm.json"
schedule vcpudur '{"faults": [{"at": "1s", "type": "vcpu_schedule", "vm": 0, "seed": "18446744073709551615", "duration": "1s"}]}'
expect "vcpu_schedule with a duration" "$work/vcpudur.json: faults[0].duration: a vcpu_schedule fault is an instant" \
  --vms 3 --kernel "$kernel" --schedule "$work/vcpudur.json"
expect "--cpus out of range" "--cpus '9' is not a number of vCPUs (1-8)" \
  --vms 3 --kernel "$kernel" --cpus 9
expect "--vms out of range" "--vms '0' is not a number from 1 to 64" --vms 0 --kernel "$kernel"
expect "--duration malformed" "--duration '10 sec' is not a positive time" \
  --vms 3 --kernel "$kernel" --duration "10 sec"
# without --kernel and no kernel/bzImage beside the program (a copy of it)
mkdir -p "$work/alone" && cp "$cc" "$work/alone/chaoscontrol"
cc=$work/alone/chaoscontrol expect "--kernel required without a default kernel" \
  "--kernel is required (no default kernel" --vms 3
expect "unknown option" "unknown option '--partition'" --vms 3 --kernel "$kernel" --partition

tap_done
