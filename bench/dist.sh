#!/usr/bin/env bash
# bench/dist: one Raft exploration (3 VMs, raft_bug=none, hybrid) on 1 and
# on 2 workers sharing it through Redis on loopback (docs/distributed.md),
# side by side in one run. Every worker boots its own VMs first, so each
# configuration runs twice, with a small and a large budget, and the rate
# is the marginal one: (large - small branches) / (large - small wall);
# boot time cancels out. Prints both rates and their ratio, and what
# coordination costs per branch: Redis commands, bytes each way, and Redis
# CPU time (from INFO), so that a reader can estimate a fleet.
# Runs itself inside tools/kvm-host when needed.
#   BENCH_SMALL (default 8) and BENCH_LARGE (default 40) branches, 8 a round;
#   BENCH_CPUS: the test host's vCPUs (default: this machine's cores)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  exec "$repo/tools/kvm-host" --timeout 3600 --cpus "${BENCH_CPUS:-$(nproc)}" -- \
    env BENCH_DIRECT=1 BENCH_SMALL="${BENCH_SMALL:-}" BENCH_LARGE="${BENCH_LARGE:-}" \
    bash "$0" "$@"
fi
. "$here/lib.sh"

small=${BENCH_SMALL:-8}
large=${BENCH_LARGE:-40}
per=8
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-dist.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save '' --daemonize no --logfile "$work/redis.log" &
rpid=$!
trap 'kill $rpid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
url=redis://127.0.0.1:$port

# Redis's own CPU seconds (user + system) and commands processed
rinfo() {
  redis-cli -p "$port" info | tr -d '\r' | awk -F: '
    /^used_cpu_user:/ {u=$2} /^used_cpu_sys:/ {s=$2} /^total_commands_processed:/ {c=$2}
    END {printf "%.3f %d\n", u + s, c}'
}

# one WORKERS BRANCHES: "WALL_MS BYTES_OUT BYTES_IN RTT REDIS_CPU_S REDIS_CMDS"
one() {
  local workers=$1 branches=$2 name=w$1-b$2 t0 t1
  read -r c0 k0 <<<"$(rinfo)"
  t0=$(date +%s%N)
  "$cc" explore run --kernel "$build/kernel/bzImage" --initrd "$build/guests/raft.initrd" \
    --vms 3 --mode hybrid --seed 0 --append "raft_id={id} raft_bug=none" \
    --rounds $((branches / per)) --branches $per --output "$work/$name" \
    --redis "$url" --name "$name" --workers "$workers" --lease 60s \
    >"$work/$name.out" 2>"$work/$name.err"
  local rc=$?
  t1=$(date +%s%N)
  read -r c1 k1 <<<"$(rinfo)"
  if [ $rc -gt 1 ] || ! grep -q "^explored" "$work/$name.out" ||
     grep -q "exited with status\|killed by signal" "$work/$name.err"; then
    echo "bench/dist: explore run ($workers workers, $branches branches) failed (exit $rc):" >&2
    cat "$work/$name.err" >&2
    exit 1
  fi
  # the workers' own accounts of their conversation with Redis
  awk -v ms=$(((t1 - t0) / 1000000)) -v dc="$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" \
      -v dk=$((k1 - k0)) '
    /^worker .*Redis:/ {
      for (i = 1; i <= NF; i++) {
        if ($i == "trips,") rt += $(i-2)
        if ($i == "out,") o += $(i-2)
        if ($i == "in") inb += $(i-2)
      }
    }
    END { printf "%d %.0f %.0f %d %s %d\n", ms, o * 1024, inb * 1024, rt, dc, dk }' \
    "$work/$name.err" "$work/$name.out"
}

declare -A res
for w in 1 2; do
  for b in "$small" "$large"; do
    res[$w,$b]=$(one "$w" "$b") || exit 1
    echo "$w worker(s), $b branches: $(echo "${res[$w,$b]}" | awk '{printf "%.1f s wall", $1 / 1000}')"
  done
done

rate() {   # marginal branches per second of W workers
  local s=(${res[$1,$small]}) l=(${res[$1,$large]})
  awk -v db=$((large - small)) -v dt=$((l[0] - s[0])) 'BEGIN { printf "%.3f", db / (dt / 1000) }'
}
r1=$(rate 1)
r2=$(rate 2)
echo
echo "branches per second after boot (marginal, $small -> $large branches): 1 worker $r1, 2 workers $r2"
echo "ratio 2 workers / 1 worker: $(awk -v a="$r2" -v b="$r1" 'BEGIN { printf "%.2f", a / b }')"
l=(${res[2,$large]})
awk -v b="$large" -v o="${l[1]}" -v i="${l[2]}" -v rt="${l[3]}" -v c="${l[4]}" -v k="${l[5]}" 'BEGIN {
  printf "coordination per branch (2 workers, %d branches): %.1f round trips, %.1f KB to Redis, %.1f KB from it, %.2f ms of Redis CPU, %.1f Redis commands\n",
    b, rt / b, o / b / 1024, i / b / 1024, c * 1000 / b, k / b }'
