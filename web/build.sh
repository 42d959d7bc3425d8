#!/bin/sh
# Builds the dashboard front end into OUTDIR: installs the npm packages
# (from package-lock.json, when node_modules is missing or older than it)
# and runs build.mjs.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
case $0 in
    */*) here=${0%/*} ;;
    *) here=. ;;
esac
here=$(cd "$here" && pwd)

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "web/build.sh: '$tool' not found: the dashboard front end needs Node.js (>= 18) and npm" >&2
        echo "  (Debian/Ubuntu: apt-get install nodejs npm)" >&2
        exit 1
    fi
done
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
    echo "web/build.sh: Node.js $(node --version) is too old: the dashboard front end needs >= 18" >&2
    exit 1
fi

stamp=$here/node_modules/.cc-installed
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    echo "web/build.sh: npm ci in $here" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
        echo "web/build.sh: npm ci failed (the npm registry must be reachable the first time)" >&2
        exit 1
    }
    touch "$stamp"
fi

exec node "$here/build.mjs" "$out"
