#!/usr/bin/env bash
# Linux tier (issue 17): SMP guests, serialized and deterministic.
# Run it where KVM can run Linux guests: tools/kvm-host -- bash smp.sh.
#
#  1. 2- and 4-vCPU guests boot and see all their CPUs (sysconf and
#     /proc/cpuinfo inside the guest);
#  2. guests/smp-race (threads adding to a counter with and without a
#     lock): the locked counter is always right; `verify --runs 10` of a
#     4-vCPU run is bit-identical (exits, trace, serial, RAM hash);
#     different seeds interleave differently (the unlocked counter's final
#     value differs);
#     a Go program (GOMAXPROCS=4) on 4 vCPUs gives identical runs;
#  3. snapshot-demo on a 4-vCPU guest: a restored run and forks continue
#     exactly as the original (trace, serial and RAM hashes); a snapshot
#     file of a 4-vCPU guest loads in another process and ends as the
#     straight run; loading it with the wrong --cpus is refused;
#  4. the planted race (mode=race: an unlocked lazy initialisation guarded
#     by an ALWAYS) is decided by the vCPU schedule alone: a sim passes with
#     no event and fails, twice at the same exit, with one vcpu_schedule
#     event; the explorer finds it with --faults vcpu (nothing else varies:
#     the guest draws no random value) and reproduce replays it;
#  5. the cost of SMP: the same workload with 1 and 4 vCPUs (wall time and
#     exits per virtual second, printed; not a timed test).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=${CC_KERNEL:-$build/kernel/bzImage}
initrd=$build/guests/smp-race.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/smp-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 23

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

boot() {   # boot OUT ARGS...: serial to OUT, summary to OUT.err
  local out=$1
  shift
  "$cc" boot --kernel "$kernel" --initrd "$initrd" --serial-out "$out" "$@" 2>"$out.err"
}

# 1. CPUs seen by the guest
for n in 2 4; do
  t0=$SECONDS
  boot "$work/cpus$n" --cpus "$n" --append "iters=5"
  rc=$?
  echo "# --cpus $n: exit $rc in $((SECONDS - t0)) s: $(grep -o 'stop=.*exits=[0-9]* vtime=[0-9.]*s' "$work/cpus$n.err")"
  if [ $rc = 0 ] && grep -q "^smp-race: cpus online=$n cpuinfo=$n.\?$" "$work/cpus$n" &&
     grep -q 'stop=poweroff' "$work/cpus$n.err"; then
    ok "a $n-vCPU guest boots, sees $n CPUs (sysconf, /proc/cpuinfo) and powers off"
  else
    not_ok "a $n-vCPU guest boots, sees $n CPUs (sysconf, /proc/cpuinfo) and powers off" "exit $rc"
    diag_file "$work/cpus$n.err"; tail -25 "$work/cpus$n" >"$work/cpus$n.tail"
    diag_file "$work/cpus$n.tail"
  fi
done
check "the kernel brought the APs up (\"smp: Brought up 1 node, 4 CPUs\")" \
  grep -q 'Brought up 1 node, 4 CPUs' "$work/cpus4"

# 2. counters: locked always right, runs bit-identical, seeds interleave differently
counts() { grep -o 'locked=[0-9]* unlocked=[0-9]* expected=[0-9]*' "$1"; }
"$cc" verify --runs 10 --seed 1 --cpus 4 --vcpu-schedule random --kernel "$kernel" \
  --initrd "$initrd" >"$work/verify" 2>&1
rc=$?
diag_file "$work/verify"
if [ $rc = 0 ] && grep -q 'all 10 runs are identical' "$work/verify"; then
  ok "verify --runs 10 --cpus 4 --vcpu-schedule random: identical"
else
  not_ok "verify --runs 10 --cpus 4 --vcpu-schedule random: identical" "exit $rc"
fi
lines=$(grep '^run ' "$work/verify" | sed 's/^run [0-9]*: //' | sort -u | wc -l)
check "verify: one distinct (exits, trace, serial, RAM hash) line over 10 runs" [ "$lines" = 1 ]
"$cc" verify --runs 3 --seed 1 --cpus 2 --kernel "$kernel" --initrd "$initrd" \
  >"$work/verify2" 2>&1
check "verify --runs 3 --cpus 2 (round robin): identical" \
  grep -q 'all 3 runs are identical' "$work/verify2"

