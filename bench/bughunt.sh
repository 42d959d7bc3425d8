#!/usr/bin/env bash
# bench/bughunt: for each planted Raft bug (and the control, none) and each
# exploration mode, a fixed-budget exploration with the same seeds; prints
# whether a safety assertion failed, and the branches, rounds, wall time and
# virtual time to the first failure. Runs itself inside tools/kvm-host when
# needed. Not part of `make bench` (it takes long in the QEMU test host).
#
#   bench/bughunt.sh                          every bug, fault mode
#   BUGS="double_vote none" MODES="fault input-tree hybrid" bench/bughunt.sh
#   ROUNDS=15 BRANCHES=8 SEED=0 (the budget, defaults shown)
#   BUGHUNT_OUT=DIR  keep the explorations there (default: a temporary dir)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  rw=()
  [ -n "${BUGHUNT_OUT:-}" ] && mkdir -p "$BUGHUNT_OUT" && rw=(--rw "$BUGHUNT_OUT")
  # kvm-host passes on only CC_* variables: the settings go through env
  exec "$repo/tools/kvm-host" --timeout "${BUGHUNT_TIMEOUT:-7200}" "${rw[@]}" -- \
    env BENCH_DIRECT=1 BUGS="${BUGS:-}" MODES="${MODES:-}" ROUNDS="${ROUNDS:-}" \
    BRANCHES="${BRANCHES:-}" SEED="${SEED:-}" BUGHUNT_OUT="${BUGHUNT_OUT:-}" bash "$0" "$@"
fi

bugs=${BUGS:-"fig8_commit skip_truncate accept_stale_term leader_no_stepdown double_vote premature_commit none"}
modes=${MODES:-fault}
rounds=${ROUNDS:-15}
branches=${BRANCHES:-8}
seed=${SEED:-0}
out=${BUGHUNT_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bughunt.XXXXXX")}
cc=$build/chaoscontrol

echo "budget: $rounds rounds x $branches branches (1 s of virtual time each), seed $seed, 3 VMs"
printf '%-19s %-10s %-6s %9s %6s %8s %9s %8s  %s\n' BUG MODE FOUND BRANCHES ROUND WALL_S VIRTUAL_S TOTAL_S \
  "ASSERTION"
status=0
for bug in $bugs; do
  for mode in $modes; do
    dir=$out/$bug-$mode
    rm -rf "$dir"
    t0=$(date +%s)
    "$cc" explore run --kernel "$build/kernel/bzImage" --initrd "$build/guests/raft.initrd" \
      --vms 3 --rounds "$rounds" --branches "$branches" --mode "$mode" --seed "$seed" \
      --stop-after 1 --quiet --append "raft_id={id} raft_bug=$bug" --output "$dir" \
      >"$dir.out" 2>"$dir.err"
    rc=$?
    total=$(( $(date +%s) - t0 ))
    if [ $rc = 1 ] && [ -f "$dir/bug_1.json" ]; then
      python3 - "$dir/bug_1.json" "$bug" "$mode" "$total" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
f, fo = d["failure"], d["found"]
print("%-19s %-10s %-6s %9s %6s %8.1f %9.3f %8s  %s \"%s\" (vm %d)" % (
    sys.argv[2], sys.argv[3], "yes", fo["branch"], fo["round"], fo["wall_s"],
    int(f["sim_vtime_ns"]) / 1e9, sys.argv[4], f["kind"], f["message"], f["vm"]))
EOF
    elif [ $rc = 0 ]; then
      b=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['branches_done'])" \
          "$dir/checkpoint.json" 2>/dev/null)
      printf '%-19s %-10s %-6s %9s %6s %8s %9s %8s  %s\n' "$bug" "$mode" no "(${b:-?})" - - - \
        "$total" "-"
    else
      printf '%-19s %-10s %-6s %9s %6s %8s %9s %8s  %s\n' "$bug" "$mode" ERROR - - - - "$total" \
        "exit $rc: $(tail -1 "$dir.err")"
      status=1
    fi
  done
done
echo "explorations in $out"
exit $status
