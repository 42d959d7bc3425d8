#!/usr/bin/env bash
# The exploration dashboard end to end (docs/dashboard.md), in headless
# Chromium (Debian's) driven by Playwright (tests/web/dashboard.mjs):
#  1. a tiny-guest exploration with the dashboard on (build/tests/kvm/
#     dash_explore) runs where KVM is real: inside the test host, its port
#     forwarded to this machine (tools/kvm-host --forward); the page sees
#     the coverage chart gain rounds through SSE, a bug appear and open with
#     its timeline and reproduce command; hostile paths get 4xx; screenshots
#     go to BUILD/web-test/;
#  2. 'chaoscontrol serve' on the finished directory shows report.txt's
#     numbers;
#  3. the same request list against serve from curl (no browser): codes.
#
#   tests/web/dashboard.sh BUILD_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/tests/tap.sh"
build=$(cd "${1:?usage: dashboard.sh BUILD_DIR}" && pwd)
out=$build/web-test
rm -rf "$out"
mkdir -p "$out"
corpus=$out/corpus

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -d "$repo/web/node_modules/playwright-core" ] ||
  { echo "Bail out! web/node_modules/playwright-core missing: run make (web/build.sh installs it)"; exit 1; }
[ -f "$build/web/index.html" ] ||
  { echo "Bail out! $build/web/index.html missing: run make (the front end is built there)"; exit 1; }
command -v "${CC_CHROMIUM:-/usr/bin/chromium}" >/dev/null ||
  { echo "Bail out! Chromium missing (apt-get install chromium; make installs it)"; exit 1; }

# run_node FILE-FOR-LOG ARGS...: the Playwright script, its lines as TAP here
run_node() {
  local log=$1 line
  shift
  node "$here/dashboard.mjs" "$@" >"$log" 2>&1
  local rc=$?
  while IFS= read -r line; do
    case $line in
      'ok - '*) ok "${line#ok - }" ;;
      'not ok - '*) not_ok "${line#not ok - }" ;;
      '#'*) echo "$line" ;;
      *) echo "#   node: $line" ;;
    esac
  done <"$log"
  return $rc
}

# ---- 1. live --------------------------------------------------------------
port=$(free_port)
CC_BUILD_DIR=$build CC_DASHBOARD_WEB=$build/web CC_DASH_PACE_MS=1500 "$repo/tools/kvm-host" --need any --timeout 900 \
  --rw "$out" --forward "127.0.0.1:$port:$port" -- \
  "$build/tests/kvm/dash_explore" "$corpus" "$port" 6 4 >"$out/explore.log" 2>&1 &
kpid=$!
run_node "$out/live.log" live "http://127.0.0.1:$port/" "$out"
touch "$out/stop"
wait $kpid
krc=$?
done_line=$(grep -a '^done rounds' "$out/explore.log" | tail -1)
check "the exploration ran to its end (kvm-host exit $krc: $done_line)" \
  [ $krc = 0 -a -n "$done_line" ]
[ $krc = 0 ] || diag_file "$out/explore.log"
[ -f "$out/dashboard.png" ] && echo "# screenshot: $out/dashboard.png"

# ---- 2. serve on the finished directory ------------------------------------
sport=$(free_port)
"$build/chaoscontrol" serve --corpus "$corpus" --port "$sport" 2>"$out/serve.err" &
spid=$!
run_node "$out/serve.log" serve "http://127.0.0.1:$sport/" "$corpus/report.txt"

# ---- 3. the server from curl ----------------------------------------------
codes=""
for u in /api/state /files/report.txt /api/bug/1 /files/../checkpoint.json \
         '/files/..%2f..%2fetc%2fpasswd' /files/.checkpoint.json.tmp /api/bug/0x1 /x; do
  codes+="$(curl -s -o /dev/null --path-as-is -w '%{http_code}' "http://127.0.0.1:$sport$u") "
done
check "serve: the API and corpus files answer 200, hostile paths 4xx ($codes)" \
  [ "$codes" = "200 200 200 400 400 400 400 404 " ]
curl -s "http://127.0.0.1:$sport/api/state" >"$out/state.json"
"$build/chaoscontrol" serve --corpus "$corpus" --state >"$out/state-cli.json"
check "serve --state prints the state /api/state serves (generation aside)" \
  python3 -c 'import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
a.pop("generation"); b.pop("generation"); sys.exit(a != b)' "$out/state.json" "$out/state-cli.json"
kill -INT $spid
wait $spid
check "serve stops on SIGINT with status 0" [ $? = 0 ]
"$build/chaoscontrol" serve --corpus "$corpus" --port "$sport" --bind 300.1.2.3 2>"$out/bad.err"
rc=$?
check "serve with a bad address: status 1 and a message naming it" \
  bash -c '[ "$1" = 1 ] && grep -q "300.1.2.3" "$2"' _ $rc "$out/bad.err"
"$build/chaoscontrol" serve --corpus "$out/missing" 2>"$out/bad2.err"
rc=$?
check "serve on a missing directory: status 2 naming it" [ $rc = 2 ]
tap_done
