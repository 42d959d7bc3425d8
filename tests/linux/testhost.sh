#!/usr/bin/env bash
# TAP test of tools/kvm-host: whatever runs the command (directly on a
# capable /dev/kvm, or the QEMU test host), it must propagate the exit
# status, stream output byte-exact, make --rw directories writable, enforce
# --timeout, provide a /dev/kvm that passes build/tools/kvm-probe, and make
# a server CMD runs reachable from here with --forward.
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

echo "1..11"

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

# 9. --forward validation: usage errors (exit 2) before anything runs.
bad=
for spec in 8099 abc:8099 0:8099 65536:8099 8099:70000 -1:8099 08099:8099 \
            localhost:8099:8099 1.2.3:8099:8099 256.0.0.1:8099:8099 1:2:3:4 :8099 8099:; do
  "$kvm_host" --forward "$spec" -- true >"$work/out9" 2>"$work/err9"
  rc=$?
  if [ $rc -ne 2 ] || ! grep -q "^kvm-host: --forward wants \[BIND:\]HOSTPORT:GUESTPORT.*got '$spec'" "$work/err9"; then
    bad="$bad $spec(status $rc: $(head -1 "$work/err9"))"
  fi
done
"$kvm_host" --forward >"$work/out9" 2>"$work/err9"
rc=$?
[ $rc -eq 2 ] || bad="$bad no-argument(status $rc)"
"$kvm_host" --forward 8099:80 --forward=127.0.0.1:8099:81 -- true >"$work/out9" 2>"$work/err9"
rc=$?
{ [ $rc -eq 2 ] && grep -q 'host port 8099 is already forwarded' "$work/err9"; } || bad="$bad twice(status $rc)"
if [ -z "$bad" ]; then
  ok "--forward: a bad spec is a usage error (exit 2)"
else
  not_ok "--forward: a bad spec is a usage error (exit 2)" "wrong for:$bad"
fi

# 10. --forward where CMD runs directly (forced with CC_KVM_HOST=direct, so
# on any machine): an identity forward exports CC_FORWARD_GUEST_BIND=BIND,
# a port change is refused with exit 2.
CC_KVM_HOST=direct "$kvm_host" --forward 127.0.0.1:8099:8099 -- sh -c 'echo "bind=$CC_FORWARD_GUEST_BIND"' \
  >"$work/out10" 2>"$work/err10"
rc=$?
CC_KVM_HOST=direct "$kvm_host" --forward 8098:8099 -- sh -c 'echo ran' >"$work/out10b" 2>"$work/err10b"
rc2=$?
if [ $rc -eq 0 ] && [ "$(cat "$work/out10")" = bind=127.0.0.1 ] && [ $rc2 -eq 2 ] && [ ! -s "$work/out10b" ] &&
   grep -q 'HOSTPORT must equal GUESTPORT where CMD runs directly' "$work/err10b"; then
  ok "--forward where CMD runs directly: identity only, CC_FORWARD_GUEST_BIND=BIND"
else
  not_ok "--forward where CMD runs directly: identity only, CC_FORWARD_GUEST_BIND=BIND" \
    "status $rc ($(cat "$work/out10")), with a port change status $rc2"
  show "$work/err10"; show "$work/out10b"; show "$work/err10b"
fi

# 11. --forward 127.0.0.1:P:8099: an HTTP server CMD runs (bound to
# $CC_FORWARD_GUEST_BIND, port 8099) answers here at 127.0.0.1:P, which is
# polled until it does; a stop file in the --rw directory ends CMD. Where
# CMD runs directly the forward must be the identity: P:P.
fwd=$work/fwd
mkdir -p "$fwd"
token="served-from-inside-$$-$RANDOM"
echo "$token" >"$fwd/index.html"
hport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
gport=8099
[ $prc -eq 0 ] && gport=$hport
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3   # not a pyenv shim: 7 s more in the test host
"$kvm_host" --timeout 150 --rw "$fwd" --forward "127.0.0.1:$hport:$gport" -- sh -c '
  echo "$CC_FORWARD_GUEST_BIND" >"$1/bind"
  "$2" -m http.server "$3" --bind "$CC_FORWARD_GUEST_BIND" --directory "$1" >"$1/server.log" 2>&1 &
  pid=$!
  while [ ! -e "$1/stop" ] && kill -0 $pid 2>/dev/null; do sleep 0.2; done
  kill $pid 2>/dev/null
  [ -e "$1/stop" ] && echo stopped' sh "$fwd" "$py" "$gport" >"$work/out11" 2>"$work/err11" &
kpid=$!
start=$(date +%s)
got=
while [ $(( $(date +%s) - start )) -lt 90 ] && kill -0 $kpid 2>/dev/null; do
  got=$(curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$hport/") && [ -n "$got" ] && break
  got=
  sleep 0.5
done
took=$(( $(date +%s) - start ))
touch "$fwd/stop"
wait $kpid
rc=$?
want_bind=0.0.0.0
[ $prc -eq 0 ] && want_bind=127.0.0.1
if [ "$got" = "$token" ] && [ $rc -eq 0 ] && [ "$(cat "$work/out11")" = stopped ] &&
   [ "$(cat "$fwd/bind" 2>/dev/null)" = "$want_bind" ]; then
  ok "--forward 127.0.0.1:P:$gport reaches a server inside (answered after $took s)"
else
  not_ok "--forward 127.0.0.1:P:$gport reaches a server inside" \
    "got '$got' after $took s, status $rc, CC_FORWARD_GUEST_BIND '$(cat "$fwd/bind" 2>/dev/null)' (want $want_bind)"
  show "$work/out11"; show "$work/err11"; [ -f "$fwd/server.log" ] && show "$fwd/server.log"
fi

[ $failed -eq 0 ]
