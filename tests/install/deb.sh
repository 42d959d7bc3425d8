#!/usr/bin/env bash
# The Debian package (debian/, docs/install.md) builds from a clean copy of
# the tree with dpkg-buildpackage -us -uc -b, without a network (in a
# network namespace of its own: nothing is downloaded), and holds what make
# install installs; lintian finds no error in it.
#
# The copy is `git archive` of the checkout's tracked files as they are now
# (committed or not: git stash create); untracked files are not in it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/deb-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

for tool in git dpkg-buildpackage dh lintian unshare; do
  command -v "$tool" >/dev/null ||
    { echo "Bail out! $tool not found (scripts/deps.sh installs it)"; exit 1; }
done
git -C "$src" rev-parse --git-dir >/dev/null 2>&1 ||
  { echo "Bail out! $src is not a git checkout: the package is built from git archive"; exit 1; }

tap_plan 5

tree=$(git -C "$src" stash create 2>/dev/null)
[ -n "$tree" ] || tree=HEAD
mkdir -p "$work/chaoscontrol"
git -C "$src" archive "$tree" | tar -x -C "$work/chaoscontrol"

# No network: a new network namespace (as root; otherwise in a user
# namespace of its own as well, mapped to root, as fakeroot would be).
netns=(unshare -n)
[ "$(id -u)" = 0 ] || netns=(unshare -rn)
start=$(date +%s)
(cd "$work/chaoscontrol" &&
  DEB_BUILD_OPTIONS="parallel=${CC_DEB_JOBS:-2}" "${netns[@]}" dpkg-buildpackage -us -uc -b) \
  >"$work/build.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
deb=$(ls "$work"/chaoscontrol_*_amd64.deb 2>/dev/null | head -1)
if [ $rc = 0 ] && [ -n "$deb" ]; then
  ok "dpkg-buildpackage -us -uc -b without a network: ${deb##*/} in $secs s"
else
  not_ok "dpkg-buildpackage -us -uc -b without a network (exit $rc, $secs s); the log's end:"
  tail -40 "$work/build.log" | sed 's/^/#   | /'
  tap_done; exit 1
fi
check "the build did not run the test suite" \
  bash -c '! grep -Eq "^ *(meson test|ninja test)" "$1"' _ "$work/build.log"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$work/contents"
want=(
  /usr/bin/chaoscontrol /usr/bin/chaoscontrol-kvm-host
  /usr/libexec/chaoscontrol/kvm-host /usr/libexec/chaoscontrol/kvm-probe
  '/usr/lib/*/chaoscontrol/kernel/bzImage' '/usr/lib/*/chaoscontrol/kernel/vmlinux'
  /usr/include/chaoscontrol/chaoscontrol.h
  '/usr/lib/*/chaoscontrol/musl/libchaoscontrol-sdk.a' '/usr/lib/*/chaoscontrol/musl/libvoidstar.so'
  '/usr/lib/*/pkgconfig/chaoscontrol-sdk.pc'
  /usr/share/man/man1/chaoscontrol.1.gz /usr/share/man/man1/chaoscontrol-explore.1.gz
  /usr/share/man/man1/chaoscontrol-run.1.gz /usr/share/man/man1/chaoscontrol-kvm-host.1.gz
  /usr/share/bash-completion/completions/chaoscontrol
  /usr/share/chaoscontrol/web/index.html
)
missing=()
for w in "${want[@]}"; do
  found=0
  while IFS= read -r f; do
    # shellcheck disable=SC2053  # a glob on purpose
    [[ $f == $w ]] && { found=1; break; }
  done <"$work/contents"
  [ $found = 1 ] || missing+=("$w")
done
if [ ${#missing[@]} -eq 0 ]; then
  ok "dpkg-deb -c lists the CLI, kvm-host, kernel, SDK header, library and .pc, man pages, completion and web files (${#want[@]} paths)"
else
  not_ok "dpkg-deb -c lists what make install installs" "missing:" "${missing[@]}"
  sed 's/^/#   | /' "$work/contents"
fi

# The packaged CLI works, and its man page is the generated one.
mkdir -p "$work/x"
dpkg-deb -x "$deb" "$work/x"
if "$work/x/usr/bin/chaoscontrol" --version | grep -q '^chaoscontrol ' &&
   zcat "$work/x/usr/share/man/man1/chaoscontrol-run.1.gz" | grep -q 'Generated from "chaoscontrol-run --help"'; then
  ok "the packaged chaoscontrol runs; its man pages are generated from --help"
else
  not_ok "the packaged chaoscontrol runs; its man pages are generated from --help"
fi

lintian --tag-display-limit 0 "$deb" >"$work/lintian.log" 2>&1
if grep -q '^E: ' "$work/lintian.log"; then
  not_ok "lintian: no errors"
  grep -E '^[EW]: ' "$work/lintian.log" | sed 's/^/#   | /'
else
  ok "lintian: no errors ($(grep -c '^W: ' "$work/lintian.log") warnings)"
  grep -E '^W: ' "$work/lintian.log" | sed 's/^/#   | /'
fi

tap_done
