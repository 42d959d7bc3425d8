#!/usr/bin/env bash
# Linux tier: our VMM boots the hello guest and runs are bit-identical.
# Run it where KVM can run Linux guests: tools/kvm-host -- bash boot.sh.
#
#  - hello boots and its output is captured, ending in a clean power-off;
#  - verify --runs 5 --seed 1: identical exits, trace, serial and RAM hashes;
#  - getrandom bytes equal for equal seeds, different for seeds 1 and 2;
#  - printk timestamps identical across runs (and not all zero);
#  - the guest's monotonic clock covers a 100 ms sleep (virtual time).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/boot-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 10

boot() {   # boot SEED OUT: serial to OUT, summary to OUT.err
  "$cc" boot --kernel "$kernel" --initrd "$initrd" --seed "$1" \
    --serial-out "$2" 2>"$2.err"
}

boot 1 "$work/s1a"; rc=$?
if [ $rc = 0 ] && grep -q '^hello: done' "$work/s1a"; then
  ok "hello boots under chaoscontrol and its output is captured"
else
  not_ok "hello boots under chaoscontrol and its output is captured" "exit $rc"
  diag_file "$work/s1a.err"; tail -20 "$work/s1a" | diag_file /dev/stdin
fi
if grep -q 'stop=poweroff' "$work/s1a.err"; then ok "the guest powers off cleanly"
else not_ok "the guest powers off cleanly"; diag_file "$work/s1a.err"; fi

"$cc" verify --runs 5 --seed 1 --kernel "$kernel" --initrd "$initrd" >"$work/verify" 2>&1
rc=$?
diag_file "$work/verify"
if [ $rc = 0 ] && grep -q 'all 5 runs are identical' "$work/verify"; then
  ok "verify --runs 5: identical"
else
  not_ok "verify --runs 5: identical" "exit $rc"
fi
hashes=$(grep '^run ' "$work/verify" | sed 's/^run [0-9]*: //' | sort -u | wc -l)
check "verify: one distinct (exits, trace, serial, RAM) line over 5 runs" [ "$hashes" = 1 ]

boot 1 "$work/s1b"
boot 2 "$work/s2"
r1a=$(grep '^hello: getrandom:' "$work/s1a")
r1b=$(grep '^hello: getrandom:' "$work/s1b")
r2=$(grep '^hello: getrandom:' "$work/s2")
echo "# seed 1: $r1a"
echo "# seed 1: $r1b"
echo "# seed 2: $r2"
if [ -n "$r1a" ] && [ "$r1a" = "$r1b" ]; then ok "getrandom bytes are equal for equal seeds"
else not_ok "getrandom bytes are equal for equal seeds"; fi
if [ -n "$r2" ] && [ "$r1a" != "$r2" ]; then ok "getrandom bytes differ between seeds 1 and 2"
else not_ok "getrandom bytes differ between seeds 1 and 2"; fi

grep -o '^\[ *[0-9]*\.[0-9]*\]' "$work/s1a" >"$work/t1a"
grep -o '^\[ *[0-9]*\.[0-9]*\]' "$work/s1b" >"$work/t1b"
grep -o '^\[ *[0-9]*\.[0-9]*\]' "$work/s2" >"$work/t2"
check "printk timestamps are identical across runs with one seed" \
  cmp -s "$work/t1a" "$work/t1b"
check "printk timestamps do not depend on the seed either" cmp -s "$work/t1a" "$work/t2"
nonzero=$(grep -vc '\[ *0\.000000\]' "$work/t1a")
echo "# $(wc -l <"$work/t1a") printk lines, $nonzero with a non-zero timestamp, last $(tail -1 "$work/t1a")"
check "printk timestamps advance with virtual time" [ "$nonzero" -gt 0 ]
slept=$(tr -d '\r' <"$work/s1a" |
        sed -n 's/^hello: monotonic after a 100 ms sleep: \([0-9]*\)\.\([0-9]*\)$/\1\2/p')
echo "# hello: CLOCK_MONOTONIC after a 100 ms sleep: ${slept:-missing} ns"
desc="the guest's CLOCK_MONOTONIC covers a 100 ms sleep (virtual time, fast-forwarded)"
if [ -n "$slept" ] && [ "$((10#$slept))" -ge 100000000 ] && [ "$((10#$slept))" -lt 200000000 ]; then
  ok "$desc"
else
  not_ok "$desc" "got ${slept:-no line}"
fi

tap_done
