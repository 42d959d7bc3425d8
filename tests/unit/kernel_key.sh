#!/usr/bin/env bash
# Unit test (TAP) for kernel/build.sh's cache key and cache: the key is a
# pure function of the source version, the fragment content, each patch's
# name and content, and the builder version; a cached entry is reused
# without building; builds publish atomically, survive being killed, and
# serialise on the cache lock. Needs no kernel source: a dummy tarball for
# the key, and a fake "kernel" tarball whose Makefile pretends to build, for
# the cache. Takes about 15 seconds.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../kernel/build.sh

t=$(mktemp -d "${TMPDIR:-/tmp}/kernel_key.XXXXXX")
trap 'rm -rf "$t"' EXIT

mkdir -p "$t/patches" "$t/cache"
printf 'not really a tarball\n' >"$t/src.tar.xz"
cat >"$t/frag" <<'EOF'
# test fragment
CONFIG_64BIT=y

# CONFIG_SMP is not set
EOF

export CC_KERNEL_SOURCE=$t/src.tar.xz
export CC_KERNEL_SOURCE_VERSION=6.1.0-test
export CC_KERNEL_FRAGMENT=$t/frag
export CC_KERNEL_PATCHES=$t/patches
export CC_CACHE_DIR=$t/cache

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
key() { "$build" --print-key 2>"$t/err"; }
differs() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }

echo "1..28"

k0=$(key); rc=$?
[ "$rc" = 0 ] && [[ $k0 =~ ^[0-9a-f]{64}$ ]]
ok $? "--print-key prints a sha256 key" "got '$k0', rc $rc: $(cat "$t/err")"

k=$(key)
[ "$k" = "$k0" ]
ok $? "key is stable across two calls"

[ -z "$(ls -A "$t/cache")" ]
ok $? "--print-key has no side effects on the cache"

mkdir "$t/elsewhere"
cp "$t/frag" "$t/elsewhere/frag"
k=$(CC_KERNEL_FRAGMENT=$t/elsewhere/frag key)
[ "$k" = "$k0" ]
ok $? "key depends on the fragment's content, not its path"

cp "$t/frag" "$t/frag.orig"
printf 'CONFIG_PRINTK=y\n' >>"$t/frag"
k1=$(key)
differs "$k1" "$k0"
ok $? "key changes when an option is added to the fragment"

sed -i 's/^CONFIG_PRINTK=y$/# CONFIG_PRINTK is not set/' "$t/frag"
k2=$(key)
differs "$k2" "$k1" && differs "$k2" "$k0"
ok $? "key changes when an option's value changes"

cp "$t/frag.orig" "$t/frag"
k=$(key)
[ "$k" = "$k0" ]
ok $? "restoring the fragment restores the key"

printf 'README text\n' >"$t/patches/README.md"
k=$(key)
[ "$k" = "$k0" ]
ok $? "the patch directory's README.md does not affect the key"

printf -- '--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+one\n' >"$t/patches/0001-one.patch"
k3=$(key)
differs "$k3" "$k0"
ok $? "key changes when a patch is added"

printf -- '--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+two\n' >"$t/patches/0001-one.patch"
k4=$(key)
differs "$k4" "$k3" && differs "$k4" "$k0"
ok $? "key changes when a patch's content changes"

mv "$t/patches/0001-one.patch" "$t/patches/0002-one.patch"
k5=$(key)
differs "$k5" "$k4"
ok $? "key changes when a patch is renamed (order is by name)"

rm "$t/patches/0002-one.patch"
k=$(key)
[ "$k" = "$k0" ]
ok $? "removing the patch restores the key"

k6=$(CC_KERNEL_SOURCE_VERSION=6.1.0-other key)
differs "$k6" "$k0"
ok $? "key changes when the source version changes"

# Without CC_KERNEL_SOURCE_VERSION, a tarball that is not Debian's is
# identified by its content.
k7=$(env -u CC_KERNEL_SOURCE_VERSION "$build" --print-key 2>"$t/err")
printf 'different content\n' >"$t/src.tar.xz"
k8=$(env -u CC_KERNEL_SOURCE_VERSION "$build" --print-key 2>"$t/err")
differs "$k7" "$k8"
ok $? "key of a custom tarball follows its content"

# A published entry is used without building (no tools, no extraction: the
# tarball here is not even valid) and linked into --out.
mkdir -p "$t/cache/kernel/$k0"
printf 'fake bzImage\n' >"$t/cache/kernel/$k0/bzImage"
printf 'fake vmlinux\n' >"$t/cache/kernel/$k0/vmlinux"
printf '# fake config\n' >"$t/cache/kernel/$k0/config"
start=$(date +%s%N)
out=$("$build" --out "$t/out" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] && [[ $out == *"using cached build"* ]] && [ "$ms" -lt 10000 ] &&
  [ "$(readlink "$t/out/bzImage")" = "$t/cache/kernel/$k0/bzImage" ] &&
  [ "$(cat "$t/out/vmlinux")" = "fake vmlinux" ]
