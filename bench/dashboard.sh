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
    env BENCH_DIRECT=1 BENCH_WORK="$build/bench-dashboard" BENCH_RUNS="${BENCH_RUNS:-}" \
      BENCH_ROUNDS="${BENCH_ROUNDS:-}" BENCH_BRANCHES="${BENCH_BRANCHES:-}" bash "$0" "$@"
fi
. "$here/lib.sh"

runs=${BENCH_RUNS:-3}
rounds=${BENCH_ROUNDS:-6}
branches=${BENCH_BRANCHES:-8}
work=${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-dashboard.XXXXXX")}
mkdir -p "$work"
port=${BENCH_PORT:-18231}
export CC_DASH_PACE_MS=0 CC_DASH_WAIT=0 CC_DASH_LINGER=0

# one off|sse|poll: run, print "BRANCHES WALL_S CPU_EXPLORER CPU_SERVER"; sse: the dashboard with
# one event-stream client (what a browser tab costs); poll: that plus a
# client fetching /api/state every 100 ms (ten reloads a second: a stress
# load, one Python process so that no fork/exec is measured)
one() {
  local dir=$work/$1 line
  rm -rf "$dir"
  if [ "$1" != off ]; then
    # the explorer starts once a client holds the event stream, so that
    # starting the clients is not timed
    CC_DASH_WAIT=1 "$build/tests/kvm/dash_explore" "$dir" "$port" "$rounds" "$branches" >"$work/on.out" 2>"$work/on.err" &
    local xp=$! pids=()
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/api/state" && break; sleep 0.05; done
    if [ "$1" = sse ]; then
      curl -sN "http://127.0.0.1:$port/api/events" >"$work/events.txt" 2>/dev/null &
      pids+=($!)
    else
      python3 -c '
import sys, threading, time, urllib.request
url = sys.argv[1]
def stream():
    with urllib.request.urlopen(url + "api/events") as r, open(sys.argv[2], "wb") as f:
        for line in r:
            f.write(line)
threading.Thread(target=stream, daemon=True).start()
while True:
    try:
        urllib.request.urlopen(url + "api/state", timeout=5).read()
    except Exception:
        break
    time.sleep(0.1)
' "http://127.0.0.1:$port/" "$work/events.txt" &
      pids+=($!)
    fi
    wait $xp
    kill "${pids[@]}" 2>/dev/null
    wait "${pids[@]}" 2>/dev/null
    line=$(grep '^done' "$work/on.out")
  else
    line=$("$build/tests/kvm/dash_explore" "$dir" off "$rounds" "$branches" 2>"$work/off.err" | grep '^done')
  fi
  echo "$line" | awk '{print $5, $9, $11, $13}'
}
rate() { awk -v b="$1" -v w="$2" 'BEGIN { printf "%d", 1000 * b / w }'; }
f2() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000 }'; }

one off >/dev/null          # warm-up, not timed
off_r=() sse_r=() poll_r=() sse_cpu=() poll_cpu=()
for i in $(seq "$runs"); do
  set -- $(one off); off_r+=("$(rate "$1" "$2")")
  echo "run $i: without a dashboard                 $1 branches in $2 s"
  set -- $(one sse); sse_r+=("$(rate "$1" "$2")")
  echo "run $i: dashboard, one event stream         $1 branches in $2 s ($(grep -c '^event: state' "$work/events.txt") state events streamed; CPU: explorer $3 s, server $4 s)"
  sse_cpu+=("$(rate "$4" "$1")")
  set -- $(one poll); poll_r+=("$(rate "$1" "$2")")
  echo "run $i: dashboard, stream + /api/state 10/s $1 branches in $2 s (CPU: explorer $3 s, server $4 s)"
  poll_cpu+=("$(rate "$4" "$1")")
done
off=$(median "${off_r[@]}")
sse=$(median "${sse_r[@]}")
poll=$(median "${poll_r[@]}")
echo
echo "branches per second (median of $runs): without $(f2 "$off"), with a stream $(f2 "$sse"), with a stream and 10 state fetches/s $(f2 "$poll")"
echo "ratio with a stream / without: $(ratio "$sse" "$off")"
echo "ratio with a stream and 10 fetches/s / without: $(ratio "$poll" "$off")"
echo "server CPU per branch (median): with a stream $(median "${sse_cpu[@]}") ms, with a stream and 10 fetches/s $(median "${poll_cpu[@]}") ms"
