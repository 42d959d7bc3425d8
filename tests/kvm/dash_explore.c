/* dash_explore: a tiny-guest exploration with the dashboard on, for the
 * browser test (tests/web/dashboard.sh), which runs it where KVM is real
 * (tools/kvm-host, --forward) and drives the page from outside.
 *
 *   dash_explore DIR PORT|off [ROUNDS [BRANCHES]]
 *
 * Serves DIR (the exploration's output) on PORT, bound to
 * $CC_FORWARD_GUEST_BIND (default 127.0.0.1); waits (up to 120 s) for an
 * event-stream client, then explores the tiny-heartbeat target with its
 * planted bug (hb_target.c), with a pause of CC_DASH_PACE_MS (default
 * 1200) after each round (so that a page sees every round arrive). When
 * done it keeps serving until DIR/../stop exists (at most 300 s).
 * With "off" there is no dashboard, no wait and no linger; CC_DASH_WAIT=0
 * and CC_DASH_LINGER=0 skip the wait and the linger (bench/dashboard.sh
 * measures branches per second with and without a dashboard this way).
 * stdout: "dashboard URL", then "done rounds R branches B bugs K wall S
 * cpu_main C cpu_other O": C and O are the CPU seconds of the exploring
 * thread and of all the others (the dashboard's, when on). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/dash.h"
#include "chaoscontrol/explore.h"
#include "hb_target.h"
#include "kvmtest.h"
#include "tap.h"

static struct cc_dash *dash;
static unsigned pace_ms = 1200;

static bool env_off(const char *name)
{
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of this process's main thread (*main) and of
 * its other threads (*other), from /proc/self/task/TID/stat. */
static void thread_cpu(double *main_s, double *other_s)
{
    *main_s = *other_s = 0;
    long hz = sysconf(_SC_CLK_TCK);
    DIR *dp = opendir("/proc/self/task");
    if (!dp || hz <= 0) {
        if (dp)
            closedir(dp);
        return;
    }
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = 0;
        char *p = strrchr(buf, ')');    /* the command may hold spaces */
        unsigned long ut = 0, stt = 0;
        /* after ")": state(3) ... utime(14) stime(15) */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                         &ut, &stt) != 2)
            continue;
        double sec = (double)(ut + stt) / (double)hz;
        if (atoi(e->d_name) == self)
            *main_s += sec;
        else
            *other_s += sec;
    }
    closedir(dp);
}

static void on_log(void *opaque, const char *msg)
{
    (void)opaque;
    fprintf(stderr, "dash_explore: %s\n", msg);
    cc_dash_notify(dash);
    if (!strncmp(msg, "round ", 6) && pace_ms)
        usleep(pace_ms * 1000);         /* a page sees each round arrive */
}

static void on_progress(void *opaque, const char *line)
{
    (void)opaque;
    cc_dash_progress(dash, line);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dash_explore DIR PORT|off [ROUNDS [BRANCHES]]\n");
        return 2;
    }
    const char *dir = argv[1];
    bool on = strcmp(argv[2], "off") != 0;
    unsigned port = on ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    if (getenv("CC_DASH_PACE_MS"))
        pace_ms = (unsigned)strtoul(getenv("CC_DASH_PACE_MS"), NULL, 10);
    unsigned rounds = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 6;
    unsigned branches = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 4;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "dash_explore: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const char *bind = getenv("CC_FORWARD_GUEST_BIND");
    struct cc_dash_opts dopts = {.corpus = dir, .bind = bind, .port = port, .live = true};
    struct cc_err err = {0};
    if (on && cc_dash_start(&dopts, &dash, &err) < 0) {
        fprintf(stderr, "dash_explore: %s\n", err.msg);
        return 1;
    }
    if (on) {
        printf("dashboard %s\n", cc_dash_url(dash));
        fflush(stdout);
    }
    for (int i = 0; on && !env_off("CC_DASH_WAIT") && i < 1200 && cc_dash_clients(dash) == 0;
         i++)
        usleep(100 * 1000);
    if (on && !env_off("CC_DASH_WAIT") && cc_dash_clients(dash) == 0)
        fprintf(stderr, "dash_explore: no page connected in 120 s; exploring anyway\n");
    double t0 = now_s();

    struct hb_factory *f = calloc(1, sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_BUG | F_COV);
    struct cc_xtarget t;
    cc_xtarget_init(&t);
    t.n_vms = 3;
    t.seed = 3;
    t.setup_timeout_ns = CC_SEC;
    struct cc_explore_opts o;
    cc_explore_opts_default(&o);
    o.output = dir;
    o.rounds = rounds;
    o.branches = branches;
    o.mode = CC_XMODE_HYBRID;
    o.seed = 5;
    o.branch_ns = 200 * CC_MSEC;
    o.factory = &f->f;
    o.log = on_log;
    o.progress = on_progress;
    struct cc_explorer *x;
    int rc = cc_explorer_new(&t, &o, &x, &err);
    if (rc == 0)
        rc = cc_explorer_run(x, &err);
    if (rc < 0)
        fprintf(stderr, "dash_explore: %s\n", err.msg);
    struct cc_xstate *st = NULL;
    struct cc_explore_summary s = {0};
    if (cc_xstate_load(dir, &st, &err) == 0) {
        cc_xstate_summary(st, &s);
        cc_xstate_free(st);
    }
    if (rc == 0)
        cc_explorer_free(x);
    hb_free(f);
    free(f);
    cc_dash_set_live(dash, false);
    double cpu_main, cpu_other;
    thread_cpu(&cpu_main, &cpu_other);
    printf("done rounds %u branches %" PRIu64 " bugs %u wall %.3f cpu_main %.2f cpu_other %.2f\n",
           s.rounds_done, s.branches, s.bugs, now_s() - t0, cpu_main, cpu_other);
    fflush(stdout);
    char stop[4200];
    snprintf(stop, sizeof(stop), "%s/../stop", dir);
    for (int i = 0; on && !env_off("CC_DASH_LINGER") && i < 3000 && access(stop, F_OK) < 0; i++)
        usleep(100 * 1000);
    cc_dash_stop(dash);
    return rc < 0 ? 1 : 0;
}
