#!/usr/bin/env bash
# `chaoscontrol trace verify` on small hand-written recordings (no KVM, no
# bpftrace): "same" with exit 0; the first difference (thread, event index,
# both events, the events before it) with exit 1; a malformed, truncated or
# incomplete recording is exit 2 naming the file and line; option errors;
# and `trace record`'s own refusals that need no bpftrace.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/trace-verify.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 23

# run NAME STATUS PATTERN STREAM ARGS...: exit status STATUS and PATTERN
# (fixed string) in STREAM (out or err)
run() {
  local name=$1 want=$2 pattern=$3 stream=$4
  shift 4
  "$cc" trace "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ "$rc" = "$want" ] && grep -qF -- "$pattern" "$work/$stream"; then
    ok "$name"
    echo "#   $(grep -m1 -F -- "$pattern" "$work/$stream")"
  else
    not_ok "$name" "exit $rc (want $want), want '$pattern' in std$stream; stdout, stderr:"
    diag_file "$work/out"
    diag_file "$work/err"
  fi
}

# header FILE EVENTS [LOST]: a recording header for one thread
header() {
  cat >"$1" <<H
# chaoscontrol kvm-trace 2
# command: build/chaoscontrol boot --seed 1
# pid: 4242
# recorder: hand-written
# end: exit
# threads: 1
# thread 0: tid 4242, $2 events
# counted 0 exit:svm:io 3
# counted 0 exit:svm:interrupt ${4:-17}
# counted 0 entry 20
# events: $2
# lost: ${3:-0}
H
}

events() {  # events PIO_VALUE_OF_THE_THIRD
  cat <<E
0 exit reason=svm:io rip=0xffffffff81001234 info1=0x3f80210 info2=0xffffffff81001236 intr=0x0 err=0x0 vcpu=0
0 pio write=1 port=0x3f8 size=1 count=1 val=0x68
0 uexit reason=io errno=0 rip=0xffffffff81001234
0 exit reason=svm:io rip=0xffffffff81001234 info1=0x3f80210 info2=0xffffffff81001236 intr=0x0 err=0x0 vcpu=0
0 pio write=1 port=0x3f8 size=1 count=1 val=0x69
0 uexit reason=io errno=0 rip=0xffffffff81001234
0 virq vector=0x30 soft=0
0 exit reason=svm:io rip=0xffffffff81001234 info1=0x3f80210 info2=0xffffffff81001236 intr=0x0 err=0x0 vcpu=0
0 pio write=1 port=0x3f8 size=1 count=1 val=$1
0 uexit reason=io errno=0 rip=0xffffffff81001234
E
}

header "$work/a" 10; events 0x21 >>"$work/a"
header "$work/b" 10 0 23; events 0x21 >>"$work/b"     # host-induced counts differ
header "$work/c" 10; events 0x3f >>"$work/c"          # event 8 differs

run "same execution: exit 0, 'same: N events'" 0 "same: 10 events (3 exits, 3 userspace exits, 1 injected interrupts, 3 pio) in 1 thread" out verify "$work/a" "$work/b"
run "host-induced counts that differ are shown A/B, not compared" 0 "exit:svm:interrupt 17/23" out verify "$work/a" "$work/b"
run "a difference: exit 1, the thread and event index" 1 "different: thread 0, event 8 of that thread (A line 21, B line 21)" out verify "$work/a" "$work/c"
run "a difference: A's event" 1 "line 21: 0 pio write=1 port=0x3f8 size=1 count=1 val=0x21" out verify "$work/a" "$work/c"
run "a difference: B's event" 1 "line 21: 0 pio write=1 port=0x3f8 size=1 count=1 val=0x3f" out verify "$work/a" "$work/c"
run "a difference: the events before it" 1 "line 20: 0 exit reason=svm:io rip=0xffffffff81001234" out verify --context 2 "$work/a" "$work/c"

# B stops early: a prefix is a difference too.
header "$work/d" 7; events 0x21 | head -7 >>"$work/d"
run "one recording ends early: where" 1 "different: thread 0, event 7 of that thread: B ends there (7 events), the other goes on" out verify "$work/a" "$work/d"

