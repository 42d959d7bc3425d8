#!/usr/bin/env bash
# Bad input to every command that boots a guest gives a clear error naming
# the file and the problem, and a non-zero exit, before /dev/kvm is opened:
# so the same error on every machine, with or without KVM. Each case runs
# again under strace, which must show no open of /dev/kvm.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/bad-input.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

command -v strace >/dev/null || { echo "Bail out! strace not found (scripts/deps.sh installs it)"; exit 1; }

tap_plan 76

# expect NAME STATUS PATTERN ARGS...: exit status STATUS, PATTERN in stderr,
# and no attempt to open /dev/kvm
expect() {
  local name=$1 want=$2 pattern=$3
  shift 3
  "$cc" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  # again under strace (LeakSanitizer cannot run under ptrace: off there)
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -e trace=open,openat -o "$work/strace" "$cc" "$@" >/dev/null 2>&1
  if grep -q '"/dev/kvm"' "$work/strace"; then
    not_ok "$name" "/dev/kvm was opened before the input was checked:"
    grep '"/dev/kvm"' "$work/strace" | head -2 | sed 's/^/#   | /'
    diag_file "$work/err"
  elif [ "$rc" = "$want" ] && grep -q -- "$pattern" "$work/err"; then
    ok "$name"
    echo "#   $(grep -m1 -- "$pattern" "$work/err")"
  else
    not_ok "$name" "exit $rc (want $want), stderr:"
    diag_file "$work/err"
  fi
}

head -c 300000 "$kernel" >"$work/truncated"
printf 'not a kernel at all\n' >"$work/text"
head -c 64 /dev/urandom >"$work/small"
# An initrd too big for 40 MiB with the kernel at 16 MiB.
head -c $((30 << 20)) /dev/zero >"$work/big.initrd"
: >"$work/empty.img"
printf 'not a snapshot\n' >"$work/garbage.snap"
printf '{"version": 1, "faults": [{"at": "1s", "type": "meteor"}]}\n' >"$work/meteor.json"
# An ELF that is not for x86_64 (this shell's own ELF header, machine patched).
head -c 4096 /bin/sh >"$work/arm.elf"
printf '\xb7\x00' | dd of="$work/arm.elf" bs=1 seek=18 conv=notrunc 2>/dev/null

# boot
expect "a text file as --kernel" 1 "is not a Linux kernel" boot --kernel "$work/text"
expect "a tiny file as --kernel" 1 "is not a Linux kernel" boot --kernel "$work/small"
expect "the error names the file" 1 "$work/text" boot --kernel "$work/text"
expect "a truncated bzImage" 1 "truncated" boot --kernel "$work/truncated"
expect "an ELF for another machine" 1 "ELF file is not for x86_64" boot --kernel "$work/arm.elf"
expect "a missing kernel" 1 "No such file" boot --kernel "$work/nope"
expect "a missing initrd" 1 "initrd '$work/nope': No such file" \
  boot --kernel "$kernel" --initrd "$work/nope"
expect "a directory as --initrd" 1 "not a regular file" boot --kernel "$kernel" --initrd "$work"
expect "memory too small for the kernel" 1 "memory too small for the kernel" \
  boot --kernel "$kernel" --initrd "$initrd" --mem 20M
expect "memory too small for the kernel and initrd" 1 "memory too small for the kernel and initrd" \
  boot --kernel "$kernel" --initrd "$work/big.initrd" --mem 40M
expect "memory beyond 3 GiB" 1 "between 2 MiB and 3 GiB" boot --kernel "$kernel" --mem 4G
expect "a missing disk image" 1 "cannot open disk image $work/nope" \
  boot --kernel "$kernel" --initrd "$initrd" --disk-image "$work/nope"
expect "an empty disk image" 1 "disk image $work/empty.img is empty" \
  boot --kernel "$kernel" --initrd "$initrd" --disk-image "$work/empty.img"
expect "a directory as disk image" 1 "is not a regular file" \
  boot --kernel "$kernel" --initrd "$initrd" --disk-image "$work"
expect "a malformed --mem" 2 "is not a size" boot --kernel "$kernel" --mem lots
expect "an unknown option" 2 "unknown option '--frobnicate'" boot --kernel "$kernel" --frobnicate
expect "a missing option value" 2 "needs a value" boot --kernel
# Without --kernel: kernel/bzImage beside the program (build/kernel/ here, or
# the installed one). A copy of the program elsewhere has none, or the one
# put beside it.
mkdir -p "$work/alone"
cp "$cc" "$work/alone/chaoscontrol"
cc=$work/alone/chaoscontrol expect "no --kernel and no default kernel" 2 "--kernel is required (no default kernel" boot
mkdir "$work/alone/kernel"
echo "not a kernel" >"$work/alone/kernel/bzImage"
cc=$work/alone/chaoscontrol expect "no --kernel: the default kernel beside the program" 1 \
  "kernel '$work/alone/kernel/bzImage' is not a Linux kernel" boot --initrd "$initrd"
