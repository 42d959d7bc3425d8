#!/usr/bin/env bash
# bench/dashboard: does the dashboard slow the explorer? The tiny-guest
# exploration of build/tests/kvm/dash_explore (3 VMs, hybrid, BENCH_ROUNDS
# rounds of BENCH_BRANCHES branches, no pauses) run alternately
# BENCH_RUNS times (default 3) without a dashboard and with one that has
# clients: an event stream (curl -N /api/events) and a page reloading
# /api/state every 100 ms; prints branches per second of each (median) and
# the ratio on/off. Runs itself inside tools/kvm-host when needed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  mkdir -p "$build/bench-dashboard"
  exec "$repo/tools/kvm-host" --need any --timeout 1800 --rw "$build/bench-dashboard" -- \
    env BENCH_DIRECT=1 BENCH_WORK="$build/bench-dashboard" bash "$0" "$@"
fi
. "$here/lib.sh"

runs=${BENCH_RUNS:-3}
rounds=${BENCH_ROUNDS:-6}
branches=${BENCH_BRANCHES:-8}
work=${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-dashboard.XXXXXX")}
mkdir -p "$work"
port=${BENCH_PORT:-18231}
export CC_DASH_PACE_MS=0 CC_DASH_WAIT=0 CC_DASH_LINGER=0

# one off|on: run, print "BRANCHES WALL_S"
one() {
  local dir=$work/$1 line
  rm -rf "$dir"
  if [ "$1" = on ]; then
    "$build/tests/kvm/dash_explore" "$dir" "$port" "$rounds" "$branches" >"$work/on.out" 2>"$work/on.err" &
    local xp=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/api/state" && break; sleep 0.05; done
    curl -sN "http://127.0.0.1:$port/api/events" >"$work/events.txt" 2>/dev/null &
    local ev=$!
    ( while kill -0 $xp 2>/dev/null; do curl -s -o /dev/null "http://127.0.0.1:$port/api/state"; sleep 0.1; done ) &
    local poll=$!
    wait $xp
    kill $ev $poll 2>/dev/null
    wait $ev $poll 2>/dev/null
    line=$(grep '^done' "$work/on.out")
  else
    line=$("$build/tests/kvm/dash_explore" "$dir" off "$rounds" "$branches" 2>"$work/off.err" | grep '^done')
  fi
  echo "$line" | awk '{print $5, $9}'
}

one off >/dev/null          # warm-up, not timed
off_r=() on_r=()
for i in $(seq "$runs"); do
  set -- $(one off); off_r+=("$(awk -v b="$1" -v w="$2" 'BEGIN { printf "%d", 1000 * b / w }')")
  echo "run $i: without a dashboard $1 branches in $2 s"
  set -- $(one on); on_r+=("$(awk -v b="$1" -v w="$2" 'BEGIN { printf "%d", 1000 * b / w }')")
  echo "run $i: with a dashboard and two clients $1 branches in $2 s ($(grep -c '^event: state' "$work/events.txt") state events streamed)"
done
off=$(median "${off_r[@]}")
on=$(median "${on_r[@]}")
echo
echo "branches per second (median of $runs): without $(awk -v x="$off" 'BEGIN{printf "%.2f", x/1000}'), with $(awk -v x="$on" 'BEGIN{printf "%.2f", x/1000}')"
echo "ratio with/without: $(ratio "$on" "$off")"
