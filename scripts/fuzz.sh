#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/) with clang and run each for a bounded
# time on its seed corpus:
#
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]     (make fuzz)
#
# BUILD_DIR is set up with CC=clang if it does not exist yet. New inputs the
# fuzzer finds go to BUILD_DIR/fuzz-out/<target>/ (the repository corpus is
# only read); crashing inputs go to BUILD_DIR/fuzz-artifacts/. Prints, per
# target, the executions and whether it crashed, and exits non-zero if any
# target crashed (a hang beyond 10 s per input counts as a crash: device
# work must be bounded). FUZZ_JOBS=N runs N targets at a time (default 1).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1
secs=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(virtqueue virtio_rng virtio_blk virtio_net checkpoint bugfile)
jobs=${FUZZ_JOBS:-1}

if ! command -v clang >/dev/null; then
  echo "fuzz: clang is not installed (apt-get install clang)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$root"
fi
ninja_targets=()
for t in "${targets[@]}"; do
  ninja_targets+=("fuzz/fuzz_$t")
done
if ! ninja -C "$build" "${ninja_targets[@]}"; then
  echo "fuzz: build failed; is $build configured with clang? (rm -rf $build and retry)" >&2
  exit 1
fi

mkdir -p "$build/fuzz-artifacts"
run_one() {
  local t=$1 out="$build/fuzz-out/$1" log="$build/fuzz-out/$1.log"
  mkdir -p "$out"
  set +e
  "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
    "$out" "$root/fuzz/corpus/$t" >"$log" 2>&1
  echo $? >"$out.rc"
  set -e
}

pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  log="$build/fuzz-out/$t.log"
  rc=$(cat "$build/fuzz-out/$t.rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  if [ "$rc" = 0 ]; then
    printf 'fuzz_%-12s %12s execs in %ss, %s, no crash\n' "$t" "${execs:-?}" "$secs" "${cov:-cov: ?}"
  else
    failed=1
    art=$(grep -o "$build/fuzz-artifacts/$t-[^ ]*" "$log" | tail -n 1 || true)
    printf 'fuzz_%-12s %12s execs: CRASHED (exit %s), input: %s, log: %s\n' \
      "$t" "${execs:-?}" "$rc" "${art:-?}" "$log"
  fi
done
exit $failed