ok $? "a cached entry is reused (under 10 s: a compile takes minutes) and linked into --out" "rc $rc, ${ms} ms: $out"

# --cache-dir takes precedence over CC_CACHE_DIR.
out=$("$build" --cache-dir "$t/empty-cache" --out "$t/out2" 2>&1); rc=$?
[ "$rc" != 0 ] || [[ $out != *"using cached build"* ]]
ok $? "--cache-dir selects a different cache (no false hit)" "$out"

# --- builds against a fake kernel source: its Makefile writes .config,
# prints kbuild-style "  CC" lines slowly, and produces bzImage/vmlinux;
# every compile appends "compile <make pid>" to $FAKE_LOG.
mkdir -p "$t/fake/linux/scripts/kconfig"
cat >"$t/fake/linux/Makefile" <<'MAKEFILE'
tinyconfig:
	printf 'CONFIG_64BIT=y\n# CONFIG_SMP is not set\n' >.config
olddefconfig:
	@true
bzImage: vmlinux
	mkdir -p arch/x86/boot && cp vmlinux arch/x86/boot/bzImage
vmlinux:
	@echo "compile $$PPID" >>"$(FAKE_LOG)"
	@for i in 1 2 3; do echo "  CC      obj$$i.o"; sleep $(FAKE_SLEEP); done
	@if [ -n "$(FAKE_FAIL)" ]; then echo "fake.c:1: error: boom"; exit 1; fi
	echo "fake vmlinux" >vmlinux && echo "map" >System.map
MAKEFILE
cat >"$t/fake/linux/scripts/kconfig/merge_config.sh" <<'MERGE'
#!/bin/sh
# merge_config.sh -m .config FRAGMENT
cat "$3" >>"$2"
MERGE
chmod +x "$t/fake/linux/scripts/kconfig/merge_config.sh"
printf 'config 64BIT\n\tbool\nconfig SMP\n\tbool\n' >"$t/fake/linux/Kconfig"
tar -cJf "$t/fake.tar.xz" -C "$t/fake" linux

export CC_KERNEL_SOURCE=$t/fake.tar.xz CC_KERNEL_SOURCE_VERSION=fake-1
export CC_CACHE_DIR=$t/fcache FAKE_LOG=$t/fake.log FAKE_SLEEP=0.2 FAKE_FAIL=
: >"$FAKE_LOG"
cp "$t/frag.orig" "$t/frag"
fk=$("$build" --print-key)
fentry=$t/fcache/kernel/$fk
compiles() { grep -c '^compile' "$FAKE_LOG"; }
no_tmp() { [ -z "$(cd "$t/fcache/kernel" && ls -d tmp.* old.* 2>/dev/null)" ]; }

