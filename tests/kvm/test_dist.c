/* One exploration shared by several worker processes (issue 19,
 * docs/distributed.md) on the tiny-heartbeat target (hb_target.c) with its
 * planted bug, through a private redis-server on a Unix socket:
 *  - two workers together use up the budget exactly (every branch counted
 *    once, the rounds complete) and find the bug one worker finds;
 *  - a worker killed with SIGKILL mid-run loses nothing: a second one
 *    takes over its leased branch once the lease expires and finishes the
 *    budget, with no branch counted twice;
 *  - the export is an ordinary exploration directory (checkpoint.json
 *    validates, report.txt, bug_N.json that loads). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol/explore.h"
#include "dist/store.h"
#include "hb_target.h"
#include "kvmtest.h"
#include "tap.h"

static char dir[128];
static char *url;
static int srv = -1;

#define ROUNDS 4
#define BRANCHES 4

static void target(struct cc_xtarget *t)
{
    cc_xtarget_init(t);
    t->n_vms = 3;
    t->seed = 3;
    t->setup_timeout_ns = CC_SEC;
}

static void opts(struct cc_explore_opts *o, struct hb_factory *f)
{
    cc_explore_opts_default(o);
    o->rounds = ROUNDS;
    o->branches = BRANCHES;
    o->mode = CC_XMODE_HYBRID;
    o->seed = 5;
    o->branch_ns = 200 * CC_MSEC;
    o->factory = &f->f;
}

static unsigned takeovers;

static void on_log(void *opaque, const char *msg)
{
    (void)opaque;
    if (strstr(msg, "taken over"))
        takeovers++;
    tap_diag("%s", msg);
}

/* A worker in this process: 0 on success. */
static int work(const char *name, const char *id, uint64_t lease_ms, uint64_t max,
                struct cc_worker_summary *sum)
{
    struct hb_factory *f = calloc(1, sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_BUG | F_COV);
    struct cc_explore_opts o;
    opts(&o, f);
    o.log = on_log;
    char wd[256];
    snprintf(wd, sizeof(wd), "%s/%s-%s", dir, name, id);
    struct cc_worker_opts w = {.url = url, .name = name, .id = id, .work_dir = wd,
                               .lease_ms = lease_ms, .max_branches = max};
    struct cc_err err = {0};
    int rc = cc_explore_work(&w, &o, sum, &err);
    if (rc < 0)
        tap_diag("worker %s: %s", id, err.msg);
    hb_free(f);
    free(f);
    return rc;
}

/* A worker in a child process; its pid. */
static pid_t spawn(const char *name, const char *id, uint64_t lease_ms)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        struct cc_worker_summary sum;
        _exit(work(name, id, lease_ms, 0, &sum) == 0 ? 0 : 1);
    }
    return p;
}

static int create(const char *name)
{
    struct hb_factory *f = calloc(1, sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_BUG | F_COV);
    struct cc_xtarget t;
    target(&t);
    struct cc_explore_opts o;
    opts(&o, f);
    bool created = false;
    struct cc_err err = {0};
    int rc = cc_explore_create(&t, &o, url, name, &created, &err);
    if (rc < 0)
        tap_diag("create %s: %s", name, err.msg);
    hb_free(f);
    free(f);
    return rc == 0 && created ? 0 : -1;
}

/* Export name to dir/name-out and check it is whole: the budget done,
 * every round complete and counted once, a loadable bug file. */
