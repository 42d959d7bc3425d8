#!/usr/bin/env bash
# suite.sh: run the tiny-guest test binaries as one TAP stream, with at most
# one test-host boot.
#
#   suite.sh --any BIN... [--real BIN...]
#
# --any  tests that any working /dev/kvm runs (the kvm_pvm software
#        hypervisor included): register state, devices, snapshots, virtio;
# --real tests that need a KVM that passes build/tools/kvm-probe (CPUID and
#        TSC writes honoured, SSE, interrupt windows at exact instructions,
#        the hypercall exit).
#
# Where they run is decided by the probe on this machine's /dev/kvm, never
# by hostname:
#   the probe says "can run Linux guests"  everything runs here;
#   anything else (no /dev/kvm, or a KVM   everything inside one test-host
#     that runs tiny guests only, e.g.     boot (tools/kvm-host).
#     kvm_pvm)
# kvm_pvm ran the --any binaries directly until CI stop 26, where this
# suite failed on a CI machine (one subtest, not shown in the log's tail)
# and passed here in the test host 4 times out of 4, twice beside a loaded
# CPU; kvm_pvm is known to differ in about 3% of test_sim runs
# (meson.build). No machine of ours with kvm_pvm was available to find the
# subtest, and users run hardware KVM, so the suite no longer depends on
# kvm_pvm. CC_KVM_SUITE=auto|direct|any|testhost forces one way (direct:
# everything here; any: --any here and --real in the test host, the old
# kvm_pvm split; testhost: everything in the test host), for measurements.
# CC_BUILD_DIR names the build directory (its tools/kvm-probe decides).
#
# Output: one TAP stream, subtests named "BIN: description", numbered here,
# the plan at the end. A binary that bails out, crashes, times out, exits
# non-zero, or runs another number of subtests than it planned adds a failed
# subtest saying so; anything it prints that is not TAP becomes a comment.
# Each binary gets CC_KVM_TEST_TIMEOUT seconds (default 300).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

# parse NAME: TAP from stdin (the binary's merged output, then a last line
# "__suite_status RC"), unnumbered TAP lines on stdout.
parse() {
  local name=$1 line planned='' count=0 failed=0 bailed='' st='' rest
  while IFS= read -r line; do
    case $line in
      __suite_status\ *) st=${line#__suite_status } ;;
      1..*) planned=${line#1..}; planned=${planned%%[!0-9]*} ;;
      'ok '*|'not ok '*|ok|'not ok')
        count=$((count + 1))
        case $line in
          not*) failed=$((failed + 1)); rest=${line#not ok}; printf 'not ok' ;;
          *) rest=${line#ok}; printf 'ok' ;;
        esac
        rest=${rest# }
        rest=${rest#"${rest%%[!0-9]*}"}   # the number
        rest=${rest# }; rest=${rest#-}; rest=${rest# }
        printf ' - %s: %s\n' "$name" "$rest" ;;
      'Bail out!'*) bailed=${line#Bail out!}; bailed=${bailed# }
        printf '# %s| %s\n' "$name" "$line" ;;
      '#'*) printf '%s\n' "$line" ;;
      *) printf '# %s| %s\n' "$name" "$line" ;;
    esac
  done
  if [ -n "$bailed" ]; then
    printf 'not ok - %s: bailed out: %s\n' "$name" "$bailed"
  elif [ "$st" = 124 ] || [ "$st" = 137 ]; then
    printf 'not ok - %s: timed out after %s s (exit %s)\n' "$name" "${CC_KVM_TEST_TIMEOUT:-300}" "$st"
  elif [ "$st" != 0 ] && [ "$failed" = 0 ]; then
    printf 'not ok - %s: exit status %s with no failed subtest (crash?)\n' "$name" "${st:-unknown}"
  elif [ -z "$planned" ] || [ "$planned" != "$count" ] && [ "$planned" != 0 ]; then
    printf 'not ok - %s: planned %s subtests, ran %s\n' "$name" "${planned:-no plan,}" "$count"
  fi
}

# ---- inner mode: run binaries, print unnumbered TAP lines ----------------
if [ "${1:-}" = --inner ]; then
  shift
  for bin in "$@"; do
    name=${bin##*/}
    t0=$SECONDS
    { timeout -k 5 "${CC_KVM_TEST_TIMEOUT:-300}" "$bin" 2>&1; echo "__suite_status $?"; } |
      parse "$name"
    echo "# $name: $((SECONDS - t0)) s${CC_IN_TESTHOST:+ (in the test host)}"
  done
  exit 0
fi

# ---- outer mode ------------------------------------------------------------
any=() real=() group=
for a in "$@"; do
  case $a in
    --any) group=any ;;
    --real) group=real ;;
    *) case $group in
         any) any+=("$(cd "$(dirname "$a")" && pwd)/${a##*/}") ;;
         real) real+=("$(cd "$(dirname "$a")" && pwd)/${a##*/}") ;;
         *) echo "usage: suite.sh --any BIN... [--real BIN...]" >&2; exit 2 ;;
       esac ;;
  esac
