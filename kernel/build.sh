#!/usr/bin/env bash
# kernel/build.sh: build the ChaosControl guest kernel (bzImage and vmlinux)
# from Debian's linux-source-6.1, tinyconfig plus kernel/config-fragment plus
# the patches in kernel/patches/, into a content-addressed cache shared by all
# checkouts.
#
#   kernel/build.sh --out build/kernel     build (or reuse) and link
#                                          build/kernel/{bzImage,vmlinux,config}
#   kernel/build.sh --print-key            print the cache key and exit
#   kernel/build.sh --config-only          stop after configuring and checking
#                                          the fragment (writes DIR/config
#                                          when --out DIR is given)
#   kernel/build.sh --force                rebuild even if cached
#   kernel/build.sh --cache-dir DIR        cache root (default below)
#
# Cache entry: ${CC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chaoscontrol}
#              /kernel/<key>/{bzImage,vmlinux,System.map,config,build.log,key.txt}
# key = sha256 of: builder version, source package version, fragment content,
# and each patch's name and content in order (see key.txt in an entry).
#
# Builds happen under an flock on the cache, in a temporary directory inside
# it, and are published by an atomic rename, so a killed build never leaves a
# half entry; its temporary directory is removed by the next run.
#
# Environment overrides (mainly for tests):
#   CC_KERNEL_SOURCE          source tarball (default /usr/src/linux-source-6.1.tar.xz)
#   CC_KERNEL_SOURCE_VERSION  source version used in the key (default: the
#                             Debian package version, or the tarball's sha256
#                             for a tarball that is not the package's)
#   CC_KERNEL_FRAGMENT        config fragment (default kernel/config-fragment)
#   CC_KERNEL_PATCHES         patch directory (default kernel/patches)
#   CC_CACHE_DIR              cache root (same as --cache-dir)
set -euo pipefail

# Bump when a change to this script changes what it produces.
BUILDER_VERSION=1

SRC_PACKAGE=linux-source-6.1
DEFAULT_SOURCE=/usr/src/linux-source-6.1.tar.xz
TAIL_LINES=40

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
start_time=$(date +%s)

say() { printf 'kernel: %s\n' "$*"; }
warn() { printf 'kernel: warning: %s\n' "$*" >&2; }
die() {
  printf 'kernel: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# ---------------------------------------------------------------- options

out_dir=
print_key=0
force=0
config_only=0
cache_opt=

while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out_dir=$2; shift 2 ;;
    --out=*) out_dir=${1#--out=}; shift ;;
    --cache-dir) [ $# -ge 2 ] || die "--cache-dir needs a directory"; cache_opt=$2; shift 2 ;;
    --cache-dir=*) cache_opt=${1#--cache-dir=}; shift ;;
    --print-key) print_key=1; shift ;;
    --force) force=1; shift ;;
    --config-only) config_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see kernel/build.sh --help)" ;;
  esac
done

source_tar=${CC_KERNEL_SOURCE:-$DEFAULT_SOURCE}
fragment=${CC_KERNEL_FRAGMENT:-$here/config-fragment}
patch_dir=${CC_KERNEL_PATCHES:-$here/patches}
cache_base=${cache_opt:-${CC_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set; use --cache-dir}/.cache}/chaoscontrol}}
cache_base=$(abspath "$cache_base")
cache_root=$cache_base/kernel
[ -z "$out_dir" ] || out_dir=$(abspath "$out_dir")

# Keep a calling make's job server and a user's kbuild settings out of ours.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS \
  KBUILD_OUTPUT KCONFIG_CONFIG KCONFIG_ALLCONFIG O ARCH CROSS_COMPILE LLVM

# ---------------------------------------------------------------- fragment

# Parse the fragment: one "LINE<TAB>SYMBOL<TAB>VALUE" per option ("n" for
# "# CONFIG_X is not set"). Malformed lines and duplicates are errors naming
# file:line.
[ -f "$fragment" ] || die "config fragment $fragment does not exist" \
  "(set by CC_KERNEL_FRAGMENT, default kernel/config-fragment)"
