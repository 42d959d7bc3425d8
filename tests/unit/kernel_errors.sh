#!/usr/bin/env bash
# Unit test (TAP) for kernel/build.sh's error reporting: a missing source
# tarball, malformed fragment lines (named file:line), missing build tools,
# options that do not survive configuration (misspelled, unmet dependency,
# forced on by a select), and a patch that does not apply. The last two
# extract the real linux-source-6.1 and stop after configuring
# (--config-only), so this takes about a minute, not a kernel build. All
# runs use a temporary cache.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../kernel/build.sh
real_fragment=$here/../../kernel/config-fragment
real_source=/usr/src/linux-source-6.1.tar.xz

t=$(mktemp -d "${TMPDIR:-/tmp}/kernel_errors.XXXXXX")
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/patches" "$t/cache"

export CC_CACHE_DIR=$t/cache
export CC_KERNEL_PATCHES=$t/patches
unset CC_KERNEL_SOURCE CC_KERNEL_SOURCE_VERSION CC_KERNEL_FRAGMENT

n=0
fails=0
# ok STATUS DESCRIPTION [DIAGNOSTIC]: one TAP line; the diagnostic is shown
# as "# " comment lines when the check failed.
ok() {
  n=$((n + 1))
  if [ "$1" = 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    [ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/# /'
    fails=$((fails + 1))
  fi
}
# run ARGS...: run build.sh, stdout+stderr in $out, exit status in $rc.
run() {
  out=$("$build" "$@" 2>&1)
  rc=$?
}
has() { [[ $out == *"$1"* ]]; }

echo "1..12"

# --- missing source tarball
CC_KERNEL_SOURCE=/nonexistent/linux.tar.xz run --out "$t/out"
[ "$rc" != 0 ] && has "/nonexistent/linux.tar.xz" && has "does not exist" &&
  has "linux-source-6.1" && has "scripts/deps.sh"
ok $? "missing source tarball: clear error, nonzero exit" "rc $rc: $out"

CC_KERNEL_SOURCE=/nonexistent/linux.tar.xz run --print-key
[ "$rc" != 0 ] && has "/nonexistent/linux.tar.xz"
ok $? "missing source tarball: --print-key fails too" "rc $rc: $out"

# --- fragment syntax (checked before anything else; a dummy tarball is
# enough)
printf 'dummy\n' >"$t/dummy.tar.xz"
export CC_KERNEL_SOURCE=$t/dummy.tar.xz CC_KERNEL_SOURCE_VERSION=test

cat >"$t/good.frag" <<'EOF'
# a comment

CONFIG_64BIT=y
# CONFIG_SMP is not set
CONFIG_HZ=100
CONFIG_CMDLINE="console=ttyS0 x=\"y\""
CONFIG_PHYSICAL_START=0x1000000
EOF
CC_KERNEL_FRAGMENT=$t/good.frag run --print-key
[ "$rc" = 0 ]
ok $? "well-formed fragment (comments, blanks, not-set, numbers, strings) is accepted" "rc $rc: $out"

cat >"$t/garbage.frag" <<'EOF'
# a comment
CONFIG_64BIT=y
this is garbage
CONFIG_PRINTK=y
EOF
CC_KERNEL_FRAGMENT=$t/garbage.frag run --print-key
[ "$rc" != 0 ] && has "$t/garbage.frag:3:" && has "this is garbage" && ! has "garbage.frag:4:"
ok $? "garbage line is reported as file:line" "rc $rc: $out"

CC_KERNEL_FRAGMENT=$t/garbage.frag run --out "$t/out"
[ "$rc" != 0 ] && has "$t/garbage.frag:3:" && [ -z "$(ls -A "$t/cache")" ]
ok $? "garbage line stops a build before it touches the cache" "rc $rc: $out"

printf 'CONFIG_64BIT=y\nCONFIG_PRINTK=maybe\nCONFIG_TTY =y\n' >"$t/badvalue.frag"
CC_KERNEL_FRAGMENT=$t/badvalue.frag run --print-key
[ "$rc" != 0 ] && has "$t/badvalue.frag:2:" && has "maybe" && has "$t/badvalue.frag:3:"
ok $? "bad value and bad option syntax are reported as file:line" "rc $rc: $out"

printf 'CONFIG_64BIT=y\nCONFIG_PRINTK=y\n# CONFIG_64BIT is not set\n' >"$t/dup.frag"
CC_KERNEL_FRAGMENT=$t/dup.frag run --print-key
[ "$rc" != 0 ] && has "$t/dup.frag:3:" && has "line 1"
ok $? "an option set twice is reported with both lines" "rc $rc: $out"

# --- missing build tools: a PATH with everything but flex, bison and bc
mkdir "$t/bin"
for d in /usr/local/bin /usr/bin /bin; do
  for f in "$d"/*; do
    b=${f##*/}
    case $b in flex|bison|bc) continue ;; esac
    [ -x "$f" ] && [ ! -e "$t/bin/$b" ] && ln -s "$f" "$t/bin/$b"
  done
