#!/usr/bin/env bash
# bench/lincheck: `chaoscontrol check`'s linearizability checker against the
# naive reference on the same generated histories, side by side in one run:
# 10,000 operations on 5 keys by 5 clients (realistic overlaps, 1% crashed
# operations), where the naive search is stopped at BENCH_NAIVE_LIMIT
# seconds (default 30; the ratio is then a lower bound), and 200 operations,
# which both can finish. No KVM needed.
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
exec "$build/bench/lincheck" --ops "${BENCH_LIN_OPS:-10000}" --small "${BENCH_LIN_SMALL:-200}" \
  --keys 5 --clients 5 --seed "${BENCH_LIN_SEED:-1}" --naive-limit "${BENCH_NAIVE_LIMIT:-30}"
