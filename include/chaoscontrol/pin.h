/* Host core pinning (docs/cpu.md): lists of host cores in the kernel's
 * cpulist form ("0-3,6"), checked against the cores this process may use,
 * and pinning of the calling thread.
 *
 * Every vCPU of every VM a process runs executes in the one thread that
 * calls cc_vm_run / cc_sim_run, one at a time (vm.h, sim.h): pinning that
 * thread pins them all. Pinning changes only where the host runs that
 * thread, nothing the guest can see. */
#ifndef CHAOSCONTROL_PIN_H
#define CHAOSCONTROL_PIN_H

#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

#define CC_CPULIST_MAX 1024     /* cores numbered 0-1023 (CPU_SETSIZE) */

struct cc_cpulist {
    unsigned n;
    uint16_t cpu[CC_CPULIST_MAX];   /* in the order listed */
};

/* Parse "N", "A-B" and comma-separated lists of them ("0-3,6"), keeping
 * the order given; a core listed twice, a backwards range, an empty item
 * or a core >= CC_CPULIST_MAX is an error (-EINVAL, err names the item). */
int cc_cpulist_parse(const char *s, struct cc_cpulist *out, struct cc_err *err);
/* Format as "0-3,6" (ranges of consecutive cores in list order). */
void cc_cpulist_format(const struct cc_cpulist *l, char *buf, size_t len);
/* The cores the calling thread may run on (sched_getaffinity), ascending. */
int cc_cpulist_allowed(struct cc_cpulist *out, struct cc_err *err);
/* -EINVAL when a core of l is not in the allowed set (err names it and the
 * allowed set). */
int cc_cpulist_check_allowed(const struct cc_cpulist *l, struct cc_err *err);
/* Pin the calling thread to one host core. */
int cc_pin_thread(unsigned cpu, struct cc_err *err);

#endif
