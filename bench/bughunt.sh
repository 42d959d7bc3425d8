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
#   WORKERS=N        the Raft rows on N worker processes sharing each
#                    exploration through Redis (docs/distributed.md)
#
# Then the etcd rows (issue 15): Debian's etcd in 3 VMs and a client VM
# running examples/etcd/test, every branch's history judged by the
# linearizability checker; serializable reads (etcd-s: stale reads are
# possible) and linearizable ones (etcd-l: the control). ETCD=0 skips
# them; ETCD_ROUNDS=3 ETCD_BRANCHES=3 (2 s of virtual time each).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  rw=()
  [ -n "${BUGHUNT_OUT:-}" ] && mkdir -p "$BUGHUNT_OUT" && rw=(--rw "$BUGHUNT_OUT")
  # kvm-host passes on only CC_* variables: the settings go through env
  exec "$repo/tools/kvm-host" --timeout "${BUGHUNT_TIMEOUT:-7200}" --mem 10G "${rw[@]}" -- \
    env BENCH_DIRECT=1 BUGS="${BUGS:-}" MODES="${MODES:-}" ROUNDS="${ROUNDS:-}" \
    BRANCHES="${BRANCHES:-}" SEED="${SEED:-}" BUGHUNT_OUT="${BUGHUNT_OUT:-}" ETCD="${ETCD:-}" \
    ETCD_ROUNDS="${ETCD_ROUNDS:-}" ETCD_BRANCHES="${ETCD_BRANCHES:-}" WORKERS="${WORKERS:-}" \
    bash "$0" "$@"
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
      ${WORKERS:+--workers "$WORKERS"} >"$dir.out" 2>"$dir.err"
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
if [ "${ETCD:-1}" != 0 ]; then
  er=${ETCD_ROUNDS:-3} eb=${ETCD_BRANCHES:-3}
  echo "etcd: $er rounds x $eb branches (2 s of virtual time each), seed $seed, 3 members + 1 client"
  "$cc" pack --output "$out/etcd.initrd" --add "$(command -v etcd)" --add "$(command -v etcdctl)" \
    --file "$repo/examples/etcd/start.sh:/etc/etcd-example/start.sh" \
    --file "$repo/examples/etcd/test:/opt/chaoscontrol/test/v1/kv" \
    --cmd /etc/etcd-example/start.sh 2>"$out/etcd-pack.err" || status=1
  wait_cmd='etcdctl --endpoints http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379 endpoint health'
  for cons in s l; do
    dir=$out/etcd-$cons
    rm -rf "$dir"
    t0=$(date +%s)
    "$cc" explore run --kernel "$build/kernel/bzImage" --initrd "$out/etcd.initrd" --vms 4 \
      --clients 3 --mem 512M --rounds "$er" --branches "$eb" --branch-time 2s --mode fault \
      --seed "$seed" --stop-after 1 --quiet --check linearizable --output "$dir" \
      --faults partition,heal,kill,pause \
      --append "ETCD_WORKLOAD=none etcd_members=3 etcd_consistency=$cons cc.tests=3
                cc.test_template=kv cc.test_duration=60 cc.test_parallel=3
                cc.setup_wait=\"$wait_cmd\"" >"$dir.out" 2>"$dir.err"
    rc=$?
    total=$(( $(date +%s) - t0 ))
    if [ $rc = 1 ] && [ -f "$dir/bug_1.json" ]; then
      python3 - "$dir/bug_1.json" "etcd-$cons" "$total" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
f, fo = d["failure"], d["found"]
print("%-19s %-10s %-6s %9s %6s %8.1f %9.3f %8s  %s" % (
    sys.argv[2], "fault", "yes", fo["branch"], fo["round"], fo["wall_s"],
    int(f["sim_vtime_ns"]) / 1e9, sys.argv[3], d["history"]["explain"][:100]))
EOF
    elif [ $rc = 0 ]; then
      b=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['branches_done'])" \
          "$dir/checkpoint.json" 2>/dev/null)
      printf '%-19s %-10s %-6s %9s %6s %8s %9s %8s  %s\n' "etcd-$cons" fault no "(${b:-?})" - - - \
        "$total" "every history linearizable"
    else
      printf '%-19s %-10s %-6s %9s %6s %8s %9s %8s  %s\n' "etcd-$cons" fault ERROR - - - - "$total" \
        "exit $rc: $(tail -1 "$dir.err")"
      status=1
    fi
  done
fi
echo "explorations in $out"
exit $status