declare -A seen=()
good=0
for s in 1 2 3 4 5 6; do
  boot "$work/c$s" --cpus 4 --vcpu-schedule random --seed "$s"
  c=$(counts "$work/c$s")
  echo "# seed $s: $c"
  set -- $(echo "$c" | tr -c '0-9\n' ' ')
  [ $# = 3 ] && [ "$1" = "$3" ] && good=$((good + 1))
  [ $# = 3 ] && seen[$2]=1
done
check "the locked counter is right in all 6 seeds" [ "$good" = 6 ]
check "the unlocked counter differs across seeds (${#seen[@]} distinct values in 6)" \
  [ "${#seen[@]}" -ge 2 ]
boot "$work/c1b" --cpus 4 --vcpu-schedule random --seed 1
check "the same seed gives the same unlocked count and serial bytes" cmp -s "$work/c1" "$work/c1b"

# 2b. an unmodified Go program (tests/linux/gotime; GOMAXPROCS is the CPU
# count, 4) on 4 vCPUs: bit-identical runs, status 0
gobin=$(cd "$build" && pwd)/tests/linux/gotime
"$cc" pack --output "$work/go.initrd" --add "$gobin" --cmd "$gobin" 2>"$work/gopack.err" ||
  diag_file "$work/gopack.err"
"$cc" verify --runs 3 --seed 1 --cpus 4 --vcpu-schedule random --mem 512M --kernel "$kernel" \
  --initrd "$work/go.initrd" >"$work/goverify" 2>&1
diag_file "$work/goverify"
check "a Go program with GOMAXPROCS=4 on 4 vCPUs: verify --runs 3 identical, status 0" \
  eval 'grep -q "all 3 runs are identical" "$work/goverify" && grep -q "^run 1: .*status=0$" "$work/goverify"'

# 3. snapshot, restore and fork of a 4-vCPU guest: smp-race's threads
# continuing from a snapshot taken before they start
"$cc" snapshot-demo --cpus 4 --vcpu-schedule random --kernel "$kernel" --initrd "$initrd" \
  --until "smp-race: cpus" >"$work/demo2" 2>&1
diag_file "$work/demo2"
demo_ok() { grep -q "\[ ok \] $1" "$work/demo2"; }
check "4 vCPUs, 4 threads: a restored run has the same trace, serial and RAM hashes" \
  eval 'demo_ok "same exit trace hash" && demo_ok "same serial bytes" && demo_ok "same RAM hash"'
check "4 vCPUs, 4 threads: two restores are identical, equal-seed forks are identical, the file too" \
  eval 'demo_ok "two restores of one snapshot give identical runs" && demo_ok "forks with equal seeds are identical" && demo_ok "the run from the file equals the original continuation"'
# forks with other seeds take other interleavings (the fork's seed reseeds
# the vCPU scheduler): seeds 100, 200, 300 give three different traces
traces=$(grep -o 'fork [0-9] (seed [0-9]*): .*trace [0-9a-f]*' "$work/demo2" | sed 's/.*trace //' | sort -u | wc -l)
check "4 vCPUs: forks with seeds 100, 100, 200, 300 give 3 distinct exit traces ($traces)" \
  [ "$traces" = 3 ]

boot "$work/straight" --cpus 4 --vcpu-schedule random --seed 7
"$cc" snapshot save --kernel "$kernel" --initrd "$initrd" --cpus 4 --vcpu-schedule random \
  --seed 7 --until "smp-race: cpus" --output "$work/s.ccsnap" 2>"$work/save.err"
"$cc" snapshot load "$work/s.ccsnap" --serial-out "$work/loaded" 2>"$work/load.err"
rc=$?
a=$(grep -o 'stop=.*' "$work/straight.err")
b=$(grep -o 'stop=.*' "$work/load.err")
echo "# straight: $a"
echo "# loaded:   $b"
if [ $rc = 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] &&
   [ "$(counts "$work/straight")" = "$(counts "$work/loaded")" ]; then
  ok "a 4-vCPU snapshot loaded in a new process ends exactly as the straight run"
else
  not_ok "a 4-vCPU snapshot loaded in a new process ends exactly as the straight run" "exit $rc"
  diag_file "$work/load.err"
fi
check "snapshot info says 4 vCPUs" eval '"$cc" snapshot info "$work/s.ccsnap" | grep -q "^vcpus: *4 (scheduler random"'
"$cc" snapshot load "$work/s.ccsnap" --cpus 2 >"$work/wrong.out" 2>&1
rc=$?
diag_file "$work/wrong.out"
check "snapshot load refuses --cpus (the snapshot fixes the vCPUs; exit $rc)" [ $rc = 2 ]

# 4. the planted race, decided by the vCPU schedule alone (the guest draws
# no random value): with no fault a sim passes; one vcpu_schedule event
# (seed 1) at 5 ms makes the lazy initialisation run twice, every time;
# the explorer finds it with --faults vcpu, and reproduce replays it.
race_sim() {   # race_sim NAME [SCHEDULE]
  "$cc" sim --vms 1 --kernel "$kernel" --initrd "$initrd" --cpus 3 --vcpu-schedule random \
    --append "mode=race threads=3" --duration 1s --seed 1 ${2:+--schedule "$2"} \
    --json "$work/$1.json" >"$work/$1.out" 2>&1
}
failure() { json "$1" '(d.get("failures") or [{}])[0].get("message", "none")' 2>/dev/null; }
race_sim race0
check "the race guest passes with no schedule event (failure: $(failure "$work/race0.json"))" \
  [ "$(failure "$work/race0.json")" = none ]
echo '{"version": 1, "faults": [{"at": "5ms", "type": "vcpu_schedule", "vm": 0, "seed": 1}]}' \
  >"$work/race.sched"
race_sim race1 "$work/race.sched"
race_sim race1b "$work/race.sched"
check "one vcpu_schedule event alone makes it fail (\"$(failure "$work/race1.json")\"), twice at the same exit" \
  eval '[ "$(failure "$work/race1.json")" = "lazy initialisation runs once" ] &&
        [ "$(json "$work/race1.json" "d[\"failures\"][0][\"exit\"]")" = "$(json "$work/race1b.json" "d[\"failures\"][0][\"exit\"]" 2>/dev/null)" ]'
t0=$SECONDS
"$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 1 --output "$work/race" \
  --cpus 3 --vcpu-schedule random --faults vcpu --append "mode=race threads=3" \
  --seed 0 --rounds 12 --branches 8 --branch-time 200ms --stop-after 1 \
  >"$work/race.out" 2>"$work/race.err"
rc=$?
echo "# explore --cpus 3 --faults vcpu: exit $rc in $((SECONDS - t0)) s"
tail -5 "$work/race.out" >"$work/race.tail"; diag_file "$work/race.tail"
bug=$work/race/bug_1.json
msg=$(json "$bug" 'd["failure"]["message"]' 2>/dev/null)
check "the explorer finds the race (exit $rc, bug_1.json: \"$msg\")" \
  [ $rc = 1 ] && [ "$msg" = "lazy initialisation runs once" ]
kinds=$(json "$bug" '" ".join(sorted(set(f["type"] for f in d["recipe"]["schedule"]["faults"])))' 2>/dev/null)
drawn=$(json "$bug" 'sum(d["choices_drawn"])' 2>/dev/null)
check "its recipe: vCPU-schedule events only (${kinds:-none}), no random value drawn ($drawn)" \
  eval '{ [ -z "$kinds" ] || [ "$kinds" = vcpu_schedule ]; } && [ "$drawn" = 0 ]'
check "the bug file records 3 vCPUs and the random scheduler" \
  [ "$(json "$bug" 'd["target"]["vcpus"], d["target"]["vcpu_schedule"]')" = "3 random" ]
"$cc" reproduce --bug "$bug" >"$work/rep.out" 2>"$work/rep.err"
rc=$?
check "reproduce: the race fails the same way at the same virtual time (exit $rc)" \
  grep -q "^reproduced: the same failure at the same virtual time" "$work/rep.out"

# 5. the cost of SMP (numbers for the issue note; not a timed test)
cost() {   # cost N: wall seconds, exits, vtime
  local t0 t1
  t0=$(date +%s.%N)
  boot "$work/cost$1" --cpus "$1" --append "threads=4 iters=40"
  t1=$(date +%s.%N)
  local ex vt
  ex=$(grep -o 'exits=[0-9]*' "$work/cost$1.err" | cut -d= -f2)
  vt=$(grep -o 'vtime=[0-9.]*' "$work/cost$1.err" | cut -d= -f2)
  python3 -c "import sys; w,e,v=float(sys.argv[1])-float(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); print('%.2f %d %.3f %.0f' % (w, e, v, e / v))" "$t1" "$t0" "$ex" "$vt"
}
set -- $(cost 1)
w1=$1; e1=$2; v1=$3; r1=$4
set -- $(cost 4)
w4=$1; e4=$2; v4=$3; r4=$4
echo "# cost: 1 vCPU: ${w1} s wall, $e1 exits, ${v1} s virtual, $r1 exits per virtual second"
echo "# cost: 4 vCPUs: ${w4} s wall, $e4 exits, ${v4} s virtual, $r4 exits per virtual second"
echo "# cost: wall time ratio 4 vCPUs / 1 vCPU = $(python3 -c "print('%.2f' % ($w4 / $w1))")"
check "the 4-thread workload runs to the end with 1 and with 4 vCPUs" \
  eval 'counts "$work/cost1" >/dev/null && counts "$work/cost4" >/dev/null'

tap_done
