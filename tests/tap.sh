# TAP helpers for shell tests: source this file.
#
#   . "$(dirname "$0")/../tap.sh"
#   tap_plan 3
#   check "the thing works" [ "$x" = 1 ]     # runs the command
#   ok "described" ; not_ok "described" "detail line" ...
#   tap_done                                 # exit status: 0 iff all passed
tap_n=0
tap_failed=0

tap_plan() { echo "1..$1"; }

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }

not_ok() {
  tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1))
  echo "not ok $tap_n - $1"
  shift
  for line in "$@"; do printf '#   %s\n' "$line"; done
}

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# diag FILE: show a file as TAP comments.
diag_file() { sed 's/^/#   | /' "$1"; }

tap_done() { [ "$tap_failed" = 0 ]; }
