#!/usr/bin/env bash
# chaoscontrol test without KVM (issue 20, docs/tests.md): the examples
# validate against docs/test-file.schema.json and the schema's fields are
# the parser's; --dry-run prints each example's commands; every kind of
# mistake in a test file is an error naming the file, the line and the
# field, and a JUnit report of errors validates against the JUnit schema;
# usage errors exit 2; an output directory that is not an earlier test's
# is left alone. The runs themselves: tests/linux/ctest.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
src=$(cd "$here/../.." && pwd)
build=$(cd "${CC_BUILD_DIR:-$src/build}" && pwd)
cc=$build/chaoscontrol
work=$(mktemp -d "${TMPDIR:-/tmp}/ctest-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
tap_plan 40

# ---- the schema ------------------------------------------------------------
check "every example validates against the JSON schema (after \${VAR:-default})" \
  python3 - "$src/docs/test-file.schema.json" "$src"/examples/*.yaml <<'EOF'
import json, re, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
def env(m):
    return __import__("os").environ.get(m.group(1)) or (m.group(3) or "")
for f in sys.argv[2:]:
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", env, open(f).read())
    errs = list(v.iter_errors(yaml.safe_load(text)))
    for e in errs:
        print("#", f, list(e.path), e.message)
    if errs:
        sys.exit(1)
EOF
known() {   # the parser's fields of a mapping, from its unknown-field message
  printf '%s\n' "$1" >"$work/k.yaml"
  "$cc" test --dry-run "$work/k.yaml" 2>/dev/null | sed -n 's/.*(known here: \(.*\))$/\1/p' |
    tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' '
}
schema_keys() {
  python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    s = s["properties"][k]
print(" ".join(sorted(s["properties"])) + " ")' "$src/docs/test-file.schema.json" "$@"
}
for part in "" image network setup cpu; do
  if [ -z "$part" ]; then y='zzzzzzzzzz: 1'; else y="$part:
  zzzzzzzzzz: 1"; fi
  a=$(known "$y") b=$(schema_keys $part)
  check "the schema's ${part:-top-level} fields are the parser's ($a)" \
    test -n "$a" -a "$a" = "$b"
done

# ---- --dry-run -----------------------------------------------------------
(cd "$src" && "$cc" test --dry-run examples/*.yaml) >"$work/dry.txt" 2>&1
rc=$?
sed 's/^/#   /' "$work/dry.txt"
check "--dry-run of every example: exit 0" test $rc = 0
check "raft-double-vote: input-tree on 3 VMs, stops at its first bug, a time limit" \
  grep -Eq "explore run .*--initrd [^ ]*/guests/raft.initrd --vms 3 --rounds 3 --branches 4 .*--mode input-tree .*--time-limit 1200s --stop-after 1" \
  "$work/dry.txt"
check "etcd-stale-read: packs etcd and etcdctl, then 4 VMs with a client, the checker" \
  bash -c 'grep -Eq "pack --output [^ ]*/etcd-stale-read/image.initrd --cmd /etc/etcd-example/start.sh --add etcd --add etcdctl --file examples/etcd/start.sh:/etc/etcd-example/start.sh" "$1" &&
           grep -Eq "explore run .*--vms 4 .*--clients 3 --faults partition,heal,kill,pause --branch-time 2s .*--check linearizable --stop-after 1" "$1"' _ "$work/dry.txt"
printf '%s\n' "$(printf 'name: c\nvms: 1\ninitrd: /dev/null\nrounds: 1\nbranches: 1')" 'cpu:' \
  '  vendor: AuthenticAMD' '  family: 25' '  model: 33' '  brand: Test CPU' '  tsc_khz: 2500000' \
  '  avx2: true' >"$work/cpu.yaml"
"$cc" test --dry-run "$work/cpu.yaml" >"$work/cpu.txt" 2>&1
check "cpu: becomes the processor options (the rest at their defaults)" \
  grep -q -- "--cpu-vendor AuthenticAMD --cpu-family 25 --cpu-model 33 --cpu-stepping 7 --cpu-brand 'Test CPU' --tsc-khz 2500000 --avx2 --no-avx512" "$work/cpu.txt"
(cd "$src" && RAFT_ROUNDS=7 CC_BUILD_DIR=/x "$cc" test --dry-run examples/raft-control.yaml) \
  >"$work/env.txt" 2>&1
check "\${VAR:-default} takes the environment's value (RAFT_ROUNDS=7, CC_BUILD_DIR=/x)" \
  grep -q -- "--initrd /x/guests/raft.initrd --vms 3 --rounds 7 " "$work/env.txt"

# ---- mistakes: file, line, field -------------------------------------------
base='name: t
vms: 3
initrd: /dev/null
rounds: 1
branches: 1'
bad() {   # bad DESCRIPTION EXPECTED-MESSAGE CONTENT
  printf '%s\n' "$3" >"$work/bad.yaml"
  "$cc" test --dry-run "$work/bad.yaml" >"$work/bad.out" 2>&1
  local rc=$?
  if [ $rc = 1 ] && grep -Fq "ERROR $work/bad.yaml:$2" "$work/bad.out"; then
    ok "$1: $(sed -n 's/^ERROR //p' "$work/bad.out" | head -n 1 | sed "s|$work/||")"
  else
    not_ok "$1" "exit $rc, expected 'ERROR bad.yaml:$2'" "$(cat "$work/bad.out")"
  fi
}
bad "not a number" "4: rounds: 'ten' is not a number" "${base/rounds: 1/rounds: ten}"
bad "out of range" "2: vms: 65 is out of range (1-64)" "${base/vms: 3/vms: 65}"
bad "a typo" "5: unknown field 'brnches' (did you mean 'branches'?)" "${base/branches/brnches}"
bad "a field given twice" "6: field 'vms' is given twice" "$base
vms: 4"
bad "a list where a value goes" "4: rounds: expected a number, got a list" "${base/rounds: 1/rounds: [1, 2]}"
bad "an unknown mode" "6: mode: 'fuzz' is not one of fault, input-tree, hybrid" "$base
mode: fuzz"
bad "an unknown fault kind" "6: faults: 'partiton' is not a fault kind" "$base
faults: [partition, partiton]"
bad "a bad time" "6: branch_time: '1 sec' is not a positive time" "$base
branch_time: 1 sec"
bad "a bad size" "6: memory: 'lots' is not a size" "$base
memory: lots"
bad "a bad expectation" "6: expect: 'pass' is not no-bug" "$base
expect: pass"
bad "a required field missing" "1: branches: required field missing" "${base/branches: 1/}"
bad "neither initrd nor image" "1: initrd: give either 'initrd' (a file) or 'image'" \
  "${base/initrd: \/dev\/null/}"
bad "an image without cmd" "7: image: an image needs 'cmd'" "${base/initrd: \/dev\/null/}
image:
  add: [etcd]"
bad "an unknown field in a mapping" "7: unknown field 'network.latncy' (did you mean 'latency'?)" "$base
network:
  latncy: 1ms"
bad "an unset variable" "3: initrd: \${NOPE_NOT_SET} is not set in the environment" \
  "$(printf 'name: t\nvms: 3\ninitrd: ${NOPE_NOT_SET}/x\nrounds: 1\nbranches: 1')"
bad "a \${ without its }" "3: initrd: '\${' without its '}'" \
  "$(printf 'name: t\nvms: 3\ninitrd: ${NOPE/x\nrounds: 1\nbranches: 1')"
bad "a client that is not a VM" "1: clients: VM 5 is not one of the 3 VMs" "$base
clients: [5]"
bad "expect_property without expect: bug" "1: expect_property: needs 'expect: bug'" "$base
expect_property: x"
bad "a bad name" "1: name: '../x' is not a test name" "${base/name: t/name: ../x}"
bad "a processor the CPU model check refuses" "7: cpu: CPU model 200 is not in 0-15" "$base
cpu:
  vendor: AuthenticAMD
  family: 5
  model: 200"
bad "a vendor string of the wrong length" "7: cpu: CPU vendor 'Intel' must be exactly 12" "$base
cpu:
  vendor: Intel"
bad "YAML that does not parse" "3: not valid YAML" "name: t
vms: [3
rounds: 1"
bad "two documents" "7: a second YAML document" "$base
---
name: u"
: >"$work/empty.yaml"
"$cc" test --dry-run "$work/empty.yaml" >"$work/empty.out" 2>&1
check "an empty file: 'the file is empty'" grep -q "empty.yaml:1: the file is empty" "$work/empty.out"

# ---- JUnit of errors, usage -----------------------------------------------
printf '%s\n' "$base" >"$work/good.yaml"
printf '%s\n' "${base/rounds: 1/rounds: x}" >"$work/bad1.yaml"
"$cc" test --dry-run --junit "$work/j.xml" "$work/good.yaml" "$work/bad1.yaml" /nonexistent.yaml \
  >/dev/null 2>&1
rc=$?
check "--junit with 2 bad files of 3: exit 1, valid JUnit (xmllint --schema), 2 errors" \
  bash -c '[ "$1" = 1 ] && xmllint --noout --schema "$2" "$3" 2>/dev/null &&
           python3 -c "import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
e = [c.find(\"error\").get(\"message\") for c in r.iter(\"testcase\") if c.find(\"error\") is not None]
sys.exit(not (r.get(\"tests\") == \"3\" and r.get(\"errors\") == \"2\" and
              any(\"bad1.yaml:4: rounds\" in m for m in e) and any(\"No such file\" in m for m in e)))" "$3"' \
  _ $rc "$src/tests/fixtures/junit/junit.xsd" "$work/j.xml"
"$cc" test >/dev/null 2>&1
check "no files: exit 2" test $? = 2
"$cc" test --bogus "$work/good.yaml" >/dev/null 2>&1
check "an unknown option: exit 2" test $? = 2
printf '%s\n' "${base/name: t/name: dup}" >"$work/dup1.yaml"
cp "$work/dup1.yaml" "$work/dup2.yaml"
"$cc" test --dry-run "$work/dup1.yaml" "$work/dup2.yaml" >"$work/dup.out" 2>&1
check "two tests with one name: the second is an error naming the first" \
  grep -q "dup2.yaml:1: name: 'dup' is also the name of $work/dup1.yaml" "$work/dup.out"
mkdir -p "$work/out/t" && echo keep >"$work/out/t/mine"
"$cc" test --output "$work/out" --kernel /dev/null "$work/good.yaml" >"$work/own.out" 2>&1
rc=$?
check "OUTPUT/NAME that is not an earlier test's output is left alone (exit 1, named)" \
  bash -c '[ "$1" = 1 ] && grep -q "is not an earlier test'"'"'s output" "$2" && [ -f "$3" ]' \
  _ $rc "$work/own.out" "$work/out/t/mine"
tap_done
