#!/usr/bin/env bash
# TAP test of tools/kvm-host: whatever runs the command (directly on a
# capable /dev/kvm, or the QEMU test host), it must propagate the exit
# status, stream output byte-exact, make --rw directories writable, enforce
# --timeout, and provide a /dev/kvm that passes build/tools/kvm-probe.
#
# usage: testhost.sh [KVM_PROBE]   (CC_BUILD_DIR picks the build directory)
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kvm_host=$repo/tools/kvm-host
build_dir=${CC_BUILD_DIR:-$repo/build}
probe=${1:-$build_dir/tools/kvm-probe}
export CC_BUILD_DIR=$build_dir

work=$(mktemp -d "${TMPDIR:-/tmp}/testhost.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
  n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
  shift
  for line in "$@"; do printf '#   %s\n' "$line"; done
}
show() { sed 's/^/#   | /' "$1"; }

echo "1..8"

# 1. Exit status propagation.
"$kvm_host" -- sh -c 'exit 7' >"$work/out1" 2>"$work/err1"
rc=$?
show "$work/err1"
if [ $rc -eq 7 ]; then ok "exit status 7 propagated"
else not_ok "exit status 7 propagated" "got $rc"; show "$work/out1"; fi

# 2. Byte-exact stdout: CR, NUL, no trailing newline, no \r\n conversion.
printf 'a\rb\nc\000d\r\n\ttail' >"$work/want2"
"$kvm_host" -- printf 'a\rb\nc\000d\r\n\ttail' >"$work/out2" 2>"$work/err2"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$work/want2" "$work/out2"; then
  ok "stdout is byte-exact"
else
  not_ok "stdout is byte-exact" "status $rc; wanted then got:" \
    "$(od -c "$work/want2" | head -3)" "$(od -c "$work/out2" | head -3)"
  show "$work/err2"
fi

# 3. stderr is merged into stdout, in order.
"$kvm_host" -- sh -c 'echo one; echo two >&2; echo three' >"$work/out3" 2>"$work/err3"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$work/out3")" = "$(printf 'one\ntwo\nthree')" ]; then
  ok "stderr merged into stdout in order"
else
  not_ok "stderr merged into stdout in order" "status $rc"; show "$work/out3"; show "$work/err3"
fi

# 4. A --rw directory written inside is visible outside.
mkdir -p "$work/rw"
token="written-inside-$$-$RANDOM"
"$kvm_host" --rw "$work/rw" -- sh -c "echo $token >'$work/rw/file' && mkdir '$work/rw/sub' && echo x >'$work/rw/sub/y'" \
  >"$work/out4" 2>"$work/err4"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$work/rw/file" 2>/dev/null)" = "$token" ] && [ -f "$work/rw/sub/y" ]; then
  ok "--rw directory written inside is visible outside"
else
  not_ok "--rw directory written inside is visible outside" "status $rc"
  show "$work/out4"; show "$work/err4"
fi

# 5. --timeout 5 on sleep 60 gives 124, well before 60 s.
start=$(date +%s)
"$kvm_host" --timeout 5 -- sleep 60 >"$work/out5" 2>"$work/err5"
rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -eq 124 ] && [ $took -lt 45 ] && grep -q 'timeout after 5 s' "$work/err5"; then
  ok "--timeout 5 on sleep 60 gives 124 (after $took s)"
else
  not_ok "--timeout 5 on sleep 60 gives 124" "status $rc after $took s"; show "$work/err5"
fi

# 6. The /dev/kvm it provides passes the probe.
"$kvm_host" -- "$probe" >"$work/out6" 2>"$work/err6"
rc=$?
show "$work/out6"
if [ $rc -eq 0 ] && grep -q '^probe: verdict: this /dev/kvm can run Linux guests$' "$work/out6"; then
  ok "/dev/kvm under kvm-host passes kvm-probe"
else
  not_ok "/dev/kvm under kvm-host passes kvm-probe" "status $rc"; show "$work/err6"
fi

# 7. probe-verdict.sh where kvm-host runs things: it knows it is in the test
# host (or on hardware KVM) and wants the "can run" verdict there.
"$kvm_host" -- bash "$here/probe-verdict.sh" "$probe" >"$work/out7" 2>"$work/err7"
rc=$?
show "$work/out7"
if [ $rc -eq 0 ] && grep -qE "^ok 5 - (inside the KVM test host|hardware KVM): verdict 'can run'" "$work/out7"; then
  ok "probe-verdict.sh passes where kvm-host runs commands, with the 'can run' verdict"
else
  not_ok "probe-verdict.sh passes where kvm-host runs commands" "status $rc"; show "$work/err7"
fi

# 8. --need any: directly on any working /dev/kvm (probe exit 0 or 1), in
# the test host only without one (exit 2).
"$probe" >/dev/null 2>&1
prc=$?
"$kvm_host" --need any -- sh -c 'echo "inside=${CC_IN_TESTHOST:-0}"' >"$work/out8" 2>"$work/err8"
rc=$?
want=inside=0
[ $prc -eq 2 ] && want=inside=1
if [ $rc -eq 0 ] && [ "$(cat "$work/out8")" = "$want" ]; then
  ok "--need any runs where it should (probe exit $prc: $want)"
else
  not_ok "--need any runs where it should (probe exit $prc: want $want)" "status $rc"
  show "$work/out8"; show "$work/err8"
fi

[ $failed -eq 0 ]
