#!/usr/bin/env bash
# bench/dlog: what the determinism log costs. A 3-VM Raft simulation
# (guests/raft) of BENCH_SECONDS (default 3) virtual seconds, with and
# without `--dlog` (default register dumps, every 100000 exits), run
# alternately BENCH_RUNS times each (default 3) in one session after an
# untimed warm-up run; prints the
# median wall time of each (the simulation's own "s wall", without process
# start), the slowdown ratio and the log's bytes per exit. Checks that the
# simulation hash is the same with and without the log. Runs itself inside
# tools/kvm-host when needed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  mkdir -p "$build/bench-dlog"
  exec "$repo/tools/kvm-host" --timeout 1800 --rw "$build/bench-dlog" -- \
    env BENCH_DIRECT=1 BENCH_WORK="$build/bench-dlog" bash "$0" "$@"
fi
. "$here/lib.sh"

runs=${BENCH_RUNS:-3}
secs=${BENCH_SECONDS:-3}
work=${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-dlog.XXXXXX")}
mkdir -p "$work"
args=(sim --vms 3 --kernel "$build/kernel/bzImage" --initrd "$build/guests/raft.initrd"
      --append "raft_id={id}" --duration "${secs}s" --seed 1 --quiet)

# one NAME ARGS...: run, print "WALL_MS EXITS HASH"
one() {
  local name=$1 line
  shift
  line=$("$build/chaoscontrol" "${args[@]}" "$@" 2>"$work/$name.err" | grep '^sim: ')
  echo "$line" | sed -E 's/.*\(([0-9.]+) s wall, [0-9]+ quanta, ([0-9]+) exits\), hash ([0-9a-f]+)$/\1 \2 \3/' |
    awk '{printf "%d %s %s\n", $1 * 1000, $2, $3}'
}

one warmup >/dev/null      # file caches and the test host warm, not timed
off_ms=() on_ms=() hashes=() bytes=0 exits=0
for i in $(seq "$runs"); do
  r=$(one off); set -- $r
  off_ms+=("${1:-0}"); hashes+=("${3:-none}"); exits=${2:-0}
  r=$(one on --dlog "$work/run.dlog"); set -- $r
  on_ms+=("${1:-0}"); hashes+=("${3:-none}")
  bytes=$(stat -c %s "$work/run.dlog")
  echo "run $i: without dlog ${off_ms[-1]} ms, with dlog ${on_ms[-1]} ms (wall of the simulation)"
done
off=$(median "${off_ms[@]}")
on=$(median "${on_ms[@]}")
recs=$("$build/chaoscontrol" dlog stats --json "$work/run.dlog" |
       python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["records"])')
echo
echo "3-VM Raft, ${secs} s virtual, $exits exits, $recs dlog records, dlog $bytes bytes"
echo "bytes per exit: $(awk -v b="$bytes" -v e="$exits" 'BEGIN { printf "%.3f", b / e }')"
echo "slowdown with --dlog (median of $runs, with/without): $(ratio "$on" "$off")"
if [ "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" = 1 ]; then
  echo "simulation hash identical with and without --dlog: ${hashes[0]}"
else
  echo "simulation hashes DIFFER with and without --dlog: ${hashes[*]}"; exit 1
fi
