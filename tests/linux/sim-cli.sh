#!/usr/bin/env bash
# Linux tier: `chaoscontrol sim` (issue 7). Run it where KVM can run Linux
# guests: tools/kvm-host -- bash sim-cli.sh.
#
#  - 3 net-demo VMs from power-on with a schedule (loss, partition, pause):
#    exit 0; per-VM status, per-link network statistics, the fault log and
#    the merged assertion table are printed; --json writes the report;
#  - the same seed and schedule twice from power-on: identical hash and
#    per-VM traces; another seed: different ones;
#  - an assertion that fails (sdk-demo with SDK_DEMO_FAIL=always) stops the
#    simulation with exit status 1 and a failure line naming the VM;
#  - SIGINT stops a long simulation at the next quantum with the report of
#    the run so far (cc_sim_request_stop).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=${CC_BUILD_DIR:-$here/../../build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/net-demo.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/sim-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

tap_plan 16

cat >"$work/sched.json" <<'EOF'
{"version": 1, "faults": [
  {"at": "500ms", "type": "loss", "rate": 0.1},
  {"at": "1s", "type": "partition", "sides": [[0], [1, 2]], "duration": "500ms"},
  {"at": "1800ms", "type": "pause", "vm": 2, "duration": "300ms"},
  {"at": "2200ms", "type": "nmi", "vm": 1}
]}
EOF

sim() {   # sim NAME ARGS...: stdout to NAME.out, stderr to NAME.err
  local name=$1 rc
  shift
  timeout -k 10 400 "$cc" sim --kernel "$kernel" --serial-dir "$work" "$@" \
    >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  [ $rc -ge 124 ] && { echo "# sim $name: exit $rc (timeout or signal)"; diag_file "$work/$name.err"; }
  return $rc
}

common=(--vms 3 --initrd "$initrd" --disk 1M --duration 2500ms --schedule "$work/sched.json"
        --append "netdemo_report_ms=500 CHAOSCONTROL_SDK_KCOV=0")

start=$(date +%s)
sim a "${common[@]}" --seed 5 --json "$work/a.json"; rc=$?
echo "# run a: $(( $(date +%s) - start )) s wall"
diag_file "$work/a.out"
check "sim exits 0 (no assertion failed)" [ $rc = 0 ]
check "per-VM status: 3 VMs running" [ "$(grep -cE '^[0-2] +running ' "$work/a.out")" = 3 ]
check "network statistics for the 6 links" [ "$(grep -cE '^ +[0-2]->[0-2] ' "$work/a.out")" = 6 ]
if grep -q 'fault #1 .*partition \[0\] | \[1,2\]' "$work/a.out" && grep -q 'end: partition: healed' "$work/a.out" &&
   grep -q 'fault #2 .*pause vm 2 for 300ms' "$work/a.out"; then
  ok "the fault log shows each fault (and the heal) with its virtual time"
else not_ok "the fault log shows each fault (and the heal) with its virtual time"; fi
check "the merged assertion table lists net-demo's catalog" \
  grep -qE 'ALWAYS +passed +[0-9]+ +3  payload integrity' "$work/a.out"
check "the final line has the stop reason and the hash" \
  grep -qE '^sim: 3 VMs, seed 5, stop vtime-limit at 2\.500000s virtual .*hash [0-9a-f]{16}$' "$work/a.out"
check "the console of each VM went to --serial-dir" grep -q 'net-demo 2: listening' "$work/vm2.log"
check "NMI reached vm 1's kernel" grep -q 'NMI received' "$work/vm1.log"

json() {   # json FILE EXPR: evaluate a Python expression over the report
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}
check "--json: the report has vms, links, log, schedule and assertions" \
  [ "$(json "$work/a.json" "','.join(k for k in ('vms','links','log','schedule','assertions') if k in r)")" = "vms,links,log,schedule,assertions" ]
check "--json: partition drops are counted on the cut links" \
  [ "$(json "$work/a.json" "sum(l['dropped']['partition'] for l in r['links'] if 0 in (l['from'], l['to']))")" -gt 0 ]

sim b "${common[@]}" --seed 5 --json "$work/b.json"
sim c "${common[@]}" --seed 6 --json "$work/c.json"
ha=$(json "$work/a.json" "r['hash'] + ' ' + ' '.join(v['trace_hash'] for v in r['vms'])")
hb=$(json "$work/b.json" "r['hash'] + ' ' + ' '.join(v['trace_hash'] for v in r['vms'])")
hc=$(json "$work/c.json" "r['hash'] + ' ' + ' '.join(v['trace_hash'] for v in r['vms'])")
echo "# seed 5: $ha"
echo "# seed 5: $hb"
echo "# seed 6: $hc"
check "same seed and schedule from power-on: identical hash and per-VM traces" \
  test -n "$ha" -a "$ha" = "$hb"
check "another seed: a different run" test -n "$hc" -a "${hc%% *}" != "${ha%% *}"

sim f --vms 1 --initrd "$build/guests/sdk-demo.initrd" --append "SDK_DEMO_FAIL=always" --duration 20s
rc=$?
diag_file "$work/f.out"
check "a failed assertion: exit status 1" [ $rc = 1 ]
if grep -qE '^failure: vm 0: ALWAYS ' "$work/f.out" && grep -q 'stop assertion-failed' "$work/f.out"; then
  ok "the failure line names the VM and the assertion; the simulation stopped at it"
else not_ok "the failure line names the VM and the assertion; the simulation stopped at it"; fi

# SIGINT: a 60 s simulation interrupted once the VMs run; it stops soon,
# prints its report with a stop reason "requested" and says so.
mkdir -p "$work/int"
"$cc" sim --kernel "$kernel" --initrd "$initrd" --vms 2 --duration 60s --seed 3 \
  --serial-dir "$work/int" >"$work/int.out" 2>"$work/int.err" &
pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/int/vm1.log" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
t0=$SECONDS
kill -INT $pid 2>/dev/null
{ wait $pid; } 2>/dev/null
rc=$?
echo "# interrupted sim: exit $rc, $((SECONDS - t0)) s after SIGINT"
grep '^sim:' "$work/int.out" | sed 's/^/#   /'
check "SIGINT stops a sim with its report of the run so far (stop requested)" \
  grep -q "^sim: 2 VMs, seed 3, stop requested at" "$work/int.out"
check "and the note says the run was interrupted" grep -q "interrupted: the report above" "$work/int.err"
tap_done