# An interrupt window is its "uexit irq_window_open" with the rip (the
# window exits themselves are counted, not recorded: a window can open at
# a host exit instead).
win() {  # win RIP: a window at RIP
  printf '0 uexit reason=irq_window_open errno=0 rip=%s\n' "$1"
}
header "$work/h1" 12; { events 0x21 | head -3; win 0xffffffff81000020
  echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/h1"
header "$work/h3" 12; { events 0x21 | head -3; win 0xffffffff81000024
  echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/h3"
run "a window at another rip is a difference" 1 "line 16: 0 uexit reason=irq_window_open errno=0 rip=0xffffffff81000024" out verify "$work/h1" "$work/h3"

# An interrupt window SVM reported inside an STI shadow, which the VMM
# stepped out of (#DB at the instruction after), is the window there.
header "$work/w1" 14; { events 0x21 | head -3; win 0xffffffff81000010
  echo '0 exit reason=svm:excp_DB rip=0xffffffff81000020 info1=0x0 info2=0x0 intr=- err=- vcpu=0'
  echo '0 uexit reason=debug errno=0 rip=0xffffffff81000020'; echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/w1"
run "an STI-shadow window and its step read as the window after the step" 0 "interrupt windows reported in an STI shadow and stepped out of (counted where the VMM takes them; docs/trace.md): 1/0" out verify "$work/w1" "$work/h1"
run "... and compare equal event by event" 0 "same: 12 events (3 exits, 4 userspace exits, 2 injected interrupts, 3 pio)" out verify "$work/w1" "$work/h1"
header "$work/w2" 14; { events 0x21 | head -3; win 0xffffffff81000010
  echo '0 exit reason=svm:excp_DB rip=0xffffffff81000022 info1=0x0 info2=0x0 intr=- err=- vcpu=0'
  echo '0 uexit reason=debug errno=0 rip=0xffffffff81000022'; echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/w2"
# ... or whose step ends in the instruction's own exit (sti; hlt): that
# exit is what every run makes
hlt() { printf '0 exit reason=svm:hlt rip=%s info1=0x0 info2=0x0 intr=- err=- vcpu=0\n0 uexit reason=hlt errno=0 rip=%s\n' "$1" "$1"; }
header "$work/s1" 14; { events 0x21 | head -3; win 0xffffffff81000030; hlt 0xffffffff81000030
  echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/s1"
header "$work/s2" 13; { events 0x21 | head -3; hlt 0xffffffff81000030
  echo '0 virq vector=0x30 soft=0'; events 0x21 | tail -7; } >>"$work/s2"
run "an STI-shadow window whose step ends in the HLT is that HLT" 0 "same: 13 events (4 exits, 4 userspace exits, 2 injected interrupts, 3 pio)" out verify "$work/s1" "$work/s2"
run "a step that ends elsewhere is a difference" 1 "uexit reason=irq_window_open errno=0 rip=0xffffffff81000022" out verify "$work/w2" "$work/h1"

# Malformed recordings: file and line.
header "$work/m1" 10; events 0x21 | sed '5s/port=0x3f8 //' >>"$work/m1"
run "a line without a field: file:line" 2 "$work/m1:17: pio event without its field 'port'" err verify "$work/a" "$work/m1"
header "$work/m2" 10; events 0x21 | sed '3s/uexit/vmexit/' >>"$work/m2"
run "an unknown event: file:line" 2 "$work/m2:15: unknown event: 'vmexit reason=io errno=0 rip=0xffffffff81001234'" err verify "$work/m2" "$work/a"
header "$work/m3" 10; events 0x21 | sed '2s/^0 /x /' >>"$work/m3"
run "no thread number: file:line" 2 "$work/m3:14: an event line must start with its thread number" err verify "$work/a" "$work/m3"
header "$work/m4" 11; events 0x21 >>"$work/m4"
run "a truncated recording (event count)" 2 "$work/m4: the header says 11 events but the file has 10 (truncated or edited?)" err verify "$work/a" "$work/m4"
header "$work/m5" 10 5; events 0x21 >>"$work/m5"
run "an incomplete recording (lost events) is refused" 2 "$work/m5: an incomplete recording: 5 events were lost" err verify "$work/m5" "$work/a"
sed '1s/kvm-trace 2/kvm-trace 1/' "$work/a" >"$work/m7"
run "a format-1 recording: record again" 2 "$work/m7:1: a recording in format 1" err verify "$work/m7" "$work/a"
printf 'hello\n' >"$work/m6"
run "not a recording: file:1" 2 "$work/m6:1: not a chaoscontrol kvm trace" err verify "$work/a" "$work/m6"
run "a missing file is named" 2 "$work/nope: cannot read the recording" err verify "$work/a" "$work/nope"

# Options.
run "verify wants two files" 2 "want two recordings" err verify "$work/a"
run "record wants --pid or a command" 2 "give either --pid P or -- CMD" err record --output "$work/x"
run "record --pid of no process" 2 "--pid 'abc' is not a process id" err record --pid abc

tap_done
