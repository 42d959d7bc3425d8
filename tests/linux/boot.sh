#!/usr/bin/env bash
# Linux tier: our VMM boots the hello guest and runs are bit-identical.
# Run it where KVM can run Linux guests: tools/kvm-host -- bash boot.sh.
#
#  - hello boots and its output is captured, ending in a clean power-off;
#  - verify --runs 5 --seed 1: identical exits, trace, serial and RAM hashes;
#  - getrandom bytes equal for equal seeds, different for seeds 1 and 2;
#  - printk timestamps identical across runs (and not all zero);
#  - the guest's monotonic clock covers a 100 ms sleep (virtual time);
#  - verify --seeds 1,2 --trace: the runs part, and verify names the first
#    divergent exit, which is where the two --trace files first differ;
#    the trace file has one line per exit, numbered;
#  - the ELF vmlinux boots too, to the same guest output;
#  - a guest that triple-faults (a tiny ELF: ud2 with no IDT) stops
#    abnormally with exit 1 and its registers shown; boot --regs shows them
#    at a clean stop too (a port loop stopped by --max-exits).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/boot-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 19

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

# verify with two seeds: a divergence, printed with its record number, which
# must be the first line where the two trace files differ.
"$cc" verify --seeds 1,2 --kernel "$kernel" --initrd "$initrd" --trace "$work/tr" \
  >"$work/vdiv" 2>"$work/vdiv.err"
rc=$?
diag_file "$work/vdiv"
if [ $rc = 1 ] && grep -q '^verify: runs differ' "$work/vdiv"; then
  ok "verify --seeds 1,2: the runs differ (exit 1)"
else
  not_ok "verify --seeds 1,2: the runs differ (exit 1)" "exit $rc"; diag_file "$work/vdiv.err"
fi
idx=$(sed -n 's/^run 2: first divergent record is #\([0-9]*\) of the trace (exit #[0-9]*):$/\1/p' "$work/vdiv")
exn=$(sed -n 's/^run 2: first divergent record is #[0-9]* of the trace (exit #\([0-9]*\)):$/\1/p' "$work/vdiv")
line1=$(sed -n 's/^  run 1: //p' "$work/vdiv")
line2=$(sed -n 's/^  run 2: //p' "$work/vdiv")
# the first differing line of the two trace files (1-based), and its text
first=$(cmp "$work/tr" "$work/tr.2" 2>/dev/null | sed -n 's/.* line \([0-9]*\)$/\1/p')
echo "# verify says record #${idx:-?}; the trace files first differ at line ${first:-?}"
if [ -n "$idx" ] && [ -n "$first" ] && [ "$first" = $((idx + 1)) ] &&
   [ "$(sed -n "${first}p" "$work/tr")" = "$line1" ] &&
   [ "$(sed -n "${first}p" "$work/tr.2")" = "$line2" ]; then
  ok "the first divergent record (#$idx) is where the --trace files first differ, same text"
else
  not_ok "the first divergent record is where the --trace files first differ" \
    "record '${idx:-none}', line '${first:-none}'" "run 1: $line1" "run 2: $line2" \
    "trace 1 there: $(sed -n "${first:-1}p" "$work/tr")" "trace 2 there: $(sed -n "${first:-1}p" "$work/tr.2")"
