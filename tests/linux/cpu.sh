#!/usr/bin/env bash
# The processor a Linux guest sees comes from the command line (issue 20,
# docs/cpu.md): vendor, family, model, stepping and brand in /proc/cpuinfo,
# the TSC frequency in CPUID 0x15/0x16, the avx2 flag only with --avx2
# (and AVX-512 as the host allows). --pin-cpu pins every thread of the VMM
# (read from /proc/PID/task/*/status while it runs) and changes nothing the
# guest sees: the same exits, trace, console and RAM as an unpinned run.
# explore run records the processor and explore resume uses the record.
#   tools/kvm-host --cpus 2 -- bash tests/linux/cpu.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
prog=$build/tests/linux/cpuinfo_prog
work=$(mktemp -d "${TMPDIR:-/tmp}/cpu-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 17

"$cc" pack --output "$work/ci.initrd" --add "$prog" --cmd "$prog" 2>"$work/pack.err" ||
  diag_file "$work/pack.err"

model=(--cpu-vendor ChaosCtlTest --cpu-family 25 --cpu-model 33 --cpu-stepping 2
       --cpu-brand "ChaosControl Test CPU @ 1.23GHz" --tsc-khz 1234567 --avx2)
# the highest core this process may use: pinned there, the VMM's threads
# lose every other one
allowed=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)
core=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
echo "# allowed cores: $allowed; pinning to $core"

# run NAME ARGS...: boot the image; stderr to NAME.err, console to NAME.out
run() {
  local name=$1
  shift
  "$cc" boot --kernel "$kernel" --initrd "$work/ci.initrd" --seed 5 \
    --serial-out "$work/$name.out" "$@" 2>"$work/$name.err"
}

# 1. pinned, with the CPU model, watching the threads' affinity meanwhile
"$cc" boot --kernel "$kernel" --initrd "$work/ci.initrd" --seed 5 --serial-out "$work/pinned.out" \
  "${model[@]}" --pin-cpu "$core" 2>"$work/pinned.err" &
pid=$!
: >"$work/affinity"
while kill -0 "$pid" 2>/dev/null; do
  # from the moment it says it pinned (before that it may not have yet)
  grep -q "pinned to host core" "$work/pinned.err" &&
    grep -H '^Cpus_allowed_list' /proc/"$pid"/task/*/status >>"$work/affinity" 2>/dev/null
  sleep 0.2
done
wait "$pid"
rc=$?
diag_file "$work/pinned.err"
grep -E 'vendor_id|cpuid|cpu family|model|stepping' "$work/pinned.out" | head -9 |
  sed 's/^/#   /'
check "pinned boot ends cleanly (exit 0, the program's status 0)" \
  test $rc = 0 -a -n "$(grep 'stop=poweroff .* status=0$' "$work/pinned.err")"
check "it says where it pinned the vCPU thread" \
  grep -q "vCPU thread pinned to host core $core\$" "$work/pinned.err"
sort -u "$work/affinity" | sed 's/^/#   /'
check "its threads (vCPU and watchdog) seen while it ran were only allowed core $core" \
  test "$(cut -d/ -f5 "$work/affinity" | sort -u | wc -l)" -ge 2 \
    -a -z "$(awk -F'\t' -v c="$core" '$2 != c' "$work/affinity")" -a "$core" != "$allowed"
# the console's lines end in CR LF
tr -d '\r' <"$work/pinned.out" >"$work/pinned.txt"
out=$work/pinned.txt
check "/proc/cpuinfo: vendor_id ChaosCtlTest" grep -q "vendor_id.*: ChaosCtlTest\$" "$out"
check "cpu family 25 (extended family encoding)" grep -q "cpu family.*: 25\$" "$out"
check "model 33 (extended model)" grep -qE "^([^ ]+ )?model[[:space:]]+: 33\$" "$out"
check "stepping 2" grep -q "stepping.*: 2\$" "$out"
check "model name is the --cpu-brand" grep -q "model name.*: ChaosControl Test CPU @ 1.23GHz\$" "$out"
check "CPUID 0x15 gives the --tsc-khz 1234567" grep -q "cpuid 0x15: tsc 1234567 kHz" "$out"
check "CPUID 0x16 gives 1234 MHz" grep -q "cpuid 0x16: base 1234 MHz" "$out"
check "--avx2: the avx2 flag is there" grep -qE "^([^ ]+ )?flags.* avx2( |\$)" "$out"

# 2. the same without pinning: the same execution
run unpinned "${model[@]}"
summary() { grep -o 'stop=.*' "$work/$1.err" | sed 's/ clock-reads.*//'; }
echo "#   pinned:   $(summary pinned)"
echo "#   unpinned: $(summary unpinned)"
check "unpinned: the same exits, virtual time, trace, console and RAM hashes" \
  test -n "$(summary pinned)" -a "$(summary pinned)" = "$(summary unpinned)"

