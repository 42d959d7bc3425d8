#!/usr/bin/env bash
# make install, checked from the installed files only (docs/install.md):
#
#  - meson install --destdir into a staging directory (the build's prefix)
#    puts every expected file there;
#  - every man page renders without a warning from man/groff;
#  - the bash completion completes commands, second words and options;
#  - a guest written here in C is built with musl-gcc and pkg-config against
#    the installed SDK only (PKG_CONFIG_SYSROOT_DIR: the staging directory),
#    packed by the installed `chaoscontrol pack` and run by the installed
#    `chaoscontrol run` without --kernel (so with the installed kernel)
#    through the installed chaoscontrol-kvm-host: its assertions are
#    reported passed and failed, with this file's name and line.
#
# The staging directory is under the build directory: the QEMU test host
# sees /tmp fresh and empty.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
build=$(cd "${CC_BUILD_DIR:-$here/../../build}" && pwd -P)
work=$(mktemp -d "$build/install-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
dest=$work/dest

tap_plan 17

# The build's directories (meson introspect): prefix, and the others
# relative to it.
eval "$(meson introspect --buildoptions "$build" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("prefix", "bindir", "libdir", "libexecdir", "includedir", "datadir", "mandir"):
    print("%s=%s" % (k, o[k]))
print("web=%s" % ("yes" if o["web"] else "no"))
')"
root=$dest$prefix

if meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >"$work/install.log" 2>&1; then
  ok "meson install --destdir (prefix $prefix)"
else
  not_ok "meson install --destdir (prefix $prefix)"
  diag_file "$work/install.log"
  tap_done; exit 1
fi

cc=$root/$bindir/chaoscontrol
musllib=$root/$libdir/chaoscontrol/musl
expected=(
  "$bindir/chaoscontrol" "$bindir/chaoscontrol-kvm-host"
  "$libexecdir/chaoscontrol/kvm-host" "$libexecdir/chaoscontrol/kvm-probe"
  "$libdir/chaoscontrol/kernel/bzImage" "$libdir/chaoscontrol/kernel/vmlinux"
  "$includedir/chaoscontrol/chaoscontrol.h"
  "$libdir/chaoscontrol/musl/libchaoscontrol-sdk.a" "$libdir/chaoscontrol/musl/libvoidstar.so"
  "$libdir/pkgconfig/chaoscontrol-sdk.pc"
  "$mandir/man1/chaoscontrol.1" "$mandir/man1/chaoscontrol-explore.1"
  "$mandir/man1/chaoscontrol-kvm-host.1"
  "$datadir/bash-completion/completions/chaoscontrol"
)
[ "$web" = yes ] && expected+=("$datadir/chaoscontrol/web/index.html" "$datadir/chaoscontrol/web/app.js")
missing=()
for f in "${expected[@]}"; do [ -f "$root/$f" ] || missing+=("$f"); done
for f in "$bindir/chaoscontrol" "$libexecdir/chaoscontrol/kvm-host" "$libexecdir/chaoscontrol/kvm-probe"; do
  [ -x "$root/$f" ] || missing+=("$f (executable)")
done
if [ ${#missing[@]} -eq 0 ]; then
  ok "the ${#expected[@]} expected files are installed (web front end: $web)"
else
  not_ok "the expected files are installed" "missing under $root:" "${missing[@]}"
  find "$dest" -type f | sed "s|^$dest|#   |"
fi
if cmp -s "$root/$libdir/chaoscontrol/kernel/bzImage" "$build/kernel/bzImage" &&
   [ ! -L "$root/$libdir/chaoscontrol/kernel/bzImage" ]; then
  ok "the kernel is a copy of build/kernel/bzImage (not a link into the cache)"
else
  not_ok "the kernel is a copy of build/kernel/bzImage (not a link into the cache)"
fi

# ---- man pages -----------------------------------------------------------
ncmd=$("$cc" --help | sed -n '/^commands:/,$p' | grep -c '^  [a-z]')
nman=0 bad=()
for m in "$root/$mandir"/man1/chaoscontrol*.1; do
  nman=$((nman + 1))
  name=$(basename "$m" .1)
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" >"$work/man.out" 2>"$work/man.err"
  if [ $? -ne 0 ] || [ -s "$work/man.err" ] || ! grep -q '^NAME' "$work/man.out" ||
     ! grep -Eq "^ *$name +- " "$work/man.out"; then
    bad+=("$name: $(head -3 "$work/man.err" | tr '\n' ' ')")
  fi
done
# one per command but 'version', chaoscontrol(1) and chaoscontrol-kvm-host(1)
if [ "$nman" -eq $((ncmd + 1)) ] && [ ${#bad[@]} -eq 0 ]; then
  ok "$nman man pages (one per command, chaoscontrol, kvm-host) render without warnings"
else
  not_ok "one man page per command renders without warnings" "$nman pages for $ncmd commands" "${bad[@]}"
fi
LC_ALL=C.UTF-8 MANWIDTH=100 man -l "$root/$mandir/man1/chaoscontrol-run.1" >"$work/run.man" 2>&1
if grep -q -- '--kernel K' "$work/run.man" && grep -q 'SYNOPSIS' "$work/run.man" &&
   grep -q 'chaoscontrol run \[--kernel K\]' "$work/run.man"; then
  ok "chaoscontrol-run(1) has the synopsis and the options of 'run --help'"
else
  not_ok "chaoscontrol-run(1) has the synopsis and the options of 'run --help'"
  diag_file "$work/run.man"
fi

# ---- the dashboard serves the installed web files ----------------------------
if [ "$web" = yes ]; then
  mkdir -p "$work/corpus"
  "$cc" serve --corpus "$work/corpus" --port 0 >"$work/serve.out" 2>&1 &
  spid=$!
  addr=
  for _ in $(seq 100); do
    addr=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$work/serve.out" | head -1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  if [ -n "$addr" ] && python3 -c '
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read()
sys.exit(0 if page == open(sys.argv[2], "rb").read() else 1)' "$addr" "$root/$datadir/chaoscontrol/web/index.html"; then
    ok "the installed serve serves the installed index.html"
  else
    not_ok "the installed serve serves the installed index.html"
    diag_file "$work/serve.out"
  fi
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
else
  ok "the installed serve serves the installed index.html # SKIP built with -Dweb=false"
fi

# ---- bash completion -----------------------------------------------------
# complete WORDS...: what the completion offers for the last word
complete_words() {
  bash --norc --noprofile -c '
    source "$1"; shift
    fn=$(complete -p chaoscontrol | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    "$fn" chaoscontrol "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "${COMPREPLY[*]}"' bash "$root/$datadir/bash-completion/completions/chaoscontrol" "$@"
}
got=$(complete_words chaoscontrol ex 2>&1)
check "completion: 'chaoscontrol ex<TAB>' gives explore (got '$got')" [ "$got" = explore ]
got=$(complete_words chaoscontrol explore run --bra 2>&1)
check "completion: 'explore run --bra<TAB>' gives --branch-time --branches (got '$got')" \
  [ "$got" = "--branch-time --branches" ]
got=$(complete_words chaoscontrol snapshot s 2>&1)
check "completion: 'snapshot s<TAB>' gives save (got '$got')" [ "$got" = save ]

# ---- a guest against the installed SDK -------------------------------------
mkdir -p "$work/guest"
cat >"$work/guest/guest.c" <<'EOF'
/* The install test's guest: what a user writes against the installed SDK. */
#include <chaoscontrol.h>
#include <stdio.h>

int main(void)
{
    cc_setup_complete("{\"test\": \"install\"}");
    int answer = 6 * 7;
    CC_ALWAYS(answer == 42, "the answer is 42", NULL);
    uint64_t c = cc_random_choice(4);
    CC_SOMETIMES(c < 4, "a choice in range", NULL);
    printf("install-guest: choice %llu\n", (unsigned long long)c);
    fflush(stdout);
    CC_ALWAYS(answer == 41, "the deliberate failure of the install test", NULL);
    return 0;
}
EOF
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
unset PKG_CONFIG_LIBDIR
flags=$(pkg-config --cflags --libs chaoscontrol-sdk 2>"$work/pc.err")
if [ -n "$flags" ] && [[ $flags == *"-I$root/$includedir/chaoscontrol"* ]] &&
   [[ $flags == *"-L$musllib"* ]]; then
  ok "pkg-config chaoscontrol-sdk: $flags"
else
  not_ok "pkg-config --cflags --libs chaoscontrol-sdk names the installed header and library" \
    "got: '$flags'" "$(cat "$work/pc.err")"
fi
# shellcheck disable=SC2086  # pkg-config's words
if musl-gcc -static -O2 -o "$work/guest/guest" "$work/guest/guest.c" $flags \
     >"$work/cc.log" 2>&1; then
  ok "musl-gcc -static guest.c \$(pkg-config --cflags --libs chaoscontrol-sdk)"
else
  not_ok "musl-gcc -static guest.c \$(pkg-config --cflags --libs chaoscontrol-sdk)"
  diag_file "$work/cc.log"
fi
# the library is a musl build, out of a host link's way: gcc -l finds none
echo 'int main(void){return 0;}' >"$work/guest/host.c"
if gcc -o "$work/guest/host" "$work/guest/host.c" -lchaoscontrol-sdk >"$work/gcc.log" 2>&1; then
  not_ok "a host gcc link does not find the musl SDK (-lchaoscontrol-sdk)"
else
  ok "a host gcc link does not find the musl SDK (-lchaoscontrol-sdk)"
fi

"$cc" pack --output "$work/guest.initrd" --cmd /usr/bin/install-guest \
  --file "$work/guest/guest:/usr/bin/install-guest" >"$work/pack.log" 2>&1
check "the installed chaoscontrol pack makes the image" [ -s "$work/guest.initrd" ]

# The guest runs where KVM is real: the installed kvm-host (its kvm-probe
# beside it) and, in there, the installed CLI with its default kernel.
"$root/$bindir/chaoscontrol-kvm-host" --timeout 600 --rw "$work" -- \
  "$cc" run --initrd "$work/guest.initrd" --seed 5 --json "$work/run.json" \
  --serial-out "$work/serial" --max-exits 5000000 >"$work/run.out" 2>&1
rc=$?
diag_file "$work/run.out"
check "the installed CLI runs the guest: exit 1, the deliberate failure (got $rc)" [ "$rc" = 1 ]
if grep -Eq '^failure: ALWAYS "the deliberate failure of the install test" at .*guest\.c:[0-9]+' \
     "$work/run.out" &&
   grep -Eq '^  ALWAYS +passed +1  the answer is 42' "$work/run.out" &&
   grep -Eq '^  SOMETIMES +passed +1  a choice in range' "$work/run.out"; then
  ok "its assertions: two passed, the deliberate one failed at guest.c:LINE"
else
  not_ok "its assertions: two passed, the deliberate one failed at guest.c:LINE"
fi
if python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
k = d["run"]["kernel"]
assert os.path.realpath(k) == os.path.realpath(sys.argv[2]), "kernel %s, want %s" % (k, sys.argv[2])
assert any(e["kind"] == "setup_complete" for e in d["events"]), "no setup_complete event"
' "$work/run.json" "$root/$libdir/chaoscontrol/kernel/bzImage" 2>"$work/py.err"; then
  ok "without --kernel the installed CLI booted the installed kernel"
else
  not_ok "without --kernel the installed CLI booted the installed kernel"
  diag_file "$work/py.err"
fi
check "the guest's own output is on its console" grep -q 'install-guest: choice [0-3]' "$work/serial"

tap_done
