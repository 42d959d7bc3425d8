#!/usr/bin/env bash
# Linux tier (issue 14): an image made by `chaoscontrol pack` runs an
# unmodified, dynamically linked glibc program (tests/linux/packed_prog.c):
# cc-init sets up the machine, the program finds its identity, the VM names
# (glibc's resolver over /etc/hosts), /dev/shm, a clock that increases, and
# a UDP peer over eth0; its output comes with a per-process prefix and its
# exit status (3) reaches the run summary. guests/sdk-voidstar built against
# glibc, packed with the glibc libvoidstar.so (sdk/host), reports its
# assertions, random values and coverage through `chaoscontrol run`.
#   tools/kvm-host -- bash tests/linux/pack.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd)
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
prog=$build/tests/linux/packed_prog
work=$(mktemp -d "${TMPDIR:-/tmp}/pack-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 16

"$cc" pack --output "$work/p.initrd" --add "$prog" --cmd "$prog" --list >"$work/list" 2>"$work/pack.err"
rc=$?
check "pack writes the image (exit 0)" test $rc = 0 -a -s "$work/p.initrd"
check "it holds the program, glibc's loader and libc" \
  grep -q "^/lib/x86_64-linux-gnu/libc.so.6 " "$work/list"

"$cc" boot --kernel "$kernel" --initrd "$work/p.initrd" --seed 4 --serial-out "$work/one" \
  2>"$work/one.err"
rc=$?
diag_file "$work/one.err"
grep 'packed' "$work/one" | sed 's/^/#   /'
check "one VM: the program says who it is, with its prefix" \
  grep -qE "^packed_prog\[[0-9]+\]: packed: I am node0 of 1 VMs" "$work/one"
check "the kernel has what servers use (epoll, eventfd, inotify, memfd, pipes, prlimit, SO_REUSEPORT, IPv6, netlink route)" \
  grep -q "packed: server features: all 9 present" "$work/one"
check "/dev/shm is tmpfs and two clock reads increase" \
  test -n "$(grep 'tmpfs: yes' "$work/one")" -a -n "$(grep 'clock reads increase' "$work/one")"
check "its exit status reaches the summary (stop=poweroff status=3)" \
  grep -q "stop=poweroff .* status=3$" "$work/one.err"
check "and boot exits 0 (the guest stopped cleanly)" test $rc = 0

mkdir -p "$work/sim"
"$cc" sim --vms 2 --kernel "$kernel" --initrd "$work/p.initrd" --duration 10s --seed 4 \
  --serial-dir "$work/sim" >"$work/sim.out" 2>"$work/sim.err"
rc=$?
grep -h 'packed' "$work/sim"/vm*.log | sed 's/^/#   /'
check "two VMs: node0 resolves node1 to 10.0.0.2" grep -q "packed: 10.0.0.2 resolves" "$work/sim/vm0.log"
check "node1 resolves node0 to 10.0.0.1" grep -q "packed: 10.0.0.1 resolves" "$work/sim/vm1.log"
check "they exchange UDP over eth0" \
  test -n "$(grep 'received "hello from node1"' "$work/sim/vm0.log")" \
    -a -n "$(grep 'received "hello from node0"' "$work/sim/vm1.log")"
check "both power off with status 3 (sim exit 0)" \
  test $rc = 0 -a "$(grep -c 'the command exited with status 3' "$work/sim"/vm*.log | awk -F: '{s+=$2} END {print s}')" = 2
# explore takes the same image unchanged: no SDK, so setup is the console
# marker; one round of two short branches from the setup snapshot.
"$cc" explore run --kernel "$kernel" --initrd "$work/p.initrd" --vms 2 \
  --setup-marker "packed: I am" --rounds 1 --branches 2 --branch-time 300ms \
  --output "$work/ex" --quiet >"$work/ex.out" 2>&1
rc=$?
diag_file "$work/ex.out"
check "explore on the packed image: set up by --setup-marker, 2 branches, no bug (exit 0)" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[2] == "0", "explore exit " + sys.argv[2]
assert int(d["branches_done"]) == 2 and int(d["setup_ns"]) > 0, d
' "$work/ex/checkpoint.json" "$rc"

# The libvoidstar shim with a glibc program (the Antithesis SDKs' way in).
vs=$build/tests/linux/sdk-voidstar-glibc
"$cc" pack --output "$work/v.initrd" --add "$vs" \
  --file "$build/sdk/host/libvoidstar.so:/usr/lib/libvoidstar.so" --cmd "$vs" \
  2>"$work/vpack.err" || diag_file "$work/vpack.err"
"$cc" run --kernel "$kernel" --initrd "$work/v.initrd" --seed 1 --json "$work/v.json" \
  --serial-out "$work/v.out" >"$work/v.table" 2>"$work/v.err"
rc=$?
grep 'sdk-voidstar' "$work/v.out" | sed 's/^/#   /'
check "glibc sdk-voidstar with the glibc shim runs to the end (exit 0)" \
  test $rc = 0 -a -n "$(grep 'sdk-voidstar: done' "$work/v.out")"
check "its 6 assertions arrive; Always passed, Sometimes passed, never reached: unexercised" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = {x["message"]: x for x in d["assertions"]}
assert len(a) == 6, a.keys()
assert a["voidstar: totals add up"]["verdict"] == "passed"
assert a["voidstar: a big random value"]["verdict"] == "passed"
assert a["voidstar: never reached at all"]["verdict"] == "unexercised"
' "$work/v.json"
check "its 4 random values are logged choices and its edges arrive through the shim; cc-init (no tests configured) made no SDK call" \
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["choices"]) == 4, d["choices"]
assert int(d["coverage"]["edges"]) > 0, d["coverage"]
hello = [e["name"] for e in d["events"] if e["kind"] == "hello"]
assert hello == ["sdk-voidstar-glibc"], hello
' "$work/v.json"
"$cc" run --kernel "$kernel" --initrd "$work/v.initrd" --seed 1 --append VOIDSTAR_FAIL=1 \
  --quiet >"$work/vf.out" 2>&1
rc=$?
diag_file "$work/vf.out"
check "VOIDSTAR_FAIL=1: the failed Always stops the run (exit 1, named)" \
  test $rc = 1 -a -n "$(grep 'voidstar: totals add up' "$work/vf.out")"
tap_done
