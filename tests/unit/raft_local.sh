#!/bin/sh
# The Raft guest in local mode (TAP). Usage: raft_local.sh RAFT_BINARY
#
# Runs three native processes of the guest binary itself (build/guests/raft,
# static musl) on 127.0.0.1 ports with the SDK in local mode, each writing
# its JSON lines to its own file, and checks:
#   - a cluster without disks elects a leader and commits values, every
#     assertion is in the catalog and no ALWAYS assertion ever fails;
#   - with a file as each node's disk, a second run restarts from the
#     persisted state (its SOMETIMES holds, terms never go back, nothing
#     committed is lost, no ALWAYS failure);
#   - bad configuration is refused with a message.
set -u

BIN=${1:?usage: raft_local.sh RAFT_BINARY}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
[ -x "$BIN" ] || { echo "Bail out! $BIN is not an executable"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/cc-test-raft-local-XXXXXX") || { echo "Bail out! mktemp"; exit 1; }
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

n=0
failed=0
ok() {   # ok STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}
diag() { sed 's/^/# /'; }

# run_cluster NAME RUN_MS [DISKS]: three nodes, outputs in $T/NAME.{0,1,2}.{out,jsonl}.
# Retries with other ports if one is taken. Returns nonzero if a node failed.
run_cluster() {
    name=$1 run_ms=$2 disks=${3:-}
    for attempt in 1 2 3; do
        base=$((20000 + ($$ * 7 + attempt * 1009 + n * 31) % 30000))
        PIDS=""
        for i in 0 1 2; do
            rm -f "$T/$name.$i.jsonl"
            disk=""
            [ -n "$disks" ] && disk="$T/disk$i"
            env RAFT_LOCAL=1 RAFT_ID=$i RAFT_BUG=none RAFT_RUN_MS="$run_ms" \
                RAFT_PORT_BASE=$base RAFT_DISK="$disk" \
                CHAOSCONTROL_SDK_TRIGGER=local CHAOSCONTROL_SDK_KCOV=0 \
                CHAOSCONTROL_SDK_OUTPUT="$T/$name.$i.jsonl" \
                "$BIN" >"$T/$name.$i.out" 2>&1 &
            PIDS="$PIDS $!"
        done
        rc=0
        for p in $PIDS; do wait "$p" || rc=1; done
        PIDS=""
        if grep -q "bind port" "$T/$name".*.out; then
            continue
        fi
        return $rc
    done
    return 1
}

# count of JSON lines in all three files of run NAME matching every pattern
count() {
    name=$1
    shift
    cat "$T/$name".0.jsonl "$T/$name".1.jsonl "$T/$name".2.jsonl 2>/dev/null |
        { f=cat; for p in "$@"; do f="$f | grep -F -e '$p'"; done; eval "$f"; } | wc -l
}

# done-line field of node I in run NAME: "done: term T ROLE log L commit C ..."
field() {
    sed -n "s/.*done:.* $3 \([0-9]*\).*/\1/p" "$T/$1.$2.out"
}

ALWAYS='"assert_type":"always"'
HIT='"hit":true'
FALSE='"condition":false'
TRUE='"condition":true'

# ---- 1. no disks ----
run_cluster plain 3000
ok $? "three local nodes run 3 s and exit 0"
cat "$T"/plain.*.out | diag
[ "$(count plain '"message":"leader elected"' "$HIT")" -ge 1 ]
ok $? "a leader is elected (REACHABLE \"leader elected\")"
[ "$(count plain '"message":"value committed"' "$HIT" "$TRUE")" -ge 1 ]
ok $? "values are committed (SOMETIMES \"value committed\")"
[ "$(count plain "$ALWAYS" "$HIT" "$FALSE")" -eq 0 ]
ok $? "no ALWAYS assertion fails"
missing=0
for m in "election safety: at most one leader per term" \
         "log matching: entries with equal index and term have equal histories" \
         "leader completeness: a leader holds every committed entry" \
         "state machine safety: nodes apply the same entry at each index" \
         "state machine safety: nodes agree on committed entries" \
         "state machine safety: a committed entry is never overwritten"; do
    if [ "$(count plain "$ALWAYS" "\"message\":\"$m\"" '"hit":false')" -ne 3 ]; then
        echo "not in every node's catalog: $m" | diag
        missing=1
    fi
done
ok $missing "every safety assertion is in each node's catalog before it is hit"
c0=$(field plain 0 commit) c1=$(field plain 1 commit) c2=$(field plain 2 commit)
[ "${c0:-0}" -gt 0 ] && [ "${c1:-0}" -gt 0 ] && [ "${c2:-0}" -gt 0 ]
ok $? "every node applied committed values (commit $c0 $c1 $c2)"

# ---- 2. disks: run, then restart from what is on them ----
for i in 0 1 2; do
    dd if=/dev/zero of="$T/disk$i" bs=1024 count=1024 2>/dev/null
done
run_cluster disk1 1500 disks
ok $? "with disk files: first run exits 0"
cat "$T"/disk1.*.out | diag
run_cluster disk2 1500 disks
ok $? "with disk files: second run exits 0"
cat "$T"/disk2.*.out | diag
[ "$(count disk2 '"message":"a node restarted with persisted state"' "$HIT" "$TRUE")" -eq 3 ]
ok $? "every node of the second run restarted with persisted state"
back=0
for i in 0 1 2; do
    t1=$(field disk1 $i term) t2=$(field disk2 $i term)
    [ -n "$t1" ] && [ -n "$t2" ] && [ "$t2" -ge "$t1" ] || back=1
done
ok $back "terms never go back across the restart"
max1=0 max2=0
for i in 0 1 2; do
    c=$(field disk1 $i commit); [ "${c:-0}" -gt $max1 ] && max1=$c
    c=$(field disk2 $i commit); [ "${c:-0}" -gt $max2 ] && max2=$c
done
[ $max1 -gt 0 ] && [ $max2 -ge $max1 ]
ok $? "nothing committed is lost across the restart (commit $max1, then $max2)"
[ "$(count disk1 "$ALWAYS" "$HIT" "$FALSE")" -eq 0 ] && [ "$(count disk2 "$ALWAYS" "$HIT" "$FALSE")" -eq 0 ]
ok $? "no ALWAYS assertion fails in either run"

# ---- 3. configuration errors ----
out=$(RAFT_LOCAL=1 RAFT_BUG=bogus RAFT_RUN_MS=100 CHAOSCONTROL_SDK_TRIGGER=local "$BIN" 2>&1)
rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "unknown raft_bug=bogus (want none, fig8_commit"
ok $? "an unknown raft_bug is refused with the list of names (exit $rc)"
out=$(RAFT_LOCAL=1 RAFT_ID=3 RAFT_RUN_MS=100 CHAOSCONTROL_SDK_TRIGGER=local "$BIN" 2>&1)
rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "bad raft_id=3"
ok $? "an out-of-range raft_id is refused (exit $rc)"

echo "1..$n"
[ $failed -eq 0 ]
