#!/usr/bin/env bash
# `make demo`: the explorer finds a planted bug in the Raft guest, minimizes
# it and reproduces it.
#
#   scripts/demo.sh [BUILD_DIR]
#
# Three Raft nodes (guests/raft), one per VM, run in one deterministic
# simulation with raft_bug=$DEMO_BUG planted (default double_vote: a node
# votes twice in one term, which breaks election safety). `chaoscontrol
# explore run` boots them to setup_complete, snapshots, and forks branches
# with other values at the guests' cc_random_choice points (input-tree mode;
# DEMO_MODE=fault|hybrid for the others) until an assertion fails; then
# `chaoscontrol minimize` shrinks the bug's recipe by delta debugging and
# `chaoscontrol reproduce` replays the result from a fresh boot and checks
# the same failure at the same virtual time.
#
# Everything runs through tools/kvm-host: directly where this machine's KVM
# can run Linux guests, else inside the QEMU test host (slow: expect a few
# minutes). The output directory ($BUILD_DIR/demo-explore) is shared with
# the test host read-write and stays afterwards.
set -euo pipefail
build=${1:-build}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CC_BUILD_DIR=$repo/$build
DEMO_BUG=${DEMO_BUG:-double_vote}
DEMO_MODE=${DEMO_MODE:-input-tree}
DEMO_OUT=$CC_BUILD_DIR/demo-explore
for f in "$CC_BUILD_DIR/chaoscontrol" "$CC_BUILD_DIR/kernel/bzImage" \
         "$CC_BUILD_DIR/guests/raft.initrd"; do
  [ -e "$f" ] || { echo "demo: $f is missing: run make first" >&2; exit 2; }
done
rm -rf "$DEMO_OUT"
mkdir -p "$DEMO_OUT"

echo "demo: explore 3 Raft nodes with raft_bug=$DEMO_BUG ($DEMO_MODE mode), minimize, reproduce"
echo "demo: output in $DEMO_OUT"
start=$SECONDS
tools/kvm-host --timeout 1500 --rw "$DEMO_OUT" -- bash -c '
  set -u
  b=$CC_BUILD_DIR
  cc=$b/chaoscontrol
  out=$1 DEMO_BUG=$2 DEMO_MODE=$3   # kvm-host passes on only CC_* variables
  step() { echo; echo "== $* =="; }
  secs() { echo "   ($(( SECONDS - $1 )) s)"; }

  step "chaoscontrol explore run --mode $DEMO_MODE (raft_bug=$DEMO_BUG)"
  t=$SECONDS
  "$cc" explore run --kernel "$b/kernel/bzImage" --initrd "$b/guests/raft.initrd" --vms 3 \
    --rounds 10 --branches 8 --mode "$DEMO_MODE" --seed 0 --stop-after 1 \
    --append "raft_id={id} raft_bug=$DEMO_BUG" --output "$out/exploration"
  rc=$?
  secs $t
  if [ $rc != 1 ] || [ ! -f "$out/exploration/bug_1.json" ]; then
    echo "demo: the exploration found no bug (exit $rc)" >&2
    exit 1
  fi

  step "chaoscontrol minimize --bug $out/exploration/bug_1.json"
  t=$SECONDS
  "$cc" minimize --bug "$out/exploration/bug_1.json" --output "$out/min.json" || exit 1
  secs $t

  step "chaoscontrol reproduce --bug $out/min.json"
  t=$SECONDS
  "$cc" reproduce --bug "$out/min.json" || exit 1
  secs $t
' _ "$DEMO_OUT" "$DEMO_BUG" "$DEMO_MODE"
echo
echo "demo: done in $((SECONDS - start)) s"
echo "demo: report:          $DEMO_OUT/exploration/report.txt"
echo "demo: bug as found:    $DEMO_OUT/exploration/bug_1.json"
echo "demo: minimized bug:   $DEMO_OUT/min.json   (chaoscontrol reproduce --bug $DEMO_OUT/min.json)"
