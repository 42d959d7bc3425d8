/* smp-race: threads on several vCPUs (issue 17; tests/linux/smp.sh).
 *
 * Prints what the guest sees of its CPUs ("smp-race: cpus online=N
 * cpuinfo=N"), then by the mode= parameter of the kernel command line:
 *
 *  mode=counters (default): threads=T threads (default: one per online
 *    CPU) each add iters=N times to one counter under a mutex and to
 *    another without one. The unlocked read-modify-write writes one byte
 *    to the console between the read and the write (a VM exit, where the
 *    VMM may switch vCPUs), so its final value depends on how the threads
 *    interleave: "smp-race: locked=L unlocked=U expected=E". The locked
 *    counter must always be E.
 *
 *  mode=race: a planted data race for the explorer. After
 *    cc_setup_complete, threads do slightly different amounts of locked
 *    work (thread i does work=W + gap=G x i rounds, each with a console
 *    write), then run a lazy initialisation "if (!ready) { log; ready = 1;
 *    inits++; }" with no lock, where initialising reports hold=H SDK
 *    events (an exit each): two threads initialise only when the first is
 *    switched out at one of those exits and stays out until a thread with
 *    more work reaches the check, which only the vCPU schedule decides.
 *    ALWAYS(inits == 1) fails then. Only the vCPU schedule decides it: the
 *    program draws no random numbers.
 *
 * Then it powers the VM off. */
#include <pthread.h>
#include <sys/mount.h>
#include <unistd.h>

#include "chaoscontrol.h"
#include "common/guest.h"

#define MAX_THREADS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile long locked_ctr, unlocked_ctr;
static volatile int ready, inits;
static long iters = 40, work = 6, gap = 8, hold = 40;
static int race_mode;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guest_vsay("smp-race: ", fmt, ap);
    va_end(ap);
}

static void out(const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(1, s, n);
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static void *counters(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        pthread_mutex_lock(&lock);
        locked_ctr++;
        pthread_mutex_unlock(&lock);
        long v = unlocked_ctr;
        out(".", 1);            /* an exit inside the window */
        unlocked_ctr = v + 1;
    }
    return NULL;
}

static void *racer(void *arg)
{
    long id = (long)arg;
    char line[48];
    for (long r = 0; r < work + gap * id; r++) {
        pthread_mutex_lock(&lock);
        locked_ctr++;
        pthread_mutex_unlock(&lock);
        int n = snprintf(line, sizeof(line), "t%ld.%ld ", id, r);
        out(line, (size_t)n);
    }
    if (!ready) {
        int n = snprintf(line, sizeof(line), "\nsmp-race: thread %ld initialises\n", id);
        out(line, (size_t)n);
        /* The window: initialising tells the host hold=H times (SDK events:
         * an exit each, where the VMM may switch vCPUs; no sleep, so the
         * vCPU stays runnable and only the scheduler's draws decide how
         * long it is out). */
        for (long k = 0; k < hold; k++)
            cc_send_event("smp_race.init", "{\"step\":1}");
        ready = 1;
        inits++;
    }
    return NULL;
}

static int count_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    char l[256];
    int n = 0;
    while (fgets(l, sizeof(l), f))
        if (!strncmp(l, "processor", 9))
            n++;
    fclose(f);
    return n;
}

int main(void)
{
    if (getpid() == 1)
        mount("proc", "/proc", "proc", 0, NULL);
    char cmdline[1024] = "", buf[32];
    FILE *f = fopen("/proc/cmdline", "r");
    if (f) {
        if (!fgets(cmdline, sizeof(cmdline), f))
            cmdline[0] = 0;
        fclose(f);
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    say("cpus online=%ld cpuinfo=%d", online, count_cpuinfo());
    const char *p = guest_cmdline_param(cmdline, "mode", buf, sizeof(buf));
    race_mode = p && !strcmp(p, "race");
    long threads = online > 0 ? online : 1;
    if ((p = guest_cmdline_param(cmdline, "threads", buf, sizeof(buf))))
        threads = atol(p);
    if ((p = guest_cmdline_param(cmdline, "iters", buf, sizeof(buf))))
        iters = atol(p);
    if ((p = guest_cmdline_param(cmdline, "work", buf, sizeof(buf))))
        work = atol(p);
    if ((p = guest_cmdline_param(cmdline, "gap", buf, sizeof(buf))))
        gap = atol(p);
    if ((p = guest_cmdline_param(cmdline, "hold", buf, sizeof(buf))))
        hold = atol(p);
    if (threads < 1 || threads > MAX_THREADS)
        threads = 2;

    if (race_mode) {
        cc_setup_complete("{\"smp_race\":1}");
        /* The workload starts 1 ms after setup, so that an exploration's
         * branches, which start at the setup point, decide all of it. */
        usleep(1000);
    }
    pthread_t t[MAX_THREADS];
    for (long i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, race_mode ? racer : counters, (void *)i) != 0) {
            say("pthread_create failed");
            guest_power_off(1);
        }
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    if (race_mode) {
        char det[64];
        snprintf(det, sizeof(det), "{\"inits\":%d}", inits);
        CC_REACHABLE("the racers finish", NULL);
        CC_ALWAYS(inits == 1, "lazy initialisation runs once", det);
        out("\n", 1);
        say("inits=%d", inits);
    } else {
        out("\n", 1);
        say("locked=%ld unlocked=%ld expected=%ld", locked_ctr,
                  unlocked_ctr, threads * iters);
    }
    guest_power_off(0);
}