frag_parsed=$(awk -v file="$fragment" '
  { sub(/\r$/, ""); sub(/[ \t]+$/, "") }
  /^$/ { next }
  /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { sym = $2; val = "n"; add(); next }
  /^#/ { next }
  /^CONFIG_[A-Za-z0-9_]+=/ {
    eq = index($0, "=")
    sym = substr($0, 1, eq - 1)
    val = substr($0, eq + 1)
    if (val ~ /^(y|m|n|-?[0-9]+|0[xX][0-9a-fA-F]+)$/ ||
        val ~ /^"([^"\\]|\\.)*"$/) { add(); next }
    printf "%s:%d: bad value for %s: %s (expected y, n, m, a number or a quoted string)\n", file, NR, sym, val > "/dev/stderr"
    bad = 1; next
  }
  {
    printf "%s:%d: malformed line (expected CONFIG_X=value, \"# CONFIG_X is not set\", a comment or a blank line): %s\n", file, NR, $0 > "/dev/stderr"
    bad = 1
  }
  function add() {
    if (sym in seen) {
      printf "%s:%d: %s is already set at line %d\n", file, NR, sym, seen[sym] > "/dev/stderr"
      bad = 1; return
    }
    seen[sym] = NR
    printf "%d\t%s\t%s\n", NR, sym, val
  }
  END { exit bad }
' "$fragment") || die "config fragment $fragment is malformed (see the lines above)"
[ -n "$frag_parsed" ] || die "config fragment $fragment sets no options"

# ---------------------------------------------------------------- source

if [ ! -f "$source_tar" ]; then
  if [ -n "${CC_KERNEL_SOURCE:-}" ]; then
    die "kernel source tarball $source_tar (set by CC_KERNEL_SOURCE) does not exist" \
      "fix: point CC_KERNEL_SOURCE at a Linux source tarball, or unset it to use" \
      "$DEFAULT_SOURCE from the Debian package $SRC_PACKAGE (install it with scripts/deps.sh)"
  fi
  die "kernel source tarball $source_tar is missing: $SRC_PACKAGE is not installed" \
    "fix: run scripts/deps.sh (or: apt-get install $SRC_PACKAGE)"
fi

if [ -n "${CC_KERNEL_SOURCE_VERSION:-}" ]; then
  source_version=$CC_KERNEL_SOURCE_VERSION
elif [ "$source_tar" = "$DEFAULT_SOURCE" ] &&
     source_version=$(dpkg-query -W -f '${Version}' "$SRC_PACKAGE" 2>/dev/null) &&
     [ -n "$source_version" ]; then
  :
else
  # Not the package's tarball (or no dpkg record): identify it by content.
  source_version=sha256:$(sha256sum <"$source_tar" | cut -d' ' -f1)
fi

# ---------------------------------------------------------------- patches

[ -d "$patch_dir" ] || die "patch directory $patch_dir does not exist" \
  "(set by CC_KERNEL_PATCHES, default kernel/patches)"
patches=()
while IFS= read -r -d '' f; do
  case ${f##*/} in
    *.patch) patches+=("$f") ;;
    README*|.gitkeep) ;;
    *) warn "ignoring $f: patches must be named NNNN-short-name.patch" ;;
  esac
done < <(find "$patch_dir" -mindepth 1 -maxdepth 1 -type f -print0 | LC_ALL=C sort -z)

# ---------------------------------------------------------------- key

manifest() {
  printf 'chaoscontrol-kernel-builder %s\n' "$BUILDER_VERSION"
  printf 'source %s %s\n' "$SRC_PACKAGE" "$source_version"
  printf 'fragment %s\n' "$(sha256sum <"$fragment" | cut -d' ' -f1)"
  local p
  for p in "${patches[@]}"; do
    printf 'patch %s %s\n' "${p##*/}" "$(sha256sum <"$p" | cut -d' ' -f1)"
  done
}
manifest_text=$(manifest)
key=$(printf '%s\n' "$manifest_text" | sha256sum | cut -d' ' -f1)

if [ "$print_key" = 1 ]; then
  printf '%s\n' "$key"
  exit 0
fi

entry=$cache_root/$key

