/* sdk-demo: exercises every call of the ChaosControl guest SDK
 * (sdk/chaoscontrol.h), as /init of a Linux VM or natively (local mode).
 *
 * What it does, in order:
 *   - its catalog (every CC_* macro below) is registered before main();
 *   - setup_complete with details, then events;
 *   - random values of all three kinds (printed, so runs can be compared);
 *   - assertions: an ALWAYS that holds, a SOMETIMES that is true exactly
 *     once, a REACHABLE, an ALWAYS_OR_UNREACHABLE, guidance both ways,
 *     hand-placed coverage edges;
 *   - a child process and a thread that use the SDK too (their own
 *     mailboxes; the child's assertions land in the same table);
 *   - an entry that is never reached, and one only reached with a rare
 *     choice (choice #4 == 999: override it to make it fail);
 *   - failures on demand: SDK_DEMO_FAIL=always or =unreachable in the
 *     environment (on the kernel command line, e.g. --append
 *     SDK_DEMO_FAIL=always: Linux passes unknown name=value parameters to
 *     init as environment variables).
 * Then it powers the VM off (or exits when not PID 1). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "common/guest.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vsay("sdk-demo: ", fmt, ap);
    va_end(ap);
}

static const char *mode_name(int m)
{
    return m == 1 ? "local" : m == 2 ? "port" : m == 3 ? "hypercall" : "?";
}

/* Never called: its entries are in the catalog all the same. */
__attribute__((noinline)) static void never_called(int x)
{
    CC_SOMETIMES(x > 1000, "never reached: a huge x", NULL);
    CC_REACHABLE("never reached: the dead function", NULL);
}

static void *thread_main(void *arg)
{
    (void)arg;
    uint64_t v = cc_random_u64();
    CC_REACHABLE("a second thread uses the SDK", NULL);
    return (void *)(uintptr_t)(v & 0xffff);
}

static unsigned collatz_steps(uint64_t n)
{
    unsigned steps = 0;
    while (n > 1 && steps < 10000) {
        n = n & 1 ? 3 * n + 1 : n / 2;
        steps++;
    }
    return steps;
}

int main(void)
{
    int mode = cc_sdk_mode();
    say("start (SDK mode: %s)", mode_name(mode + 1));
    const char *fail = getenv("SDK_DEMO_FAIL");
    if (!fail)
        fail = "none";

    cc_setup_complete("{\"program\":\"sdk-demo\",\"version\":1}");
    cc_send_event("demo_started", "{\"fail\":\"none\"}");
    cc_send_event("no_details", NULL);

    /* randomness */
    uint64_t u = cc_random_u64();
    uint64_t c1 = cc_random_choice(10);
    uint64_t c2 = cc_random_choice(3);
    uint8_t bytes[8];
    cc_random_bytes(bytes, sizeof(bytes));
    say("random: u64=%016llx choice10=%llu choice3=%llu bytes=%02x%02x%02x%02x%02x%02x%02x%02x",
        (unsigned long long)u, (unsigned long long)c1, (unsigned long long)c2, bytes[0],
        bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
    CC_ALWAYS(c1 < 10, "choices stay in range", "{\"n\":10}");

    /* a SOMETIMES that is true exactly once, and work for coverage */
    unsigned best = 0;
    for (int i = 0; i < 20; i++) {
        uint64_t n = 27 + (uint64_t)i * 7 + (c2 & 1);
        unsigned steps = collatz_steps(n);
        if (steps > best)
            best = steps;
        CC_SOMETIMES(i == 13, "the loop reaches iteration 13", NULL);
        CC_ALWAYS_OR_UNREACHABLE(steps < 10000, "collatz terminates quickly", NULL);
        cc_guidance_maximize("collatz steps", (int64_t)steps);
        cc_guidance_minimize("collatz steps", (int64_t)steps);
        cc_coverage_edge((uint32_t)(steps % 64));
    }
    say("collatz: longest %u steps", best);
    CC_REACHABLE("the main loop finished", NULL);

    /* a rare choice: only an override makes this fail */
    uint64_t rare = cc_random_choice(1000);
    CC_ALWAYS(rare != 999, "the rare choice 999 is never taken", NULL);
    if (rare == 12345)
        never_called((int)rare);

    /* another thread and a child process */
    pthread_t th;
    void *tv = NULL;
    if (pthread_create(&th, NULL, thread_main, NULL) == 0)
        pthread_join(th, &tv);
    pid_t pid = fork();
    if (pid == 0) {
        CC_SOMETIMES(getpid() != 1, "a child process reports too", NULL);
        cc_send_event("child", "{\"hello\":\"from the child\"}");
        _exit(0);
    }
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    say("thread: %llu, child: %s", (unsigned long long)(uintptr_t)tv,
        pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "ok" : "failed");

    /* failures on demand */
    if (!strcmp(fail, "always")) {
        int balance = -5;
        CC_ALWAYS(balance >= 0, "balance never goes negative", "{\"balance\":-5}");
    } else if (!strcmp(fail, "unreachable")) {
        CC_UNREACHABLE("the impossible branch", "{\"why\":\"SDK_DEMO_FAIL=unreachable\"}");
    }

    cc_send_event("demo_done", NULL);
    say("done");
    sync();
    if (getpid() != 1)
        return 0;
    reboot(RB_POWER_OFF);
    say("reboot(RB_POWER_OFF) failed: %s", strerror(errno));
    for (;;)
        pause();
}