done
CC_KERNEL_FRAGMENT=$t/good.frag PATH=$t/bin run --out "$t/out"
[ "$rc" != 0 ] && has "flex" && has "bison" && has "bc (" && has "scripts/deps.sh" &&
  ! has "extracting"
ok $? "missing flex, bison and bc are named before any work" "rc $rc: $out"

# --- configuration check and patches: need the real source
unset CC_KERNEL_SOURCE CC_KERNEL_SOURCE_VERSION
if [ ! -f "$real_source" ]; then
  for _ in 1 2 3 4; do
    ok 1 "needs $real_source (linux-source-6.1 not installed; run scripts/deps.sh)"
  done
  exit 1
fi

# The real patches (the real fragment needs options they add), plus one
# more that applies (exercised by the configure run) ...
real_patches=$(dirname "$real_fragment")/patches
cp "$real_patches"/*.patch "$t/patches/"
npatches=$(find "$t/patches" -name '*.patch' | wc -l)
cat >"$t/patches/9000-good.patch" <<'EOF'
--- a/README
+++ b/README
@@ -1,3 +1,4 @@
 Linux kernel
 ============
+ChaosControl test patch
 
EOF

# ... and a fragment that is the real one plus three options that cannot
# come out as written.
cp "$real_fragment" "$t/bad.frag"
base=$(wc -l <"$t/bad.frag")
cat >>"$t/bad.frag" <<'EOF'
CONFIG_DOES_NOT_EXIST=y
CONFIG_VIRTIO_PCI=y
# CONFIG_DEBUG_FS is not set
EOF
# A leftover of a killed build, to be cleaned up.
mkdir -p "$t/cache/kernel/tmp.stale/src"
CC_KERNEL_FRAGMENT=$t/bad.frag run --config-only --out "$t/out"
[ "$rc" != 0 ] &&
  has "$t/bad.frag:$((base + 1)): CONFIG_DOES_NOT_EXIST" && has "no such option" &&
  has "bad.frag:$((base + 2)): CONFIG_VIRTIO_PCI=y" && has "depends on" &&
  has "bad.frag:$((base + 3)): CONFIG_DEBUG_FS" && has "selected by CONFIG_KCOV" &&
  has "3 option(s)"
ok $? "misspelled, unsatisfiable and force-selected options are each reported as file:line" "rc $rc: $out"

has "applying $((npatches + 1)) patch"
ok $? "the real patches and the good test patch were applied" "$out"

leftover=$(cd "$t/cache/kernel" && ls -d tmp.* 2>/dev/null)
[ -z "$leftover" ] && [ ! -e "$t/out/config" ]
ok $? "stale and own temporary directories are removed; nothing is published" "left: $leftover"

# --- a patch that does not apply
cat >"$t/patches/9001-bad.patch" <<'EOF'
--- a/Makefile
+++ b/Makefile
@@ -1,1 +1,1 @@
-this line is not in the kernel Makefile
+and neither is this one
EOF
run --config-only
[ "$rc" != 0 ] && has "patch 9001-bad.patch does not apply" && ! has "9000-good.patch does not" &&
  ! has "configuring"
ok $? "a failing patch stops the build with an error naming it" "rc $rc: $out"

[ "$fails" = 0 ]
