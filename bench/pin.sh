#!/usr/bin/env bash
# bench/pin: the spread of wall time of one fixed simulation run (the
# hello guest in a 1-VM `chaoscontrol sim`, always the same seed: the same
# execution every time; the wall time `sim` reports for the run itself,
# without process start and KVM probe) with and without --pin-cpu, on a
# loaded machine: a CPU hog on every core of the test host (2 cores) the
# whole time. Pinned and unpinned runs alternate, so both see the same
# load; printed: median, p10, p90 and standard deviation of each, and the
# ratio of the spreads (unpinned / pinned: above 1, pinning makes run times
# steadier). Every run must give the same simulation hash (pinning changes
# nothing the guest sees). Runs itself inside tools/kvm-host --cpus 2.
#   BENCH_RUNS=N (default 8 of each)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${CC_BUILD_DIR:-$repo/build}
export CC_BUILD_DIR=$build
if [ -z "${CC_IN_TESTHOST:-}" ] && [ -z "${BENCH_DIRECT:-}" ]; then
  exec "$repo/tools/kvm-host" --cpus 2 --timeout 3600 -- env BENCH_DIRECT=1 bash "$0" "$@"
fi
. "$here/lib.sh"

runs=${BENCH_RUNS:-8}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
ncpu=$(nproc)
core=$((ncpu - 1))
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-pin.XXXXXX") || exit 1

# a busy loop on every core, each held to its core
hogs=()
for c in $(seq 0 $((ncpu - 1))); do
  taskset -c "$c" bash -c 'while :; do :; done' &
  hogs+=($!)
done
trap 'kill "${hogs[@]}" 2>/dev/null; rm -rf "$work"' EXIT
echo "load: ${#hogs[@]} CPU hogs on $ncpu cores; pinned runs use --pin-cpu $core"

# one_run ARGS...: the run's wall milliseconds as sim reports them; its
# final line in $work/last
# ("timeout" after 120 s: seen once under this load, a run that did not end)
one_run() {
  timeout -k 5 120 "$cc" sim --vms 1 --kernel "$kernel" --initrd "$initrd" --seed 1 \
    --duration 2s --quiet "$@" >"$work/last" 2>"$work/last.err"
  case $? in
    0) sed -n 's/.*(\([0-9.]*\) s wall.*/\1/p' "$work/last" |
         awk '{printf "%d\n", $1 * 1000 + 0.5}' ;;
    124|137) echo "timeout"; sed 's/^/#   /' "$work/last.err" >&2 ;;
    *) echo "failed"; sed 's/^/#   /' "$work/last.err" >&2 ;;
  esac
}

pin_ms=() free_ms=() hashes=() timeouts=0
for i in $(seq "$runs"); do
  for mode in unpinned pinned; do
    if [ $mode = pinned ]; then ms=$(one_run --pin-cpu "$core"); else ms=$(one_run); fi
    case $ms in
      failed) echo "run $i ($mode) failed"; exit 1 ;;
      timeout) timeouts=$((timeouts + 1)); echo "run $i ($mode): no end after 120 s" ;;
      *) if [ $mode = pinned ]; then pin_ms+=("$ms"); else free_ms+=("$ms"); fi
         hashes+=("$(grep -o 'hash [0-9a-f]*' "$work/last")")
         echo "run $i ($mode): $ms ms" ;;
    esac
  done
done
[ ${#pin_ms[@]} -ge 2 ] && [ ${#free_ms[@]} -ge 2 ] || { echo "too few runs ended"; exit 1; }
if [ "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" != 1 ]; then
  echo "the runs differ: $(printf '%s\n' "${hashes[@]}" | sort | uniq -c | tr '\n' ' ')"
  exit 1
fi

echo
echo "wall time of one simulation run under load (ms; ${#free_ms[@]} unpinned and ${#pin_ms[@]} pinned runs, $timeouts timed out; every run ${hashes[0]}):"
printf '  %-9s %8s %8s %8s %8s %8s\n' "" median p10 p90 p90-p10 stdev
read -r fm f10 f90 fsd <<<"$(spread "${free_ms[@]}")"
read -r pm p10 p90 psd <<<"$(spread "${pin_ms[@]}")"
printf '  %-9s %8s %8s %8s %8s %8s\n' unpinned "$fm" "$f10" "$f90" $((f90 - f10)) "$fsd"
printf '  %-9s %8s %8s %8s %8s %8s\n' pinned "$pm" "$p10" "$p90" $((p90 - p10)) "$psd"
echo "spread ratio unpinned/pinned: p90-p10 $(ratio $((f90 - f10)) $((p90 - p10))), stdev $(ratio "$fsd" "$psd"); median ratio $(ratio "$fm" "$pm")"
