/* libchaoscontrol: host-side KVM trace recordings (chaoscontrol trace,
 * docs/trace.md).
 *
 * A recording is the KVM tracepoints (kvm:kvm_exit, kvm:kvm_entry,
 * kvm:kvm_pio, ...) of one VMM process, taken on the host by bpftrace. It
 * is a text file: a header of "# key: value" lines, then one event a line,
 * "THREAD EVENT key=value ...", each thread's events in the order they
 * happened (threads one after the other, numbered by their first event).
 * No host timestamps or thread ids are in the events, so two recordings of
 * the same execution are the same text apart from the header.
 *
 * The events KVM makes for host reasons (host interrupts, nested page
 * faults, entries, re-injections, signals; docs/trace.md) differ from run to
 * run of one execution: they are only counted, in "# counted" header lines.
 * cc_ktrace_verify compares the recorded events one by one and reports the
 * counts. */
#ifndef CHAOSCONTROL_KTRACE_H
#define CHAOSCONTROL_KTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chaoscontrol/err.h"

#define CC_KTRACE_MAGIC "# chaoscontrol kvm-trace 2"

/* The bpftrace program that records the KVM events of process $1 (all its
 * threads). Each event is one line "E TID SEQ EVENT FIELDS", SEQ counting
 * 1, 2, ... per thread in the kernel (a gap or a short count is a lost
 * event). Around the KVM probes, two sentinel probes on getppid(2) from
 * process $2 print "S1"/"S2" (one declared first, one last: once both have
 * fired, every probe is attached whatever bpftrace's attach order). END
 * prints each thread's final SEQ ("@seq[TID]: N") and then "@@end". */
const char *cc_ktrace_bpftrace_script(void);

/* Turn one "E ..." line of that program into a recording line (without the
 * thread, which the caller numbers): "exit reason=svm:io rip=0x...".
 * Returns false on a line that is not an event of the program. */
bool cc_ktrace_format_event(const char *line, uint64_t *tid, uint64_t *seq, char *out,
                            size_t out_size);

/* Turn one line of the program's END counts ("@x[TID, ISA, REASON]: N",
 * every exit by reason; "@n[TID, NAME]: N", the host-induced events that
 * are only counted) into "exit:svm:interrupt N" / "entry N". */
bool cc_ktrace_format_count(const char *line, uint64_t *tid, char *out, size_t out_size);

struct cc_ktrace_verify_opts {
    unsigned context;   /* events shown before the first difference */
};

/* Compare two recordings. Prints "same: ..." (returns 0) or where they
 * first differ (returns 1) to out; a malformed or incomplete recording
 * returns -EINVAL with err naming the file and line. */
int cc_ktrace_verify(const char *path_a, const char *path_b,
                     const struct cc_ktrace_verify_opts *o, FILE *out, struct cc_err *err);

#endif
