#!/usr/bin/env bash
# TAP test: run build/tools/kvm-probe on this machine's own /dev/kvm, show
# its output in the test log, and check that it is well formed and agrees
# with what is known about this machine:
#   - it exits 0, 1 or 2 (not a crash), with exactly one verdict line whose
#     kind matches the exit status;
#   - with exit 0 or 1, every check line says yes or no, the verdict is
#     "can" exactly when all say yes, and it names each check that said no;
#   - exit 2 (no usable KVM) only when /dev/kvm really cannot be opened;
#   - the verdict fits the machine, found out independently: no /dev/kvm
#     that opens -> exit 2; kvm_pvm (DESIGN.md section 2) -> "cannot";
#     inside the test host or on hardware KVM -> "can".
# meson runs it twice: on this machine, and inside the test host.
#
# usage: probe-verdict.sh KVM_PROBE
set -u

probe=${1:?usage: probe-verdict.sh KVM_PROBE}
out=$("$probe" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'

n=0 failed=0
check() {  # check DESCRIPTION CONDITION-STATUS [DETAIL]
  n=$((n + 1))
  if [ "$2" -eq 0 ]; then echo "ok $n - $1"
  else failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${3:-}" ] && echo "#   $3"; fi
}

echo "1..5"

case $rc in 0|1|2) s=0 ;; *) s=1 ;; esac
check "probe exits 0, 1 or 2" $s "exit status $rc"

verdicts=$(printf '%s\n' "$out" | grep -c '^probe: verdict: ')
verdict=$(printf '%s\n' "$out" | grep -m1 '^probe: verdict: ')
case $rc:$verdict in
  "0:probe: verdict: this "*" can run Linux guests") s=0 ;;
  "1:probe: verdict: this "*" cannot run Linux guests ("*")") s=0 ;;
  "2:probe: verdict: no usable KVM: "*) s=0 ;;
  *) s=1 ;;
esac
[ "$verdicts" -eq 1 ] || s=1
check "exactly one verdict line, matching exit status $rc" $s "$verdicts verdict lines: $verdict"

# The check lines against the verdict.
s=0 detail=
if [ $rc -le 1 ]; then
  names=0 nos=0
  for name in cpuid-control tsc-set user-syscall; do
    line=$(printf '%s\n' "$out" | grep -m1 "^probe: $name: ")
    case $line in
      "probe: $name: yes") names=$((names + 1)) ;;
      "probe: $name: no ("*")")
        names=$((names + 1)); nos=$((nos + 1))
        case $verdict in *"no $name"*) ;; *) s=1; detail="verdict does not name $name" ;; esac ;;
      *) s=1; detail="bad or missing line for $name: '$line'" ;;
    esac
  done
  [ $names -eq 3 ] || s=1
  if [ $rc -eq 0 ] && [ $nos -ne 0 ]; then s=1; detail="exit 0 with $nos checks saying no"; fi
  if [ $rc -eq 1 ] && [ $nos -eq 0 ]; then s=1; detail="exit 1 with every check saying yes"; fi
fi
check "check lines agree with the verdict" $s "$detail"

# Exit 2 only when /dev/kvm is really unusable.
s=0 detail=
if [ $rc -eq 2 ]; then
  if [ -c /dev/kvm ] && exec 3<>/dev/kvm 2>/dev/null; then
    exec 3>&-
    s=1; detail="probe said no usable KVM, but /dev/kvm opens read-write"
  fi
fi
check "no-usable-KVM verdict only without a usable /dev/kvm" $s "$detail"

# What this machine is, found out independently of the probe, and the
# verdict that must go with it (never assumed: every kind is checked):
#   no /dev/kvm that opens       -> exit 2, "no usable KVM"
#   kvm_pvm (software, DESIGN.md section 2) -> exit 1, "cannot"
#   inside the QEMU test host (CC_IN_TESTHOST=1, kvm_amd on emulated SVM)
#                                -> exit 0, "can run"
#   hardware KVM (kvm_intel or kvm_amd, no kvm_pvm) -> exit 0, "can run"
s=0 detail=
kvm_opens=0
if [ -c /dev/kvm ] && exec 3<>/dev/kvm 2>/dev/null; then
  exec 3>&-
  kvm_opens=1
fi
if [ $kvm_opens = 0 ]; then
  what="no usable /dev/kvm here: verdict 'no usable KVM', exit 2"
  [ $rc -eq 2 ] || { s=1; detail="/dev/kvm does not open here, but the probe exited $rc"; }
elif [ -d /sys/module/kvm_pvm ]; then
  what="kvm_pvm software hypervisor: verdict 'cannot', exit 1"
  [ $rc -eq 1 ] || { s=1; detail="kvm_pvm is loaded (cannot run Linux guests, DESIGN.md section 2) but the probe exited $rc"; }
elif [ "${CC_IN_TESTHOST:-}" = 1 ]; then
  what="inside the KVM test host: verdict 'can run', exit 0"
  [ $rc -eq 0 ] || { s=1; detail="the test host's KVM (kvm_amd on emulated SVM) must pass the probe, but it exited $rc"; }
elif [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
  what="hardware KVM: verdict 'can run', exit 0"
  [ $rc -eq 0 ] || { s=1; detail="hardware KVM (kvm_intel/kvm_amd) but the probe exited $rc: Linux-guest tests will fall back to the slow QEMU test host"; }
else
  what="a /dev/kvm of an unknown kind: a verdict of 'can' or 'cannot'"
  [ $rc -le 1 ] || { s=1; detail="/dev/kvm opens but the probe said no usable KVM (exit $rc)"; }
fi
check "$what" $s "$detail"

[ $failed -eq 0 ]