expect "no --kernel: build/kernel/bzImage (the next error, the disk image's)" 1 \
  "cannot open disk image $work/nope" boot --initrd "$initrd" --disk-image "$work/nope"
expect "--runs outside verify" 2 "only for 'verify'" boot --kernel "$kernel" --runs 3
expect "an unknown command" 2 "unknown command 'bogus'" bogus

# the other commands that boot
expect "verify: a text file as --kernel" 1 "is not a Linux kernel" verify --kernel "$work/text" --runs 2
expect "verify: a truncated bzImage" 1 "truncated" verify --kernel "$work/truncated"
expect "run: a text file as --kernel" 1 "is not a Linux kernel" run --kernel "$work/text"
expect "run: a missing initrd" 1 "initrd '$work/nope': No such file" \
  run --kernel "$kernel" --initrd "$work/nope"
expect "sim: a text file as --kernel" 2 "is not a Linux kernel" sim --vms 2 --kernel "$work/text"
expect "sim: memory too small" 2 "memory too small for the kernel" \
  sim --vms 2 --kernel "$kernel" --initrd "$initrd" --mem 20M
expect "sim: an empty disk image" 2 "disk image $work/empty.img is empty" \
  sim --vms 2 --kernel "$kernel" --initrd "$initrd" --disk-image "$work/empty.img"
expect "sim: a bad schedule" 2 "unknown fault type 'meteor'" \
  sim --vms 2 --kernel "$kernel" --initrd "$initrd" --schedule "$work/meteor.json"
expect "explore run: a truncated kernel" 2 "truncated" \
  explore run --kernel "$work/truncated" --initrd "$initrd" --vms 2 --rounds 1 --branches 1 \
  --output "$work/x1"
expect "explore run: a directory as disk image" 2 "is not a regular file" \
  explore run --kernel "$kernel" --initrd "$initrd" --vms 2 --rounds 1 --branches 1 \
  --output "$work/x2" --disk-image "$work"
expect "snapshot save: a text file as --kernel" 1 "is not a Linux kernel" \
  snapshot save --kernel "$work/text" --output "$work/s.snap" --max-exits 10
expect "snapshot load: not a snapshot" 1 "is not a ChaosControl snapshot" \
  snapshot load "$work/garbage.snap"
expect "snapshot load: a missing file" 1 "No such file" snapshot load "$work/nope.snap"
expect "snapshot info: not a snapshot" 1 "is not a ChaosControl snapshot" \
  snapshot info "$work/garbage.snap"
expect "snapshot diff: not a snapshot" 1 "is not a ChaosControl snapshot" \
  snapshot diff "$work/garbage.snap" "$work/garbage.snap"
expect "snapshot-demo: a truncated kernel" 1 "truncated" snapshot-demo --kernel "$work/truncated"
expect "minimize: a missing bug file" 2 "$work/nope.json" \
  minimize --bug "$work/nope.json" --output "$work/m.json"
expect "reproduce: not JSON" 2 "$work/meteor.json" reproduce --bug "$work/meteor.json"

# SMP options (--cpus, --vcpu-schedule, --vcpu-quantum) on every command that creates VMs
expect "boot: --cpus 0" 2 "boot: --cpus '0' is not a number of vCPUs (1-8)" \
  boot --kernel "$kernel" --cpus 0
expect "verify: --cpus 9" 2 "verify: --cpus '9' is not a number of vCPUs (1-8)" \
  verify --kernel "$kernel" --cpus 9
expect "boot: --vcpu-schedule fifo" 2 "boot: --vcpu-schedule 'fifo': want rr or random" \
  boot --kernel "$kernel" --cpus 2 --vcpu-schedule fifo
expect "snapshot save: --vcpu-quantum 0" 2 "snapshot save: --vcpu-quantum '0' is not a number of exits" \
  snapshot save --kernel "$kernel" --output "$work/s.snap" --max-exits 10 --vcpu-quantum 0
expect "snapshot load: the snapshot fixes the vCPUs" 2 "the snapshot's VM keeps the vCPUs" \
  snapshot load "$work/garbage.snap" --cpus 2
expect "run: --cpus two" 2 "run: --cpus 'two' is not a number of vCPUs" \
  run --kernel "$kernel" --cpus two
expect "run: --vcpu-quantum -5" 2 "run: --vcpu-quantum '-5' is not a number of exits" \
  run --kernel "$kernel" --vcpu-quantum -5
expect "sim: --cpus 16" 2 "sim: --cpus '16' is not a number of vCPUs (1-8)" \
  sim --vms 2 --kernel "$kernel" --cpus 16
expect "sim: --vcpu-schedule RR" 2 "sim: --vcpu-schedule 'RR': want rr or random" \
  sim --vms 2 --kernel "$kernel" --vcpu-schedule RR
expect "explore run: --vcpu-quantum 4294967296" 2 \
  "explore run: --vcpu-quantum '4294967296' is not a number of exits (1-4294967295)" \
  explore run --kernel "$kernel" --initrd "$initrd" --vms 2 --rounds 1 --branches 1 \
  --output "$work/x3" --cpus 2 --vcpu-quantum 4294967296
