# Sourced by the etcd example's test commands (helper_: not a command).
# One operation through etcdctl, recorded in the run's history with
# chaoscontrol-history (docs/history.md) around it:
#   etcd_write KEY VALUE MEMBER   put; ok, or info when etcdctl failed (a
#                                 put that timed out may still take effect)
#   etcd_read KEY MEMBER          get; ok with the value (- when absent), or
#                                 fail (a read has no effect)
# MEMBER is a VM index: etcdctl talks to that member only. An operation
# gives up after 500 ms (it takes about a millisecond when the cluster is
# healthy): a driver stuck on a member that cannot reach the others would
# do nothing else for the rest of a short branch. Reads use
# etcd_consistency from the kernel command line: l (linearizable, etcd's
# default) or s (serializable: served from the member's own state, which
# may be stale by design).
members=${etcd_members:-$CC_VMS}
consistency=${etcd_consistency:-l}
export ETCDCTL_API=3

endpoint() { echo "http://10.0.0.$(($1 + 1)):2379"; }

etcd_write() {
  chaoscontrol-history invoke write "$1" "$2"
  if etcdctl --endpoints "$(endpoint "$3")" --dial-timeout 500ms --command-timeout 500ms \
       put "$1" "$2" >/dev/null 2>&1; then
    chaoscontrol-history ok write "$1" "$2"
  else
    chaoscontrol-history info write "$1" "$2"
  fi
}

etcd_read() {
  chaoscontrol-history invoke read "$1"
  if v=$(etcdctl --endpoints "$(endpoint "$2")" --dial-timeout 500ms --command-timeout 500ms \
           get "$1" --print-value-only --consistency="$consistency" 2>/dev/null); then
    chaoscontrol-history ok read "$1" "${v:--}"
  else
    chaoscontrol-history fail read "$1"
  fi
}
