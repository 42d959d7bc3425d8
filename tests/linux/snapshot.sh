#!/usr/bin/env bash
# Linux tier (issue 4): snapshots of a Linux guest.
#  - snapshot-demo: a run continued from a restore equals the original
#    continuation (trace hash, serial bytes, RAM hash); two restores are
#    identical; forks with equal seeds are identical, different seeds diverge;
#  - a snapshot saved to a file in one process, loaded in another and run to
#    the end gives the same result as booting straight through;
#  - snapshot info shows what the save summary said at the snapshot point.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/snapshot-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 16

"$cc" snapshot-demo --kernel "$kernel" --initrd "$initrd" >"$work/demo" 2>&1
rc=$?
diag_file "$work/demo"
demo_ok() { grep -q "\[ ok \] $1" "$work/demo"; }
check "snapshot-demo exits 0" [ $rc = 0 ]
check "restore: same exit trace hash" demo_ok "same exit trace hash"
check "restore: same serial bytes" demo_ok "same serial bytes"
check "restore: same RAM hash" demo_ok "same RAM hash"
check "two restores are identical" demo_ok "two restores of one snapshot give identical runs"
check "forks with equal seeds are identical" demo_ok "forks with equal seeds are identical"
check "forks with different seeds diverge" demo_ok "forks with different seeds diverge"

# Across processes: save at /init's first line, load in a new process.
"$cc" boot --kernel "$kernel" --initrd "$initrd" --rng --seed 5 --serial-out "$work/straight" \
  2>"$work/straight.err"
"$cc" snapshot save --kernel "$kernel" --initrd "$initrd" --rng --seed 5 \
  --until "hello: ChaosControl guest starting" --output "$work/s.ccsnap" 2>"$work/save.err"
check "snapshot save writes a file" [ -s "$work/s.ccsnap" ]
"$cc" snapshot info "$work/s.ccsnap" >"$work/info" 2>&1
rc=$?
diag_file "$work/info"
diag_file "$work/save.err"
# info must say what the save summary said at the snapshot point
at=$(grep -o 'snapshot at stop=.*' "$work/save.err")
s_exits=$(printf '%s' "$at" | sed -n 's/.* exits=\([0-9]*\) .*/\1/p')
s_vtime=$(printf '%s' "$at" | sed -n 's/.* vtime=\([0-9.]*\)s .*/\1/p')
s_trace=$(printf '%s' "$at" | sed -n 's/.* trace=\([0-9a-f]*\) .*/\1/p')
s_ram=$(printf '%s' "$at" | sed -n 's/.* ram=\([0-9a-f]*\) .*/\1/p')
fsize=$(stat -c %s "$work/s.ccsnap")
check "snapshot info: exit 0, the file and its size" \
  grep -q "^file: *$work/s.ccsnap ($fsize bytes, format version [0-9]*)" "$work/info"
check "snapshot info: 256 MiB of memory, some pages with data" \
  grep -qE '^memory: +256 MiB, [1-9][0-9]* pages with data' "$work/info"
check "snapshot info: the virtual time and exit count of the save (${s_vtime:-?} s, ${s_exits:-?} exits)" \
  grep -q "^virtual time: *${s_vtime:-x} s after ${s_exits:-x} exits$" "$work/info"
check "snapshot info: seed 5" grep -q '^seed: *5$' "$work/info"
check "snapshot info: the trace and RAM hashes of the save" \
  test -n "$s_trace" -a -n "$s_ram" -a $rc = 0 -a \
    "$(sed -n 's/^trace hash: *//p' "$work/info")" = "$s_trace" -a \
    "$(sed -n 's/^RAM hash: *//p' "$work/info")" = "$s_ram"
"$cc" snapshot load "$work/s.ccsnap" --serial-out "$work/loaded" 2>"$work/load.err"
sum() { grep -o 'stop=.*' "$1" | sed 's/ unknown-io=.*//'; }
diag_file "$work/straight.err"
diag_file "$work/load.err"
if [ -n "$(sum "$work/straight.err")" ] && [ "$(sum "$work/straight.err")" = "$(sum "$work/load.err")" ]; then
  ok "a snapshot loaded in a new process ends exactly like the straight run (stop, exits, vtime, trace, serial, RAM)"
else
  not_ok "a snapshot loaded in a new process ends exactly like the straight run"
fi
# The serial output after the snapshot point (just after the marker) is the
# straight run's tail, byte for byte.
pat="hello: ChaosControl guest starting"
off=$(grep -b -m1 -o "$pat" "$work/straight" | cut -d: -f1)
tail -c +$((off + ${#pat} + 1)) "$work/straight" >"$work/straight.tail"
check "the loaded run prints what the straight run printed after the snapshot point" \
  cmp -s "$work/straight.tail" "$work/loaded"
"$cc" snapshot save --kernel "$kernel" --initrd "$initrd" --rng --seed 5 \
  --until "hello: done" --output "$work/t.ccsnap" 2>/dev/null
"$cc" snapshot diff "$work/s.ccsnap" "$work/t.ccsnap" >"$work/diff" 2>&1
diag_file "$work/diff"
check "snapshot diff reports the pages that changed" grep -q 'page(s) differ' "$work/diff"
tap_done