fi
exits1=$(sed -n 's/^run 1 (seed 1): stop=[a-z-]* exits=\([0-9]*\) .*/\1/p' "$work/vdiv")
# one record per exit and one per injected interrupt (which carries the
# number of the exit it was injected at), in exit order
lines1=$(wc -l <"$work/tr")
stats=$(awk '{ s = substr($1, 2) + 0; if (s < last) bad = 1; last = s; if ($3 != "inject") n++ }
  END { print n + 0, last, bad ? "no" : "yes" }' "$work/tr")
read -r nexit lastseq inorder <<<"$stats"
echo "# trace: $lines1 records, $nexit of them exits, last exit #$lastseq, in order: $inorder; run 1: ${exits1:-?} exits"
check "the --trace file: one record per exit (${nexit} records, ${exits1:-?} exits) plus injections, in exit order" \
  test -n "$exits1" -a "$nexit" = "${exits1:-x}" -a "$inorder" = yes
check "verify's exit number (#${exn:-?}) is that record's exit number" \
  test -n "$exn" -a "$(sed -n "${first:-1}p" "$work/tr" | cut -d' ' -f1)" = "#${exn:-x}"
check "each line has time, kind, address, size, data and rip" \
  grep -qE '^#[0-9]+ t=[0-9]+ [a-z_-]+ addr=0x[0-9a-f]+ size=[0-9]+ data=0x[0-9a-f]+ rip=0x[0-9a-f]+$' "$work/tr"

# the ELF vmlinux (not only the bzImage) boots to the same guest output
"$cc" boot --kernel "$build/kernel/vmlinux" --initrd "$initrd" --seed 1 \
  --serial-out "$work/elf" 2>"$work/elf.err"
rc=$?
if [ $rc = 0 ] && grep -q 'stop=poweroff' "$work/elf.err" && grep -q '^hello: done' "$work/elf"; then
  ok "the ELF vmlinux boots hello to a clean power-off"
else
  not_ok "the ELF vmlinux boots hello to a clean power-off" "exit $rc"
  diag_file "$work/elf.err"; tail -20 "$work/elf" | diag_file /dev/stdin
fi
g1=$(grep '^hello: ' "$work/s1a" | grep -v monotonic)
g2=$(grep '^hello: ' "$work/elf" | grep -v monotonic)
if [ -n "$g1" ] && [ "$g1" = "$g2" ]; then
  ok "its guest output (hello's lines) equals the bzImage boot's with the same seed"
else
  not_ok "its guest output equals the bzImage boot's" "bzImage:" "$g1" "vmlinux:" "$g2"
fi

# Tiny ELF "kernels": one whose entry is ud2 (no IDT: #UD, #DF, shutdown),
# and one that loops on port writes; registers shown at the stop.
python3 - "$work" <<'PY'
import struct, sys
def elf(path, code):
    ehdr = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,
                       2, 62, 1, 0x200000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x200000, 0x200000, len(code), len(code),
                       0x1000)
    img = ehdr + phdr
    open(path, "wb").write(img + b"\0" * (0x1000 - len(img)) + code)
elf(sys.argv[1] + "/ud2.elf", b"\x0f\x0b")                        # ud2
elf(sys.argv[1] + "/loop.elf", b"\xb0\x41\xe6\x80\xeb\xfa")  # mov al,0x41; out 0x80,al; jmp -6
PY
"$cc" boot --kernel "$work/ud2.elf" --max-exits 1000 >"$work/ud2.out" 2>"$work/ud2.err"
rc=$?
diag_file "$work/ud2.err"
check "a triple-faulting guest stops abnormally (stop=triple-fault, exit 1), registers shown" \
  test $rc = 1 -a -n "$(grep 'stop=triple-fault' "$work/ud2.err")" \
    -a -n "$(grep '^chaoscontrol: registers at the stop:' "$work/ud2.err")"
"$cc" boot --kernel "$work/loop.elf" --max-exits 10 --regs >"$work/loop.out" 2>"$work/loop.err"
rc=$?
diag_file "$work/loop.err"
rip=$(sed -n 's/^  rip \([0-9a-f]*\) .*/\1/p' "$work/loop.err")
check "boot --regs: registers where the run stopped (exit 10 of a port loop: rip ${rip:-?} in the loop, al 0x41)" \
  test $rc = 0 -a -n "$rip" -a "$((16#${rip:-0} >= 0x200000 && 16#${rip:-0} < 0x200006))" = 1 \
    -a -n "$(grep '  rax 0000000000000041 ' "$work/loop.err")"
tap_done
