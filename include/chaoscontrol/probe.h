/* Functional probe: can this host's /dev/kvm run Linux guests?
 *
 * Runs tiny guests that check what Linux guests and the determinism model
 * need and a software hypervisor may silently lack (DESIGN.md §2): CPUID
 * control honoured, guest TSC settable, a user-mode SYSCALL works. The
 * decision is always made this way, never by host name. */
#ifndef CHAOSCONTROL_PROBE_H
#define CHAOSCONTROL_PROBE_H

#include <stdbool.h>

enum cc_probe_verdict {
    CC_PROBE_CAPABLE = 0,       /* Linux guests can run here */
    CC_PROBE_INCAPABLE = 1,     /* /dev/kvm works but fails a check */
    CC_PROBE_NO_KVM = 2,        /* no usable /dev/kvm at all */
};

struct cc_probe_result {
    enum cc_probe_verdict verdict;
    bool cpuid_control, tsc_set, user_syscall;
    char lines[1024];   /* one "probe: NAME: yes|no (why)" line per check */
    char summary[512];  /* one sentence, e.g. "this /dev/kvm cannot run ..." */
};

void cc_kvm_probe(struct cc_probe_result *r);
void cc_kvm_probe_dev(const char *dev, struct cc_probe_result *r);

#endif
