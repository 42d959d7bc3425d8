#!/usr/bin/env bash
# Linux tier (issue 14): the virtual clock as an unmodified Go program sees
# it (tests/linux/gotime): time.Sleep(1ms) takes 1 ms of virtual time (not
# 0, not a 10 ms tick), a spin-wait on time.Since with no other exit ends
# (every read advances the clock by 1 ns at least, and 64 reads that find
# the shared page unchanged make an exit), CLOCK_REALTIME starts at the
# configured epoch, and two runs of one seed print exactly the same.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
prog=$build/tests/linux/gotime
work=$(mktemp -d "${TMPDIR:-/tmp}/clock-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 7

"$cc" pack --output "$work/g.initrd" --add "$prog" \
  --cmd "$prog" 2>"$work/pack.err" || { diag_file "$work/pack.err"; }
run() {   # run SEED NAME: console in NAME (NAME.txt without the tty's \r)
  "$cc" boot --kernel "$kernel" --initrd "$work/g.initrd" --mem 512M --seed "$1" \
    --serial-out "$work/$2" 2>"$work/$2.err"
  local rc=$?
  tr -d '\r' <"$work/$2" >"$work/$2.txt"
  return $rc
}
run 1 a; rca=$?
run 1 b; rcb=$?
grep '^gotime' "$work/a.txt" | sed 's/^/#   /'
check "the Go program runs to the end (status 0)" \
  test $rca = 0 -a -n "$(grep 'stop=poweroff .* status=0$' "$work/a.err")"
# sleep(1ms) took 1.066743ms
durs=$(sed -n 's/.*sleep(1ms) took \([0-9.]*\)\(ms\|µs\|us\)$/\1 \2/p' "$work/a.txt")
echo "# sleep(1ms) durations: $(echo $durs)"
good=$(echo "$durs" | awk '$2 == "ms" && $1 >= 1.0 && $1 < 1.5 {n++} END {print n + 0}')
check "every 1 ms sleep but the first takes 1 ms (1.0-1.5 ms; not 0, not 10 ms): $good of 5" \
  test "$good" -ge 4
reads=$(sed -n 's/.*spin-wait of 2ms: \([0-9]*\) clock reads$/\1/p' "$work/a.txt")
check "a spin-wait on the clock ends (${reads:-no} reads in 2 ms of virtual time)" \
  test -n "$reads" -a "${reads:-0}" -gt 100
check "CLOCK_REALTIME starts at the configured epoch (2026-01-01T00:00:00Z)" \
  grep -q "now 2026-01-01T00:00:00\.[0-9]*Z$" "$work/a.txt"
check "two runs of one seed print the same" cmp -s "$work/a" "$work/b"
h1=$(grep -o 'trace=[0-9a-f]* serial=[0-9a-f]* ram=[0-9a-f]*' "$work/a.err")
h2=$(grep -o 'trace=[0-9a-f]* serial=[0-9a-f]* ram=[0-9a-f]*' "$work/b.err")
echo "# run 1: $h1"
echo "# run 2: $h2"
check "and end with the same trace, serial and RAM hashes" test -n "$h1" -a "$h1" = "$h2"
run 2 c
check "another seed runs too (status 0)" grep -q 'stop=poweroff .* status=0$' "$work/c.err"
tap_done
