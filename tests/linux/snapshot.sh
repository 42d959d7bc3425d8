#!/usr/bin/env bash
# Linux tier (issue 4): snapshots of a Linux guest.
#  - snapshot-demo: a run continued from a restore equals the original
#    continuation (trace hash, serial bytes, RAM hash); two restores are
#    identical; forks with equal seeds are identical, different seeds diverge;
#  - a snapshot saved to a file in one process, loaded in another and run to
#    the end gives the same result as booting straight through.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/snapshot-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 11

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
diag_file "$work/info"
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
