#!/usr/bin/env bash
# A shared exploration's Redis over TLS (docs/distributed.md): Debian's
# hiredis has no TLS, so workers reach a TLS-only Redis through stunnel.
# Runs the two example files of examples/fleet/tls as they are (only the
# paths, ports and host name replaced): Redis with a certificate from a
# throw-away CA and a password; stunnel in client mode checking that
# certificate. Then, through the tunnel:
#  - explore run --workers 0 creates an exploration (Lua scripts over TLS);
#  - explore status reads it back (its budget);
#  - a wrong password is refused, naming the URL with the password hidden;
#  - a plain connection to the TLS port fails with a message, no hang;
#  - stunnel refuses a server whose certificate is not for the host it
#    expects (checkHost), so the workers get an error, not a stranger.
# No KVM: --workers 0 only records the target (the kernel and an initrd
# are read for their hashes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
build=${CC_BUILD_DIR:-$src/build}
cc=$build/chaoscontrol
kernel=$build/kernel/bzImage
initrd=$build/guests/hello.initrd
work=$(mktemp -d "${TMPDIR:-/tmp}/redis-tls.XXXXXX") || exit 1
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

tap_plan 7

need() { command -v "$1" >/dev/null || { echo "Bail out! $1 is not installed ($2; scripts/deps.sh installs it)"; exit 1; }; }
need redis-server "apt-get install redis-server"
need stunnel4 "apt-get install stunnel4"
need openssl "apt-get install openssl"
for f in "$kernel" "$initrd"; do
  [ -f "$f" ] || { echo "Bail out! $f is missing: build with 'make build' first"; exit 1; }
done

# two free loopback ports
read -r tls_port tun_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# a throw-away CA and a certificate for "localhost"
cd "$work" || exit 1
{
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=cc test CA" &&
  openssl req -newkey rsa:2048 -nodes -keyout redis.key -out redis.csr -subj "/CN=localhost" &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext &&
  openssl x509 -req -in redis.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out redis.crt \
    -days 2 -extfile san.ext
} >openssl.log 2>&1 || { echo "Bail out! openssl failed"; cat openssl.log; exit 1; }

# Redis from the example, with this test's files and port
sed -e "s|^tls-port .*|tls-port $tls_port|" -e "s|/etc/redis/tls/|$work/|" \
  -e "s|^requirepass .*|requirepass s3cret|" "$src/examples/fleet/tls/redis-tls.conf" >redis.conf
echo "dir $work" >>redis.conf
redis-server redis.conf --logfile "$work/redis.log" --daemonize no &
pids+=($!)

# stunnel from the example, with this test's ports and CA
stunnel_conf() {  # stunnel_conf HOST: the example checking for HOST
  sed -e "s|^accept = .*|accept = 127.0.0.1:$tun_port|" \
    -e "s|^connect = .*|connect = 127.0.0.1:$tls_port|" -e "s|^CAfile = .*|CAfile = $work/ca.crt|" \
    -e "s|^checkHost = .*|checkHost = $1|" -e "s|^pid =.*|pid =\noutput = $work/stunnel.log|" \
    "$src/examples/fleet/tls/stunnel-worker.conf"
}
stunnel_conf localhost >stunnel.conf
stunnel4 stunnel.conf >stunnel.out 2>&1 &
spid=$!
pids+=($spid)

# both up: Redis answers on its TLS port (openssl s_client), stunnel listens
up=0
for _ in $(seq 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $tun_port), 1)" 2>/dev/null &&
     grep -q "Ready to accept connections" redis.log 2>/dev/null; then
    up=1; break
  fi
  sleep 0.1
done
[ $up = 1 ] || { echo "Bail out! redis-server or stunnel did not start"; cat redis.log stunnel.log 2>/dev/null | sed 's/^/# /'; exit 1; }

url=redis://127.0.0.1:$tun_port
create() {
  "$cc" explore run --kernel "$kernel" --initrd "$initrd" --vms 1 --rounds 3 --branches 8 \
    --redis "$url" --name tls --workers 0 "$@"
}
CC_REDIS_PASSWORD=s3cret create >create.out 2>&1
rc=$?
check "explore run --workers 0 through stunnel creates the exploration (exit $rc)" \
  sh -c "test $rc = 0 && grep -q \"exploration 'tls' created\" create.out"
diag_file create.out

CC_REDIS_PASSWORD=s3cret "$cc" explore status --redis "$url" --name tls >status.out 2>&1
rc=$?
diag_file status.out
check "explore status through stunnel reads it back: 24 branches (exit $rc)" \
  sh -c "test $rc = 0 && grep -q '/24' status.out"

CC_REDIS_PASSWORD=wrong "$cc" explore status --redis "$url" --name tls >wrong.out 2>&1
rc=$?
diag_file wrong.out
check "a wrong password is refused (exit $rc), the URL named, the password not shown" \
  sh -c "test $rc != 0 && grep -q '127.0.0.1:$tun_port' wrong.out && ! grep -q wrong wrong.out"

# plain Redis protocol to the TLS port: an error, within the time limit
t0=$SECONDS
CC_REDIS_PASSWORD=s3cret timeout 60 "$cc" explore status --redis "redis://127.0.0.1:$tls_port" \
  --name tls >plain.out 2>&1
rc=$?
diag_file plain.out
check "plain Redis to the TLS port fails with a message (exit $rc, $((SECONDS - t0)) s)" \
  sh -c "test $rc != 0 && test $rc != 124 && grep -q 'redis' plain.out"

# stunnel expecting another host name: the handshake fails, so does the worker
kill "$spid"; wait "$spid" 2>/dev/null
stunnel_conf redis.example.org >stunnel2.conf
: >stunnel.log
stunnel4 stunnel2.conf >stunnel2.out 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $tun_port), 1)" 2>/dev/null && break
  sleep 0.1
done
CC_REDIS_PASSWORD=s3cret timeout 60 "$cc" explore status --redis "$url" --name tls >host.out 2>&1
rc=$?
diag_file host.out
check "stunnel refuses a certificate for another host: the status fails (exit $rc)" \
  sh -c "test $rc != 0 && test $rc != 124"
check "... and stunnel's log says why (the host name check)" \
  grep -qiE "hostname|host name|verify|certificate" stunnel.log
# Redis has no plain port (port 0): what it holds came over TLS
n=$(REDISCLI_AUTH=s3cret redis-cli --tls --cacert ca.crt -h 127.0.0.1 -p "$tls_port" DBSIZE 2>&1)
check "Redis (TLS only, port 0) holds the exploration's keys: $n" \
  sh -c "grep -q '^port 0' redis.conf && test '${n:-0}' -gt 0 2>/dev/null"