link_out() {
  [ -n "$out_dir" ] || return 0
  mkdir -p "$out_dir"
  local f
  for f in bzImage vmlinux config; do
    ln -sfn "$entry/$f" "$out_dir/$f"
  done
  say "linked $out_dir/{bzImage,vmlinux,config} -> $entry"
}

cached() { [ -f "$entry/bzImage" ] && [ -f "$entry/vmlinux" ]; }

if [ "$config_only" = 0 ] && [ "$force" = 0 ] && cached; then
  say "using cached build $entry"
  link_out
  exit 0
fi

# ---------------------------------------------------------------- tools

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (Debian package $2)"); }
need make make
need gcc gcc
need ld binutils
need flex flex
need bison bison
need bc bc
need tar tar
need xz xz-utils
need patch patch
need gzip gzip
need flock util-linux
need setsid util-linux
if command -v gcc >/dev/null 2>&1 &&
   ! printf '#include <gelf.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
  missing+=("libelf headers (Debian package libelf-dev)")
fi
if [ ${#missing[@]} -gt 0 ]; then
  die "missing build tools needed for the kernel:" "${missing[@]}" \
    "fix: run scripts/deps.sh (or apt-get install the packages named above)"
fi

# ---------------------------------------------------------------- lock

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  say "waiting for the cache lock $cache_root/.lock (another build is running)"
  flock 9
fi

if [ "$config_only" = 0 ] && [ "$force" = 0 ] && cached; then
  say "using cached build $entry (built by another run while we waited)"
  link_out
  exit 0
fi

# Holding the lock, any temporary directory is a leftover of a killed run.
for d in "$cache_root"/tmp.* "$cache_root"/old.*; do
  [ -e "$d" ] || continue
  say "removing leftover of an interrupted build: $d"
  rm -rf "$d"
done

tmp=$(mktemp -d "$cache_root/tmp.XXXXXX")
src=$tmp/src
log=$tmp/build.log
failed_log=$cache_root/failed-$key.log
bg_pid=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$bg_pid" ]; then
    kill -TERM -- "-$bg_pid" 2>/dev/null || kill -TERM "$bg_pid" 2>/dev/null || true
    wait "$bg_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Keep the log of a failed step outside the temporary directory, show its
# end, and stop.
fail_with_log() {
  cp "$log" "$failed_log" 2>/dev/null || failed_log=$log
  {
    printf 'kernel: error: %s\n' "$1"
    printf 'kernel: last %d lines of %s:\n' "$TAIL_LINES" "$failed_log"
    tail -n "$TAIL_LINES" "$failed_log" | sed 's/^/  | /'
    printf 'kernel: full log: %s\n' "$failed_log"
  } >&2
  exit 1
}

# Run a command in its own process group, output appended to the log, so
# that an interrupt can stop all of it. $progress, if set, is called every
# second while it runs.
progress=
run_logged() {
  setsid --wait "$@" >>"$log" 2>&1 </dev/null &
  bg_pid=$!
  local rc=0
  if [ -n "$progress" ]; then
    while kill -0 "$bg_pid" 2>/dev/null; do
      "$progress"
      sleep 1 &
      wait $! || true
    done
  fi
  wait "$bg_pid" || rc=$?
  bg_pid=
  return "$rc"
}

kmake=(make -C "$src" ARCH=x86_64)

{
  printf 'ChaosControl kernel build, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  printf '%s\n' "$manifest_text"
} >"$log"

say "building $SRC_PACKAGE $source_version, key $key"
say "work directory $tmp"

# ---------------------------------------------------------------- extract

say "extracting source $source_tar"
mkdir -p "$src"
run_logged tar -xJf "$source_tar" -C "$src" --strip-components=1 ||
  fail_with_log "could not extract $source_tar"
if [ ! -f "$src/Makefile" ] || [ ! -f "$src/scripts/kconfig/merge_config.sh" ]; then
  fail_with_log "$source_tar does not look like a Linux source tarball"
fi

# ---------------------------------------------------------------- patch

if [ ${#patches[@]} -gt 0 ]; then
  say "applying ${#patches[@]} patch(es) from $patch_dir"
  for p in "${patches[@]}"; do
    printf '=== patch %s\n' "${p##*/}" >>"$log"
    if ! run_logged patch -p1 -d "$src" --batch --forward --no-backup-if-mismatch -i "$p"; then
      fail_with_log "patch ${p##*/} does not apply to $SRC_PACKAGE $source_version ($p)"
    fi
  done
else
  say "no patches in $patch_dir"
fi

# ---------------------------------------------------------------- configure

say "configuring (tinyconfig + ${fragment})"
# The fragment as parsed (normalised whitespace), so that what we merge is
# exactly what we verify.
norm_frag=$tmp/fragment.config
while IFS=$'\t' read -r _ sym val; do
  if [ "$val" = n ]; then
    printf '# %s is not set\n' "$sym"
  else
    printf '%s=%s\n' "$sym" "$val"
  fi
done <<<"$frag_parsed" >"$norm_frag"

printf '=== configure\n' >>"$log"
run_logged "${kmake[@]}" tinyconfig || fail_with_log "make tinyconfig failed"
# merge_config.sh puts its temporary files in the current directory.
run_logged env -C "$src" scripts/kconfig/merge_config.sh -m .config "$norm_frag" ||
  fail_with_log "merging the config fragment failed"
run_logged "${kmake[@]}" olddefconfig || fail_with_log "make olddefconfig failed"

say "checking that every option of the fragment took effect"
declare -A have=()
while IFS= read -r line; do
  case $line in
    CONFIG_*=*) have[${line%%=*}]=${line#*=} ;;
  esac
done <"$src/.config"

# Every symbol any Kconfig file defines, to tell misspellings from unmet
# dependencies.
declare -A known=()
while read -r _ sym; do
  known[CONFIG_$sym]=1
done < <(find "$src" -name 'Kconfig*' -type f -print0 |
  xargs -0 grep -hoE '^[[:space:]]*(menu)?config[[:space:]]+[A-Za-z0-9_]+')

# Where SYM is defined and what it depends on, for the error message.
explain_deps() {
  local sym=${1#CONFIG_} loc file lineno
  loc=$(cd "$src" && grep -rnE --include='Kconfig*' \
    "^[[:space:]]*(menu)?config[[:space:]]+${sym}[[:space:]]*\$" . | head -n1) || true
  [ -n "$loc" ] || return 0
  file=${loc%%:*}; loc=${loc#*:}; lineno=${loc%%:*}
  printf 'defined at %s:%s' "${file#./}" "$lineno"
  awk -v start="$lineno" '
    NR <= start { next }
    /^[[:space:]]*(menu)?config[[:space:]]|^(menu|endmenu|if|endif|choice|endchoice|source|comment)([[:space:]]|$)/ { exit }
    /^[[:space:]]*depends on/ { sub(/^[[:space:]]*/, ""); d = d (d ? "; " : "") $0 }
    END { if (d) printf "; %s", d }
  ' "$src/$file"
}
# Which enabled options select SYM, for the error message.
explain_selects() {
  local sym=${1#CONFIG_} by=() x
  # shellcheck disable=SC2016 # awk program, not shell
  while read -r x; do
    [ "${have[CONFIG_$x]-}" != y ] || by+=("CONFIG_$x")
  done < <(find "$src" -name 'Kconfig*' -type f -print0 |
    xargs -0 awk -v sym="$sym" '
      /^[[:space:]]*(menu)?config[[:space:]]/ { cur = $2 }
      $1 == "select" && $2 == sym && cur != "" { print cur }
    ' | sort -u)
  if [ ${#by[@]} -gt 0 ]; then
    printf 'selected by %s' "${by[*]}"
  else
    printf 'forced on by a dependency'
  fi
}

bad=()
while IFS=$'\t' read -r lineno sym val; do
  where="$fragment:$lineno"
  got=${have[$sym]-}
  if [ -z "${known[$sym]-}" ]; then
    bad+=("$where: $sym: no such option in $SRC_PACKAGE (misspelled?)")
  elif [ "$val" = n ]; then
    if [ -n "$got" ] && [ "$got" != n ]; then
      bad+=("$where: $sym should be not set, but is $got ($(explain_selects "$sym"))")
    fi
  elif [ "$got" != "$val" ]; then
    bad+=("$where: $sym=$val came out as ${got:-not set} (unmet dependency? $(explain_deps "$sym"))")
  fi
done <<<"$frag_parsed"

if [ ${#bad[@]} -gt 0 ]; then
  cp "$src/.config" "$cache_root/failed-$key.config" 2>/dev/null || true
  die "${#bad[@]} option(s) of $fragment did not take effect:" "${bad[@]}" \
    "the resulting configuration is in $cache_root/failed-$key.config;" \
    "fix the fragment: correct the name, or also set what the option depends on"
fi
rm -f "$cache_root/failed-$key.config"
say "configuration OK ($(grep -c '=y$' "$src/.config") options =y)"

if [ "$config_only" = 1 ]; then
  if [ -n "$out_dir" ]; then
    mkdir -p "$out_dir"
    rm -f "$out_dir/config"
    cp "$src/.config" "$out_dir/config"
    say "wrote $out_dir/config"
  fi
  exit 0
fi

# ---------------------------------------------------------------- compile

jobs=$(nproc 2>/dev/null || echo 2)
# Object count of the previous build, for a rough percentage.
estimate=$(cat "$cache_root/.objects" 2>/dev/null || true)
case $estimate in ''|*[!0-9]*) estimate=0 ;; esac
compile_start=$(date +%s)
last_report=$compile_start
count_objects() { grep -cE '^  (CC|AS)  ' "$log" || true; }
progress_line() {
  local n elapsed pct=
  n=$(count_objects)
  elapsed=$(( $(date +%s) - compile_start ))
  if [ "$estimate" -gt 0 ]; then
    pct=$(( n * 100 / estimate ))
    [ "$pct" -le 99 ] || pct=99
    pct=" (~$pct%)"
  fi
  printf 'kernel: compiling: %d objects%s, %d s' "$n" "$pct" "$elapsed"
}
if [ -t 1 ]; then
  show_progress() { printf '\r\033[K%s' "$(progress_line)"; }
else
  show_progress() {
    local now
    now=$(date +%s)
    if [ $(( now - last_report )) -ge 30 ]; then
      last_report=$now
      printf '%s\n' "$(progress_line)"
    fi
  }
fi

say "compiling with make -j$jobs bzImage vmlinux (log: $log)"
printf '=== compile\n' >>"$log"
# A fixed build identity, so the banner does not depend on who built when.
export KBUILD_BUILD_TIMESTAMP='1970-01-01 00:00:00 UTC'
export KBUILD_BUILD_USER=chaoscontrol KBUILD_BUILD_HOST=chaoscontrol KBUILD_BUILD_VERSION=1
progress=show_progress
compile_rc=0
run_logged "${kmake[@]}" -j"$jobs" bzImage vmlinux || compile_rc=$?
progress=
[ ! -t 1 ] || printf '\r\033[K'
if [ "$compile_rc" -ne 0 ]; then
  fail_with_log "compiling the kernel failed (make exit status $compile_rc)"
fi
if [ ! -f "$src/arch/x86/boot/bzImage" ] || [ ! -f "$src/vmlinux" ]; then
  fail_with_log "make succeeded but bzImage or vmlinux is missing"
fi
objects=$(count_objects)
say "compiled $objects objects in $(( $(date +%s) - compile_start )) s"

# ---------------------------------------------------------------- publish

stage=$tmp/entry
mkdir "$stage"
cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$src/System.map" "$stage/"
cp "$src/.config" "$stage/config"
printf '%s\n' "$manifest_text" >"$stage/key.txt"
cp "$log" "$stage/build.log"

if [ -e "$entry" ]; then
  # --force over an existing entry: move it aside first (removed below, or
  # by the next run if we are killed in between).
  old=$(mktemp -d "$cache_root/old.XXXXXX")
  mv -T "$entry" "$old/entry"
fi
mv -T "$stage" "$entry"
[ -z "${old:-}" ] || rm -rf "$old"
rm -f "$failed_log"
printf '%s\n' "$objects" >"$cache_root/.objects"

size=$(stat -c %s "$entry/bzImage")
say "built $entry in $(( $(date +%s) - start_time )) s (bzImage $(( size / 1024 )) KiB)"
link_out
