/* sdk-bench: what one SDK call costs, per doorbell. Run as /init under the
 * VMM with bench/sdk_doorbell (which timestamps the bench_start/bench_end
 * events host-side: guest clocks are virtual). Segments, N calls each
 * (SDK_BENCH_N, default 10000):
 *   port       cc_sdk_ping() through the port doorbell (outl from ring 3)
 *   hypercall  cc_sdk_ping() through /dev/chaoscontrol (ioctl + VMCALL)
 *   random     cc_random_choice() (an exit with a reply and a log record)
 *   assert     CC_ALWAYS(true, ...) (no exit: a counter in guest memory)
 *   pio        outb to port 0x80 (a plain exit, for comparison)
 *   pio32      outl to port 0x80
 *   bell       outl of a bad mailbox index to the doorbell port (the exit
 *              and the VMM's dispatch, without the SDK's guest-side code)
 * A segment whose doorbell is missing is skipped (bench_skip event). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "common/guest.h"
#include "chaoscontrol_protocol.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vsay("sdk-bench: ", fmt, ap);
    va_end(ap);
}

static void mark(const char *what, const char *seg, long n)
{
    char d[128];
    snprintf(d, sizeof(d), "{\"segment\":\"%s\",\"n\":%ld}", seg, n);
    cc_send_event(what, d);
}

int main(void)
{
    const char *ns = getenv("SDK_BENCH_N");
    long n = ns ? strtol(ns, NULL, 10) : 10000;
    if (n <= 0)
        n = 10000;
    int start_mode = cc_sdk_mode();
    say("start: mode %d, %ld calls per segment", start_mode, n);

    static const struct { const char *name; int mode; } doors[] = {
        {"port", CC_SDK_PORT}, {"hypercall", CC_SDK_HYPERCALL},
    };
    for (unsigned d = 0; d < 2; d++) {
        if (cc_sdk_set_mode(doors[d].mode) < 0) {
            mark("bench_skip", doors[d].name, 0);
            say("%s: not available", doors[d].name);
            continue;
        }
        mark("bench_start", doors[d].name, n);
        for (long i = 0; i < n; i++)
            cc_sdk_ping();
        mark("bench_end", doors[d].name, n);
        say("%s: done", doors[d].name);
    }
    if (start_mode != CC_SDK_LOCAL)
        cc_sdk_set_mode(start_mode);

    uint64_t sum = 0;
    mark("bench_start", "random", n);
    for (long i = 0; i < n; i++)
        sum += cc_random_choice(1000);
    mark("bench_end", "random", n);

    mark("bench_start", "assert", n);
    for (long i = 0; i < n; i++)
        CC_ALWAYS(i >= 0, "bench: counting only", NULL);
    mark("bench_end", "assert", n);

    if (ioperm(0x80, 4, 1) == 0 && ioperm(CC_PROTO_PORT, 4, 1) == 0) {
        mark("bench_start", "pio", n);
        for (long i = 0; i < n; i++)
            outb(0, 0x80);
        mark("bench_end", "pio", n);
        mark("bench_start", "pio32", n);
        for (long i = 0; i < n; i++)
            outl(0, 0x80);
        mark("bench_end", "pio32", n);
        /* the doorbell port with no mailbox behind it: exit + dispatch only */
        mark("bench_start", "bell", n);
        for (long i = 0; i < n; i++)
            outl(CC_PROTO_MAILBOXES + 1, CC_PROTO_PORT);
        mark("bench_end", "bell", n);
    } else {
        mark("bench_skip", "pio", 0);
    }
    say("done (checksum %llu)", (unsigned long long)sum);
    sync();
    if (getpid() != 1)
        return 0;
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}
