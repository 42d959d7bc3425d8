#!/bin/sh
# Tests for build/tools/mkinitrd (TAP). Usage: test_mkinitrd.sh MKINITRD
#
# Spec errors must exit nonzero, name the spec file and line, say what is
# wrong, and leave no output file; a good spec must round-trip through GNU
# cpio, and building it twice must give byte-identical archives.
set -u

MKINITRD=${1:?usage: test_mkinitrd.sh MKINITRD}
case $MKINITRD in /*) ;; *) MKINITRD=$PWD/$MKINITRD ;; esac
[ -x "$MKINITRD" ] || { echo "Bail out! $MKINITRD is not an executable"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/cc-test-mkinitrd-XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
trap 'rm -rf "$T"' EXIT

n=0
failed=0
ok() {   # ok STATUS DESCRIPTION: a TAP line; returns nonzero when it failed
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
        return 0
    fi
    echo "not ok $n - $2"
    failed=$((failed + 1))
    return 1
}
diag() { sed 's/^/# /'; }

# expect_error NAME LINE NEEDLE SPEC-TEXT [ARGS...]: mkinitrd must fail with
# "SPEC:LINE: ...NEEDLE..." on stderr and write no output.
expect_error() {
    name=$1 line=$2 needle=$3 text=$4
    shift 4
    spec=$T/$name.spec
    printf '%s\n' "$text" > "$spec"
    rm -f "$T/out.cpio"
    "$MKINITRD" "$@" "$spec" "$T/out.cpio" > "$T/stdout" 2> "$T/stderr"
    status=$?
    [ $status -ne 0 ]; ok $? "$name: exits nonzero ($status)"
    grep -qF -- "$spec:$line: " "$T/stderr" && grep -qF -- "$needle" "$T/stderr"
    ok $? "$name: message names $spec:$line and says '$needle'" || diag < "$T/stderr"
    [ ! -e "$T/out.cpio" ] && [ -z "$(ls "$T" | grep '\.tmp-')" ]
    ok $? "$name: no output or temporary file left"
}

expect_error missing-host 3 "host file '$T/nothere' not found: No such file or directory" \
'# comment
dir /dev 0755
file /init nothere 0755'
expect_error unknown-directive 2 "unknown directive 'fiel'" \
'
fiel /init x 0755'
expect_error bad-mode 1 "bad mode '0799'" 'dir /etc 0799'
expect_error bad-mode-text 1 "bad mode 'rwx'" 'dir /etc rwx'
expect_error undefined-var 2 "undefined variable '\${BUILD}'" \
'dir /dev 0755
file /init ${BUILD}/guests/hello 0755' -D OTHER=1
expect_error field-count 1 "takes 5 fields, got 4" 'nod /dev/console 0600 c 5'
expect_error bad-dev-type 1 "bad device type 'x'" 'nod /dev/console 0600 x 5 1'
expect_error dotdot 1 "'..' components are not allowed" 'dir /../etc 0755'
expect_error duplicate 2 "already in the archive" \
'dir /etc 0755
dir etc/ 0700'

# A good spec: every directive, comments, ${VAR}, a host path relative to
# the spec's directory and an absolute one, an auto-created parent.
mkdir -p "$T/good/files" "$T/abs"
printf 'hello\n' > "$T/good/files/hello.txt"
printf 'abc' > "$T/abs/three"
: > "$T/good/files/empty"
cat > "$T/good/initrd.spec" <<'EOF'
# every directive
dir   /dev           0755
nod   /dev/console   0600 c 5 1
nod   /dev/vda       0660 b 254 0   # trailing comment

file  /etc/hello.txt files/hello.txt 0644
file  /etc/empty     files/empty     0600
file  /${NAME}       ${ABS}/three    0755
slink /bin/sh        /three          0777
dir   /tmp           1777
EOF
out=$T/good.cpio
"$MKINITRD" -D NAME=three -D ABS="$T/abs" --depfile "$T/good.d" "$T/good/initrd.spec" "$out" \
    2> "$T/stderr"
ok $? "good spec builds"
diag < "$T/stderr"

LC_ALL=C TZ=UTC cpio -itv --quiet < "$out" | awk '{
    if ($1 ~ /^[cb]/) print $1, $5 $6, $NF; else if ($1 ~ /^l/) print $1, $(NF-2), $NF;
    else print $1, $5, $NF }' > "$T/listing"
cat > "$T/want" <<'EOF'
drwxr-xr-x 0 dev
crw------- 5,1 dev/console
brw-rw---- 254,0 dev/vda
drwxr-xr-x 0 etc
-rw-r--r-- 6 etc/hello.txt
-rw------- 0 etc/empty
-rwxr-xr-x 3 three
drwxr-xr-x 0 bin
lrwxrwxrwx bin/sh /three
drwxrwxrwt 0 tmp
EOF
cmp -s "$T/listing" "$T/want"
ok $? "listing has every entry with type, mode, size/device and target, in spec order" ||
    diff "$T/want" "$T/listing" | diag

mkdir "$T/x"
(cd "$T/x" && cpio -idm --quiet -f 'dev/*' < "$out")
ok $? "archive extracts (device nodes left out)"
cmp -s "$T/x/etc/hello.txt" "$T/good/files/hello.txt" && cmp -s "$T/x/three" "$T/abs/three" &&
    [ -f "$T/x/etc/empty" ] && [ ! -s "$T/x/etc/empty" ] && [ "$(readlink "$T/x/bin/sh")" = /three ]
ok $? "extracted files and symlink match their sources"

"$MKINITRD" -D NAME=three -D ABS="$T/abs" "$T/good/initrd.spec" "$T/again.cpio" &&
    cmp -s "$out" "$T/again.cpio"
ok $? "building the same spec twice gives byte-identical archives"

"$MKINITRD" --gzip -D NAME=three -D ABS="$T/abs" "$T/good/initrd.spec" "$T/good.cpio.gz" &&
    gzip -dc < "$T/good.cpio.gz" | cmp -s - "$out"
ok $? "--gzip output decompresses to the plain archive"

grep -qF "$T/good/files/hello.txt" "$T/good.d" && grep -qF "$T/abs/three" "$T/good.d" &&
    grep -qF "$T/good/initrd.spec" "$T/good.d" && head -n 1 "$T/good.d" | grep -qF "$out:"
ok $? "depfile lists the output, the spec and every host file"

"$MKINITRD" > /dev/null 2>&1
[ $? -eq 2 ]; ok $? "missing arguments are a usage error (exit 2)"

echo "1..$n"
[ $failed -eq 0 ]
