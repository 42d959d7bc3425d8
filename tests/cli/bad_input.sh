#!/usr/bin/env bash
# Bad input to `chaoscontrol boot` gives a clear error naming the problem
# and a non-zero exit, before anything runs (so this needs /dev/kvm but not
# one that can run Linux guests).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/bad-input.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 16

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

head -c 300000 "$kernel" >"$work/truncated"
printf 'not a kernel at all\n' >"$work/text"
head -c 64 /dev/urandom >"$work/small"
# An initrd too big for 40 MiB with the kernel at 16 MiB.
head -c $((30 << 20)) /dev/zero >"$work/big.initrd"

expect "a text file as --kernel" 1 "is not a Linux kernel" boot --kernel "$work/text"
expect "a tiny file as --kernel" 1 "is not a Linux kernel" boot --kernel "$work/small"
expect "the error names the file" 1 "$work/text" boot --kernel "$work/text"
expect "a truncated bzImage" 1 "truncated" boot --kernel "$work/truncated"
expect "a missing kernel" 1 "No such file" boot --kernel "$work/nope"
expect "a missing initrd" 1 "initrd '$work/nope': No such file" \
  boot --kernel "$kernel" --initrd "$work/nope"
expect "a directory as --initrd" 1 "not a regular file" boot --kernel "$kernel" --initrd "$work"
expect "memory too small for the kernel" 1 "memory too small for the kernel" \
  boot --kernel "$kernel" --initrd "$initrd" --mem 20M
expect "memory too small for the kernel and initrd" 1 "memory too small for the kernel and initrd" \
  boot --kernel "$kernel" --initrd "$work/big.initrd" --mem 40M
expect "memory beyond 3 GiB" 1 "between 2 MiB and 3 GiB" boot --kernel "$kernel" --mem 4G
expect "a malformed --mem" 2 "is not a size" boot --kernel "$kernel" --mem lots
expect "an unknown option" 2 "unknown option '--frobnicate'" boot --kernel "$kernel" --frobnicate
expect "a missing option value" 2 "needs a value" boot --kernel
expect "no --kernel" 2 "--kernel is required" boot
expect "--runs outside verify" 2 "only for 'verify'" boot --kernel "$kernel" --runs 3
expect "an unknown command" 2 "unknown command 'bogus'" bogus

tap_done