# 3. the default model: no avx2
run default
tr -d '\r' <"$work/default.out" >"$work/default.txt"
check "without --avx2 the guest has no avx2 flag (and the default vendor)" \
  test -n "$(grep 'vendor_id.*: GenuineIntel$' "$work/default.txt")" \
    -a -z "$(grep -E 'flags.* avx2( |$)' "$work/default.txt")"

# 4. AVX-512: given where the host has it, else a clear error before the guest runs
if grep -qw avx512f /proc/cpuinfo; then
  run avx512 --avx512 --max-exits 1000
  check "--avx512 on a host with AVX-512: the VM starts (exit 0)" test $? = 0
else
  run avx512 --avx512 --max-exits 1000
  rc=$?
  diag_file "$work/avx512.err"
  check "--avx512 on a host without it: exit 1 and the error says so" \
    test $rc = 1 -a -n "$(grep 'asks for AVX-512, which this host' "$work/avx512.err")"
fi
# 5. recorded: explore run keeps the processor in its target (checkpoint,
# bug files) and explore resume boots with the recorded one: its setup
# marker is a line only --tsc-khz 1234567 makes the guest print (the
# program stays: a VM that powered off would count as set up anyway)
"$cc" pack --output "$work/stay.initrd" --add "$prog" --cmd "$prog stay" 2>"$work/pack.err" ||
  diag_file "$work/pack.err"
xmodel=(--cpu-vendor ChaosCtlTest --cpu-family 25 --cpu-model 33 --tsc-khz 1234567)
"$cc" explore run --kernel "$kernel" --initrd "$work/stay.initrd" --vms 1 --rounds 1 \
  --branches 1 --branch-time 100ms --setup-marker "tsc 1234567 kHz" --output "$work/ex" \
  --quiet "${xmodel[@]}" >"$work/ex.out" 2>&1
rc=$?
diag_file "$work/ex.out"
check "explore run with the processor options: set up by the marker only it prints (exit 0)" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "0", "explore exit " + sys.argv[2]
c = d["target"]["cpu"]
assert c["vendor"] == "ChaosCtlTest" and c["family"] == 25 and c["model"] == 33, c
assert c["tsc_khz"] == 1234567 and c["avx2"] is False, c
assert int(d["setup_ns"]) > 0, d
' "$work/ex/checkpoint.json" "$rc"
"$cc" explore resume --corpus "$work/ex" --rounds 1 --quiet >"$work/res.out" 2>&1
rc=$?
diag_file "$work/res.out"
check "explore resume boots with the recorded processor (the marker again; exit 0)" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "0", "resume exit " + sys.argv[2]
assert int(d["branches_done"]) == 2, d["branches_done"]
' "$work/ex/checkpoint.json" "$rc"

# a value out of range, before any VM
"$cc" boot --kernel "$kernel" --cpu-family 5 --cpu-model 20 2>"$work/bad.err"
rc=$?
check "--cpu-model 20 with family 5: exit 2, the error explains" \
  test $rc = 2 -a -n "$(grep 'CPU model 20 is not in 0-15' "$work/bad.err")"
tap_done