"$cc" boot --print-cmdline >"$work/cl1" 2>&1
"$cc" boot --print-cmdline --cpus 2 --append "x=1" >"$work/cl2" 2>&1
check "boot --print-cmdline: one vCPU: noapic nolapic" grep -q "noapic nolapic" "$work/cl1"
check "boot --print-cmdline --cpus 2: the SMP command line, with --append" \
  bash -c 'grep -q "cc_pv_yield.* x=1$" "$1" && ! grep -q nolapic "$1"' _ "$work/cl2"
for c in boot run sim "explore run"; do
  $cc $c --help >"$work/help" 2>&1
  check "$c --help lists --cpus, --vcpu-schedule and --vcpu-quantum" \
    bash -c 'grep -q -- "--cpus N" "$1" && grep -q -- "--vcpu-schedule S" "$1" &&
             grep -q -- "--vcpu-quantum N" "$1"' _ "$work/help"
done

# The processor (--cpu-*, --tsc-khz, --avx*) and --pin-cpu (docs/cpu.md)
expect "boot: --cpu-vendor of 3 characters" 2 \
  "boot: --cpu-vendor 'AMD': a CPU vendor is exactly 12 characters" \
  boot --kernel "$kernel" --cpu-vendor AMD
expect "verify: --cpu-family 0" 2 "verify: --cpu-family '0': not a CPU family (1-270)" \
  verify --kernel "$kernel" --cpu-family 0
expect "boot: --cpu-model 20 with --cpu-family 5" 2 \
  "boot: CPU model 20 is not in 0-15 (models above 15 need family 6 or 15 and above" \
  boot --kernel "$kernel" --cpu-family 5 --cpu-model 20
expect "snapshot save: --cpu-stepping 16" 2 "snapshot save: --cpu-stepping '16': not a stepping (0-15)" \
  snapshot save --kernel "$kernel" --output "$work/s.snap" --cpu-stepping 16
expect "run: --cpu-brand of 49 characters" 2 "run: --cpu-brand '.*': a brand string is at most 48" \
  run --kernel "$kernel" --cpu-brand "$(printf 'b%.0s' $(seq 49))"
expect "run: --cpu-vendor with a tab" 2 "must be exactly 12 printable ASCII characters" \
  run --kernel "$kernel" --cpu-vendor "$(printf 'Genuine\tntel')"
expect "sim: --tsc-khz 999" 2 "sim: --tsc-khz '999': not a TSC frequency in kHz (1000-10000000" \
  sim --vms 2 --kernel "$kernel" --tsc-khz 999
expect "explore run: --cpu-model 256" 2 "explore run: --cpu-model '256': not a CPU model (0-255" \
  explore run --kernel "$kernel" --initrd "$initrd" --vms 2 --rounds 1 --branches 1 \
  --output "$work/x4" --cpu-model 256
expect "snapshot load: the snapshot fixes the processor" 2 \
  "the snapshot's VM keeps the processor it was saved with" \
  snapshot load "$work/garbage.snap" --tsc-khz 2000000
expect "explore worker: the target fixes the processor" 2 \
  "option '--avx2' does not apply to this command" explore worker --redis unix:///nope --avx2
expect "boot: --pin-cpu 3-1" 2 "boot: --pin-cpu '3-1': the range '3-1' is backwards" \
  boot --kernel "$kernel" --pin-cpu 3-1
expect "run: --pin-cpu 0,0" 2 "run: --pin-cpu '0,0': core 0 is listed twice" \
  run --kernel "$kernel" --pin-cpu 0,0
expect "sim: --pin-cpu x" 2 "sim: --pin-cpu 'x': 'x' is not a core number" \
  sim --vms 2 --kernel "$kernel" --pin-cpu x
expect "explore run: --pin-cpu 1023 (not an allowed core)" 2 \
  "explore run: --pin-cpu '1023': core 1023 is not one this process may run on" \
  explore run --kernel "$kernel" --initrd "$initrd" --vms 2 --rounds 1 --branches 1 \
  --output "$work/x5" --pin-cpu 1023
expect "reproduce: --pin-cpu ''" 2 "reproduce: --pin-cpu '': an empty list of cores" \
  reproduce --bug "$work/meteor.json" --pin-cpu ''
for c in boot verify run sim "explore run"; do
  $cc $c --help >"$work/help" 2>&1
  check "$c --help lists the processor options and --pin-cpu" \
    bash -c 'for o in "--cpu-vendor S" "--cpu-family N" "--cpu-model N" "--cpu-stepping N" \
                      "--cpu-brand S" "--tsc-khz N" "--\[no-\]avx2" "--\[no-\]avx512" \
                      "--pin-cpu LIST"; do
               grep -q -- "^  $o " "$1" || { echo "no $o"; exit 1; }; done' _ "$work/help"
done

tap_done