out=$("$build" --out "$t/fout" 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(cat "$fentry/vmlinux")" = "fake vmlinux" ] &&
  [ -f "$fentry/bzImage" ] && [ -f "$fentry/config" ] && [ -f "$fentry/build.log" ] &&
  grep -q "^source linux-source-6.1 fake-1$" "$fentry/key.txt" &&
  [ "$(readlink "$t/fout/vmlinux")" = "$fentry/vmlinux" ] && [ "$(compiles)" = 1 ]
ok $? "a build publishes bzImage, vmlinux, config, build.log and key.txt and links --out" "rc $rc: $out"

[[ $out == *"kernel: extracting source"* ]] && [[ $out == *"kernel: configuring"* ]] &&
  [[ $out == *"kernel: compiling"* ]] && [[ $out == *"compiled 3 objects"* ]] &&
  [[ $out != *"obj1.o"* ]]
ok $? "stage lines and an object count are printed, not the make log" "$out"

no_tmp
ok $? "no temporary directory is left after a build" "$(ls -a "$t/fcache/kernel")"

start=$(date +%s%N)
out=$("$build" --out "$t/fout" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] && [[ $out == *"using cached build $fentry"* ]] && [ "$(compiles)" = 1 ] && [ "$ms" -lt 10000 ]
ok $? "the second run uses the cache without compiling (under 10 s)" "rc $rc, ${ms} ms: $out"

out=$("$build" --force 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(compiles)" = 2 ] && [ -f "$fentry/vmlinux" ] && no_tmp
ok $? "--force rebuilds and replaces the entry" "rc $rc: $out"

# A failing compile: error with the log's tail and a log path that exists;
# nothing published.
printf '# changed\n' >>"$t/frag"
fk2=$("$build" --print-key)
out=$(FAKE_FAIL=1 "$build" 2>&1); rc=$?
flog=$t/fcache/kernel/failed-$fk2.log
[ "$rc" != 0 ] && [[ $out == *"compiling the kernel failed"* ]] &&
  [[ $out == *"fake.c:1: error: boom"* ]] && [[ $out == *"full log: $flog"* ]] &&
  [ -f "$flog" ] && [ ! -e "$t/fcache/kernel/$fk2" ] && no_tmp
ok $? "a failing compile shows the log's tail and path and publishes nothing" "rc $rc: $out"

# wait_compile: wait until the fake make has started compiling; sets mpid.
wait_compile() {
  mpid=
  for _ in $(seq 100); do
    mpid=$(awk '/^compile/ {print $2; exit}' "$FAKE_LOG")
    [ -z "$mpid" ] || return 0
    sleep 0.1
  done
}

# SIGTERM during the compile: make is stopped, the temporary directory is
# removed, nothing is published.
: >"$FAKE_LOG"
FAKE_SLEEP=5 "$build" >"$t/term.out" 2>&1 &
bpid=$!
wait_compile
start=$(date +%s%N)
kill -TERM "$bpid"
wait "$bpid"; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 143 ] && [ -n "$mpid" ] && ! kill -0 "$mpid" 2>/dev/null && no_tmp &&
  [ ! -e "$t/fcache/kernel/$fk2" ] && [ "$ms" -lt 3000 ]
ok $? "SIGTERM stops make at once, removes the temporary directory, publishes nothing" "rc $rc after ${ms} ms, make pid $mpid: $(cat "$t/term.out")"

# SIGKILL of the builder and of its make (a crash): no entry; the next run
# removes the leftover and builds.
: >"$FAKE_LOG"
FAKE_SLEEP=5 "$build" >"$t/kill.out" 2>&1 &
bpid=$!
wait_compile
kill -KILL "$bpid"
wait "$bpid" 2>/dev/null
[ -z "$mpid" ] || kill -KILL -- "-$mpid" 2>/dev/null
left=$(cd "$t/fcache/kernel" && ls -d tmp.* 2>/dev/null)
[ -n "$left" ] && [ ! -e "$t/fcache/kernel/$fk2" ]
ok $? "a killed build leaves only a temporary directory, no entry" "left: '$left', make pid $mpid"

out=$("$build" 2>&1); rc=$?
[ "$rc" = 0 ] && [[ $out == *"removing leftover of an interrupted build"* ]] && no_tmp &&
  [ -f "$t/fcache/kernel/$fk2/vmlinux" ] && [ ! -e "$flog" ]
ok $? "the next run removes the leftover and publishes" "rc $rc: $out"

# Two builds of one key at once: one compiles, the other waits on the lock
# and then uses its result.
printf '# changed again\n' >>"$t/frag"
: >"$FAKE_LOG"
FAKE_SLEEP=1 "$build" >"$t/a.out" 2>&1 &
apid=$!
FAKE_SLEEP=1 "$build" >"$t/b.out" 2>&1 &
bpid=$!
wait "$apid"; arc=$?
wait "$bpid"; brc=$?
both=$(cat "$t/a.out" "$t/b.out")
[ "$arc" = 0 ] && [ "$brc" = 0 ] && [ "$(compiles)" = 1 ] && [[ $both == *"using cached build"* ]]
ok $? "concurrent builds of one key compile once" "rc $arc/$brc, $(compiles) compiles: $both"

# --config-only stops before compiling and writes DIR/config.
: >"$FAKE_LOG"
printf '# and again\n' >>"$t/frag"
out=$("$build" --config-only --out "$t/cfgout" 2>&1); rc=$?
[ "$rc" = 0 ] && [ "$(compiles)" = 0 ] && grep -q '^CONFIG_64BIT=y' "$t/cfgout/config" &&
  [ ! -e "$t/fcache/kernel/$("$build" --print-key)" ] && no_tmp
ok $? "--config-only configures, writes DIR/config, compiles and publishes nothing" "rc $rc: $out"

# A fragment option the (fake) Kconfig does not define is reported.
printf 'CONFIG_NOPE=y\n' >>"$t/frag"
out=$("$build" --config-only 2>&1); rc=$?
[ "$rc" != 0 ] && [[ $out == *"$t/frag:"*": CONFIG_NOPE: no such option"* ]]
ok $? "an unknown option is reported after configuring" "rc $rc: $out"

[ "$fails" = 0 ]