static void check_export(const char *name, const char *what)
{
    char out[256];
    snprintf(out, sizeof(out), "%s/%s-out", dir, name);
    struct cc_explore_summary s;
    struct cc_err err = {0};
    int rc = cc_explore_export(url, name, out, &s, &err);
    ok(rc == 0 && s.rounds_done == ROUNDS && s.branches == ROUNDS * BRANCHES,
       "%s: export: %u rounds, %llu branches (%s)", what, s.rounds_done,
       (unsigned long long)s.branches, rc ? err.msg : "");
    struct cc_xstate *st = NULL;
    rc = cc_xstate_load(out, &st, &err);
    uint64_t sum = 0;
    char *text = st ? cc_xstate_to_json(st) : NULL;
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    json_t *h = json_object_get(j, "history");
    for (size_t i = 0; i < json_array_size(h); i++)
        sum += (uint64_t)json_integer_value(json_object_get(json_array_get(h, i), "branches"));
    ok(rc == 0 && sum == ROUNDS * BRANCHES,
       "%s: checkpoint.json loads; its rounds add up to the budget, %llu branches", what,
       (unsigned long long)sum);
    json_decref(j);
    free(text);
    cc_xstate_free(st);
    ok(s.bugs >= 1, "%s: the planted bug is found (%u bug(s))", what, s.bugs);
    char p[300];
    snprintf(p, sizeof(p), "%s/bug_1.json", out);
    struct cc_bug *b = NULL;
    rc = cc_bug_load(p, &b, &err);
    ok(rc == 0 && b->number == 1 && b->fail.failed,
       "%s: bug_1.json loads, numbered 1, with its failure (%s)", what, rc ? err.msg : "");
    cc_bug_free(b);
    snprintf(p, sizeof(p), "%s/report.txt", out);
    struct stat sb;
    ok(stat(p, &sb) == 0 && sb.st_size > 100, "%s: report.txt written", what);
}

int main(void)
{
    tap_plan(0);
    snprintf(dir, sizeof(dir), "%s/cc-dist-XXXXXX", getenv("TMPDIR") ?: "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    struct cc_err err = {0};
    if (cc_store_local_start(dir, &url, &srv, &err) < 0) {
        printf("Bail out! %s\n", err.msg);
        return 1;
    }

    /* one worker */
    struct cc_worker_summary s1;
    ok(create("one") == 0, "an exploration of %d x %d branches is created", ROUNDS, BRANCHES);
    int rc1 = work("one", "solo", 60000, 0, &s1);
    ok(rc1 == 0 && s1.branches == ROUNDS * BRANCHES,
       "one worker runs all %llu branches", (unsigned long long)s1.branches);
    check_export("one", "one worker");

    /* two workers at once */
    ok(create("two") == 0, "a second exploration");
    pid_t a = spawn("two", "w1", 60000), b = spawn("two", "w2", 60000);
    int sa = -1, sb = -1;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    ok(WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0,
       "two worker processes share it and both exit 0");
    check_export("two", "two workers");

    /* a worker killed mid-run */
    ok(create("kill") == 0, "a third exploration");
    pid_t k = spawn("kill", "doomed", 1500);
    struct cc_shared_status st = {0};
    for (int i = 0; i < 600; i++) {
        if (cc_explore_status(url, "kill", &st, &err) == 0 && st.done >= 3 &&
            st.next > st.done)
            break;
        usleep(20 * 1000);
    }
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    cc_explore_status(url, "kill", &st, &err);
    bool held = st.next > st.done;
    ok(st.done >= 3 && st.done < ROUNDS * BRANCHES,
       "the first worker is killed (SIGKILL) after %llu branches, holding %s",
       (unsigned long long)st.done, held ? "a lease" : "no lease");
    takeovers = 0;
    struct cc_worker_summary s2;
    int rc2 = work("kill", "rescuer", 1500, 0, &s2);
    ok(rc2 == 0 && s2.branches == ROUNDS * BRANCHES - st.done,
       "a second worker finishes the budget: %llu branches", (unsigned long long)s2.branches);
    ok(!held || takeovers >= 1, "it took over the killed worker's leased branch (%u)", takeovers);
    check_export("kill", "after the kill");
    struct cc_shared_status end;
    int rc3 = cc_explore_status(url, "kill", &end, &err);
    ok(rc3 == 0 && end.done == ROUNDS * BRANCHES &&
           end.next == ROUNDS * BRANCHES && end.leased == 0,
       "no branch counted twice: %llu done of %llu, none leased",
       (unsigned long long)end.done, (unsigned long long)end.budget);
    tap_diag("coordination of the solo worker: %llu round trips, %llu bytes out, %llu in, for "
             "%llu branches", (unsigned long long)s1.round_trips,
             (unsigned long long)s1.bytes_out, (unsigned long long)s1.bytes_in,
             (unsigned long long)s1.branches);

    cc_store_local_stop(srv, url);
    free(url);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (!getenv("DIST_KEEP") && system(cmd) != 0)
        tap_diag("could not remove %s", dir);
    return tap_exit();
}