done

build=${CC_BUILD_DIR:-$repo/build}
probe=$build/tools/kvm-probe
prc=
if [ -x "$probe" ]; then
  pout=$("$probe" 2>&1)
  prc=$?
  printf '%s\n' "$pout" | grep '^probe: verdict' | sed 's/^/# /'
fi

mode=${CC_KVM_SUITE:-auto}
here_bins=() host_bins=()
case $mode:$prc in
  direct:*|auto:0) here_bins=("${any[@]}" "${real[@]}") ;;
  any:*) here_bins=("${any[@]}"); host_bins=("${real[@]}") ;;
  testhost:*|auto:1|auto:2) host_bins=("${any[@]}" "${real[@]}") ;;
  auto:*) echo "Bail out! $probe failed (status ${prc:-missing}): ${pout:-run make first}"; exit 1 ;;
  *) echo "Bail out! CC_KVM_SUITE must be auto, direct, any or testhost, not '$mode'"; exit 1 ;;
esac

# Number the stream and put the plan at the end.
# Failed subtests also go to stderr with the four lines before each, so
# that the end of a CI log (meson prints a failed test's stderr last) says
# what failed.
number() {
  local n=0 bad=0 line ctx=()
  while IFS= read -r line; do
    case $line in
      'ok - '*) n=$((n + 1)); printf 'ok %d %s\n' "$n" "${line#ok }" ;;
      'not ok - '*) n=$((n + 1)); bad=$((bad + 1)); printf 'not ok %d %s\n' "$n" "${line#not ok }"
        { printf '%s\n' "${ctx[@]}"; printf 'not ok %d %s\n' "$n" "${line#not ok }"; } >&2 ;;
      '#'*) printf '%s\n' "$line" ;;
      *) printf '# %s\n' "$line" ;;
    esac
    ctx+=("$line")
    [ ${#ctx[@]} -le 4 ] || ctx=("${ctx[@]:1}")
  done
  if [ $n = 0 ]; then
    n=1; bad=1; echo "not ok 1 - the suite ran no test"
  fi
  echo "1..$n"
  [ $bad = 0 ]
}

{
  if [ ${#here_bins[@]} -gt 0 ]; then
    echo "# on this machine's /dev/kvm: ${here_bins[*]##*/}"
    bash "$here/suite.sh" --inner "${here_bins[@]}"
  fi
  if [ ${#host_bins[@]} -gt 0 ]; then
    echo "# in one test-host boot: ${host_bins[*]##*/}"
    t0=$SECONDS
    CC_KVM_HOST=qemu "$repo/tools/kvm-host" --timeout $(( ${#host_bins[@]} * ${CC_KVM_TEST_TIMEOUT:-300} + 60 )) \
      -- bash "$here/suite.sh" --inner "${host_bins[@]}" 2>&1
    rc=$?
    echo "# test host: exit $rc, $((SECONDS - t0)) s in all"
    [ $rc = 0 ] || echo "not ok - the test host failed (tools/kvm-host exit $rc)"
  fi
} | number
