/* The explorer on tiny guests (src/explore through a target factory), in
 * seconds instead of the Linux tier's minutes.
 *
 * The target: three VMs, each a C function of this binary (kvmtest.h) that
 * drives its virtio-net card by hand and speaks the SDK wire protocol by
 * hand (sdk/chaoscontrol_protocol.h). Every 10 ms (its PIT) a node
 * broadcasts a heartbeat and reads the others'. A node that has not heard
 * from a peer for more than 30 ms suspects it; while it suspects someone it
 * draws cc_random_choice(2^20) every tick and evaluates the ALWAYS
 * assertion "acts only on a fresh view". The planted bug: with F_BUG, a
 * draw of 0 while suspecting fails it. So the bug needs a fault that
 * silences a peer (a pause, kill, partition, loss ...) AND a particular
 * choice (0 has probability 2^-20 from the seeded stream, so only a choice
 * override gets there). Without F_BUG (the control) nothing can fail.
 * F_COV adds coverage edges (who suspects whom) and a SOMETIMES; F_GUIDE
 * reports the longest silence heard as a cc_guidance_maximize value.
 *
 * Tests:
 *  - find: hybrid exploration finds the bug in under 30 s, the bug file
 *    names the factory, the bug reproduces in-process, minimizes to a
 *    recipe that still needs both a fault and an override (each removed,
 *    the run passes), and the minimized bug reproduces; the explorer's
 *    bug_1.dlog (dlog_bugs) has the same records as a reproduction's log
 *    (cc_xrun_opts.play_dlog), the failure at the bug file's exit and an
 *    end mark per VM;
 *  - control: the same budget without F_BUG finds nothing;
 *  - plateau (issue 12): the saturating target (F_COV) explored, then
 *    resumed: report.txt says "nothing new for N round(s)" / "PLATEAU since
 *    round N" exactly as its own history table implies, after growth in the
 *    first round; coverage.svg plots the table's numbers;
 *  - guidance: a target whose only signal is a guidance value grows its
 *    frontier from new maxima; the same target without guidance stays at
 *    the root and is a plateau from round 1. */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/virtio.h"
#include "chaoscontrol_protocol.h"
#include "kvmtest.h"
#include "tap.h"

#include "hb_target.h"

/* ---- host side: helpers ---- */

static char tmpdir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void quiet_log(void *opaque, const char *msg)
{
    (void)opaque;
    if (getenv("EXPLORE_DIAG"))
        tap_diag("%s", msg);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = calloc(1, (size_t)n + 1);
    if (fread(t, 1, (size_t)n, f) != (size_t)n)
        t[0] = 0;
    fclose(f);
    return t;
}

static void target_of(struct cc_xtarget *t, uint64_t seed)
{
    cc_xtarget_init(t);
    t->n_vms = 3;
    t->seed = seed;
    t->setup_timeout_ns = CC_SEC;
}

static void opts_of(struct cc_explore_opts *o, const char *dir, const struct hb_factory *f,
                    enum cc_xmode mode, unsigned rounds, unsigned branches, uint64_t seed)
{
    cc_explore_opts_default(o);
    o->output = dir;
    o->rounds = rounds;
    o->branches = branches;
    o->mode = mode;
    o->seed = seed;
    o->branch_ns = 200 * CC_MSEC;
    o->factory = &f->f;
    o->log = quiet_log;
}

/* The factory the last exploration's state names. */
static char last_factory[64];

/* Explore (new) and return the summary; bails out on errors. */
static void explore(const struct cc_explore_opts *o, uint64_t seed, struct cc_explore_summary *s,
                    double *wall)
{
    struct cc_xtarget t;
    target_of(&t, seed);
    struct cc_explorer *x;
    struct cc_err err = {0};
    double t0 = now_s();
    if (cc_explorer_new(&t, o, &x, &err) < 0 || cc_explorer_run(x, &err) < 0)
        tap_bail("explore %s: %s", o->output, err.msg);
    *wall = now_s() - t0;
    cc_explorer_summary(x, s);
    const struct cc_xtarget *st = cc_xstate_target(cc_explorer_state(x));
    snprintf(last_factory, sizeof(last_factory), "%s", st->factory ? st->factory : "(none)");
    cc_explorer_free(x);
}

static char *dir_in(const char *name)
{
    static char b[4][512];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof(b[0]), "%s/%s", tmpdir, name);
    return p;
}

/* ---- find, minimize, reproduce ---- */

#define SEED 3
#define XSEED 5
#define ROUNDS 10
#define BRANCHES 10

static struct cc_recipe *without(const struct cc_recipe *r, bool faults, bool overrides)
{
    struct cc_recipe *c = cc_recipe_clone(r);
    if (faults)
        while (cc_schedule_count(c->sched))
            cc_schedule_remove(c->sched, 0);
    if (overrides)
        c->n_ov = 0;
    c->end_ns += CC_SEC / 4;
    return c;
}

static void check_needs_both(struct hb_factory *f, const struct cc_bug *b)
{
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.factory = &f->f;
    struct cc_xrun *x;
    struct cc_err err = {0};
    if (cc_xrun_boot(&b->target, &ro, &x, &err) < 0)
        tap_bail("boot: %s", err.msg);
    struct cc_xrun_result res;
    struct cc_recipe *r = without(b->recipe, true, false);
    ok(cc_xrun_replay(x, r, &res, &err) == 0 && !res.fail.failed,
       "without its %zu fault(s) the minimized recipe passes (the fault is needed)",
       cc_schedule_count(b->recipe->sched));
    cc_recipe_free(r);
    r = without(b->recipe, false, true);
    ok(cc_xrun_replay(x, r, &res, &err) == 0 && !res.fail.failed,
       "without its %zu override(s) it passes (the choice is needed)", b->recipe->n_ov);
    cc_recipe_free(r);
    r = without(b->recipe, false, false);
    ok(cc_xrun_replay(x, r, &res, &err) == 0 && res.fail.failed && res.fail.id == ID_FRESH,
       "with both it fails");
    cc_recipe_free(r);
    cc_xrun_free(x);
}

static void test_find(void)
{
    struct hb_factory *f = malloc(sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_BUG | F_COV);
    struct cc_explore_opts o;
    opts_of(&o, dir_in("bug"), f, CC_XMODE_HYBRID, ROUNDS, BRANCHES, XSEED);
    o.stop_after_bugs = 1;
    o.dlog_bugs = true;             /* bug_1.dlog, checked against reproduce's below */
    o.dlog_regs = 50;
    struct cc_explore_summary s;
    double wall;
    explore(&o, SEED, &s, &wall);
    tap_diag("explore: %u rounds, %" PRIu64 " branches in %.1f s, frontier %zu, %zu edges, "
             "%zu assertion states; first bug at branch %" PRIu64 " (%.1f s)", s.rounds_done,
             s.branches, wall, s.frontier, s.edges, s.assert_bits, s.first_bug_branch,
             s.first_bug_wall_s);
    ok(s.bugs == 1, "the explorer finds the planted bug (%u bug)", s.bugs);
    ok(!strcmp(last_factory, "tiny-heartbeat"), "its state names the factory (%s)",
       last_factory);
    ok(wall < 30, "in under 30 s (%.1f s, booting included)", wall);

    char path[600];
    snprintf(path, sizeof(path), "%s/bug_1.json", dir_in("bug"));
    struct cc_bug *b = NULL;
    struct cc_err err = {0};
    int rc = cc_bug_load(path, &b, &err);
    ok(rc == 0, "bug_1.json loads (%s)", rc ? err.msg : "ok");
    if (rc < 0)
        tap_bail("no bug to work on");
    ok(b->fail.id == ID_FRESH && !strcmp(b->fail.message, msg_fresh) && b->target.factory &&
       !strcmp(b->target.factory, "tiny-heartbeat") && !b->target.kernel,
       "it is the planted assertion (vm %u at %.3f s), on the factory's target", b->fail.vm,
       b->fail.sim_ns / 1e9);
    tap_diag("bug_1.json: %zu faults, %zu overrides, found in %s mode",
             cc_schedule_count(b->recipe->sched), b->recipe->n_ov, cc_xmode_name(b->mode));

    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.factory = &f->f;
    ro.log = quiet_log;
    struct cc_repro rp;
    double t0 = now_s();
    rc = cc_bug_reproduce(b, &ro, &rp, &err);
    ok(rc == 0 && rp.same, "it reproduces in-process: the same failure at the same time "
       "(%.1f s)%s%s", now_s() - t0, rc ? err.msg : "", rp.same ? "" : rp.diff);

    /* the explorer's log of the bug and a reproduction's (play_dlog) are the same */
    char xlog[600], rlog[600];
    snprintf(xlog, sizeof(xlog), "%s/bug_1.dlog", dir_in("bug"));
    snprintf(rlog, sizeof(rlog), "%s/repro.dlog", dir_in("bug"));
    struct cc_dlog_opts dop = {.n_vms = b->target.n_vms, .seed = b->target.seed,
                               .regs_every = 50, .source = "reproduce"};
    struct cc_dlog *d = NULL;
    rc = cc_dlog_create(rlog, &dop, &d, &err);
    if (rc == 0) {
        ro.play_dlog = d;
        rc = cc_bug_reproduce(b, &ro, &rp, &err);
        ro.play_dlog = NULL;
        int crc = cc_dlog_close(d, rc == 0 ? &err : NULL);
        rc = rc < 0 ? rc : crc;
    }
    ok(rc == 0 && rp.same, "it reproduces with a dlog of the play (%s)", rc ? err.msg : "ok");
    FILE *dn = fopen("/dev/null", "w");
    struct cc_dlog_diff_opts dfo = {.context = 3};
    rc = cc_dlog_diff(xlog, rlog, &dfo, dn ? dn : stderr, &err);
    if (dn)
        fclose(dn);
    ok(rc == 0, "the explorer's bug_1.dlog and the reproduction's log have the same records "
       "(dlog diff: %d%s%s)", rc, rc < 0 ? ", " : "", rc < 0 ? err.msg : "");
    struct cc_dlog_reader *rd = NULL;
    uint64_t nrec = 0, nend = 0, nfail = 0, nregs = 0;
    if (cc_dlog_open(xlog, &rd, &err) == 0) {
        struct cc_dlog_rec r;
        while (cc_dlog_next(rd, &r, &err) == 1) {
            nrec++;
            nend += r.type == CC_DLOG_MARK && r.kind == CC_DLOG_MARK_END;
            nregs += r.type == CC_DLOG_REGS;
            nfail += r.type == CC_DLOG_SDK && r.kind == CC_SDK_EV_FAILURE &&
                     r.vm == b->fail.vm && r.exit == b->fail.exit;
        }
        cc_dlog_reader_close(rd);
    }
    ok(nend == b->target.n_vms && nfail == 1 && nregs > 0,
       "bug_1.dlog: %" PRIu64 " records, an end mark per VM (%" PRIu64 "), register dumps "
       "(%" PRIu64 "), the failure at vm %u's exit %" PRIu64 " (%" PRIu64 ")", nrec, nend, nregs,
       b->fail.vm, b->fail.exit, nfail);

    struct cc_bug *nb = NULL;
    struct cc_minimize_stats ms;
    t0 = now_s();
    rc = cc_bug_minimize(b, &ro, NULL, NULL, &nb, &ms, &err);
    ok(rc == 0, "it minimizes (%s)", rc ? err.msg : "ok");
    if (rc == 0) {
        tap_diag("minimize: %zu -> %zu faults, %zu -> %zu overrides, %lu replays in %.1f s",
                 ms.faults_before, ms.faults_after, ms.overrides_before, ms.overrides_after,
                 ms.tests, now_s() - t0);
        ok(ms.faults_after >= 1 && ms.overrides_after >= 1 &&
           cc_recipe_size(nb->recipe) <= cc_recipe_size(b->recipe),
           "to a recipe no larger, which keeps a fault and an override (%zu + %zu)",
           ms.faults_after, ms.overrides_after);
        for (size_t i = 0; i < nb->recipe->n_ov; i++)
            tap_diag("  override vm %u life %" PRIu64 " choice #%" PRIu64 " = %" PRIu64,
                     nb->recipe->ov[i].vm, nb->recipe->ov[i].life, nb->recipe->ov[i].index,
                     nb->recipe->ov[i].value);
        for (size_t i = 0; i < cc_schedule_count(nb->recipe->sched); i++) {
            char line[300];
            cc_fault_describe(cc_schedule_get(nb->recipe->sched, i), line, sizeof(line));
            tap_diag("  fault at %.3f s: %s", cc_schedule_get(nb->recipe->sched, i)->at_ns / 1e9,
                     line);
        }
        check_needs_both(f, nb);
        rc = cc_bug_reproduce(nb, &ro, &rp, &err);
        ok(rc == 0 && rp.same, "the minimized bug reproduces in-process%s%s",
           rc ? err.msg : "", rp.same ? "" : rp.diff);
        snprintf(path, sizeof(path), "%s/min.json", dir_in("bug"));
        struct cc_bug *back = NULL;
        rc = cc_bug_save(nb, path, &err);
        if (rc == 0)
            rc = cc_bug_load(path, &back, &err);
        if (rc == 0)
            rc = cc_bug_reproduce(back, &ro, &rp, &err);
        ok(rc == 0 && rp.same, "and so does its file, saved and loaded back%s",
           rc ? err.msg : "");
        cc_bug_free(back);
        memset(&err, 0, sizeof(err));
        ok(cc_xtarget_check_boot(&nb->target, &err) < 0 && strstr(err.msg, "factory"),
           "the command line cannot run it, and says why: %s", err.msg);
    }
    cc_bug_free(nb);
    cc_bug_free(b);
    hb_free(f);
    free(f);
}

/* With the bug planted, faults alone and choices alone cannot reach it. */
static void test_one_sided(void)
{
    static const enum cc_xmode modes[] = {CC_XMODE_FAULT, CC_XMODE_INPUT};
    for (int i = 0; i < 2; i++) {
        struct hb_factory *f = malloc(sizeof(*f));
        hb_init(f, "tiny-heartbeat", F_TRACK | F_BUG | F_COV);
        struct cc_explore_opts o;
        opts_of(&o, dir_in(i ? "input" : "fault"), f, modes[i], ROUNDS, BRANCHES, XSEED);
        struct cc_explore_summary s;
        double wall;
        explore(&o, SEED, &s, &wall);
        ok(s.bugs == 0 && s.branches == ROUNDS * BRANCHES,
           "%s mode alone does not reach the bug (%" PRIu64 " branches in %.1f s, frontier "
           "%zu, %u bugs)", cc_xmode_name(modes[i]), s.branches, wall, s.frontier, s.bugs);
        hb_free(f);
        free(f);
    }
}

/* A VM that crashes before setup (VM 1 triple-faults) is an error naming
 * it, not an exploration with a dead VM in every branch (before: the run
 * to setup stopped once the VMs still running had set up). */
static void test_crash_before_setup(void)
{
    struct hb_factory *f = malloc(sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_COV | F_CRASH);
    struct cc_explore_opts o;
    opts_of(&o, dir_in("crash"), f, CC_XMODE_HYBRID, 1, 1, XSEED);
    struct cc_xtarget t;
    target_of(&t, SEED);
    struct cc_explorer *x = NULL;
    struct cc_err err = {0};
    int rc = cc_explorer_new(&t, &o, &x, &err);
    ok(rc < 0 && strstr(err.msg, "vm 1 is exited: triple-fault without completing setup"),
       "a VM that triple-faults before setup: the exploration does not start (%s)",
       rc < 0 ? err.msg : "it started");
    cc_explorer_free(x);
    hb_free(f);
    free(f);
}

static void test_control(void)
{
    struct hb_factory *f = malloc(sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_COV);
    struct cc_explore_opts o;
    opts_of(&o, dir_in("control"), f, CC_XMODE_HYBRID, ROUNDS, BRANCHES, XSEED);
    struct cc_explore_summary s;
    double wall;
    explore(&o, SEED, &s, &wall);
    tap_diag("control: %u rounds, %" PRIu64 " branches in %.1f s, frontier %zu, %zu edges, "
             "%zu assertion states", s.rounds_done, s.branches, wall, s.frontier, s.edges,
             s.assert_bits);
    ok(s.bugs == 0 && s.rounds_done == ROUNDS && s.branches == ROUNDS * BRANCHES,
       "the control (no planted bug) finds nothing in the same budget (%u bugs, %" PRIu64
       " branches)", s.bugs, s.branches);
    ok(s.frontier > 1 && s.assert_bits > 0, "though it explored: frontier %zu, %zu assertion "
       "states", s.frontier, s.assert_bits);
    hb_free(f);
    free(f);
}


/* ---- plateau detection and coverage.svg (issue 12) ---- */

struct row {
    unsigned round;
    long edges, new_edges, asserts, new_asserts, bugs;
    bool maxima;
};

/* The Rounds table of report.txt. */
static size_t parse_rows(const char *rep, struct row *rows, size_t cap)
{
    const char *p = strstr(rep, "\nround branches");
    size_t n = 0;
    if (!p)
        return 0;
    p = strchr(p + 1, '\n');
    while (p && p[1] && p[1] != '\n' && n < cap) {
        p++;
        struct row r = {0};
        double wall, rate;
        long br, fr, pts, remade, div;
        if (sscanf(p, "%u %ld %lf %lf %ld %ld %ld %ld %ld %ld %ld %ld %ld", &r.round, &br, &wall,
                   &rate, &r.edges, &r.new_edges, &r.asserts, &r.new_asserts, &fr, &pts,
                   &r.bugs, &remade, &div) != 13)
            break;
        const char *eol = strchr(p, '\n');
        const char *m = strstr(p, "new guidance maxima");
        r.maxima = m && (!eol || m < eol);
        rows[n++] = r;
        p = eol;
    }
    return n;
}

/* What report.txt must say about the plateau, from its own table. */
static void expected_plateau(const struct row *rows, size_t n, unsigned plateau_rounds,
                             char *out, size_t cap, unsigned *since)
{
    unsigned last = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].new_edges || rows[i].new_asserts || rows[i].bugs || rows[i].maxima)
            last = rows[i].round;
    unsigned done = n ? rows[n - 1].round : 0;
    *since = last < done ? last + 1 : 0;
    unsigned k = done + 1 - *since;
    if (!*since)
        snprintf(out, cap, "; still growing\n");
    else if (k >= plateau_rounds)
        snprintf(out, cap, "; PLATEAU since round %u (%u rounds without new coverage or bugs)\n",
                 *since, k);
    else
        snprintf(out, cap, "; nothing new for %u round(s)\n", k);
}

/* The points of the i-th polyline of an SVG text. */
static size_t polyline(const char *svg, int i, double *x, double *y, size_t cap)
{
    const char *p = svg;
    for (int k = 0; p && k <= i; k++) {
        p = strstr(p, "<polyline");
        if (p && k < i)
            p++;
    }
    if (!p || !(p = strstr(p, "points=\"")))
        return 0;
    p += 8;
    size_t n = 0;
    int used;
    while (n < cap && sscanf(p, "%lf,%lf %n", &x[n], &y[n], &used) == 2) {
        n++;
        p += used;
    }
    return n;
}

/* coverage.svg: two curves (edges, assertion states), one point per round
 * after a starting one, at the table's values scaled to the largest. */
static bool svg_matches(const char *svg, const struct row *rows, size_t n, char *why, size_t cap)
{
    const double T = 40, PH = 270;
    for (int c = 0; c < 2; c++) {
        double x[128], y[128];
        size_t m = polyline(svg, c, x, y, 128);
        if (m != n + 1) {
            snprintf(why, cap, "curve %d has %zu points for %zu rounds", c, m, n);
            return false;
        }
        double v[129], top = 0;
        v[0] = c ? rows[0].asserts - rows[0].new_asserts : rows[0].edges - rows[0].new_edges;
        for (size_t i = 0; i < n; i++)
            v[i + 1] = c ? rows[i].asserts : rows[i].edges;
        for (size_t i = 0; i <= n; i++)
            top = v[i] > top ? v[i] : top;
        if (top < 1)
            top = 1;
        for (size_t i = 0; i <= n; i++) {
            double want = T + PH * (1 - v[i] / top);
            if (y[i] - want > 0.06 || want - y[i] > 0.06 || (i && x[i] <= x[i - 1])) {
                snprintf(why, cap, "curve %d point %zu (%.1f,%.1f) for value %.0f: want y %.1f",
                         c, i, x[i], y[i], v[i], want);
                return false;
            }
        }
    }
    snprintf(why, cap, "both curves match");
    return true;
}

/* report.txt's plateau line and coverage.svg against the report's own
 * history table, and the state's plateau_since. */
static unsigned check_report(const char *dir, unsigned plateau_rounds, const char *when)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    char *rep = read_all(path);
    snprintf(path, sizeof(path), "%s/coverage.svg", dir);
    char *svg = read_all(path);
    struct row rows[64];
    size_t n = parse_rows(rep, rows, 64);
    char want[200];
    unsigned since;
    expected_plateau(rows, n, plateau_rounds, want, sizeof(want), &since);
    const char *cov = strstr(rep, "\ncoverage: ");
    const char *semi = cov ? strchr(cov, ';') : NULL;
    const char *eol = semi ? strchr(semi, '\n') : NULL;
    char got[200] = "";
    if (semi && eol)
        snprintf(got, sizeof(got), "%.*s", (int)(eol - semi + 1), semi);
    want[strlen(want) - 1] = 0;
    if (*got)
        got[strlen(got) - 1] = 0;
    ok(n > 0 && !strncmp(got, want, strlen(want)) && strlen(got) == strlen(want),
       "%s: report.txt says '%s' as its %zu-round history implies ('%s')", when, got + 2, n,
       want + 2);
    struct cc_xstate *st = NULL;
    struct cc_err err = {0};
    struct cc_explore_summary s = {0};
    if (cc_xstate_load(dir, &st, &err) == 0)
        cc_xstate_summary(st, &s);
    cc_xstate_free(st);
    ok(s.rounds_done == n && s.plateau_since == since, "%s: checkpoint.json agrees (plateau "
       "since %u, want %u)", when, s.plateau_since, since);
    char why[200];
    ok(n && svg_matches(svg, rows, n, why, sizeof(why)), "%s: coverage.svg plots the table: %s",
       when, n ? why : "no table");
    free(rep);
    free(svg);
    return since && n + 1 - since >= plateau_rounds ? since : 0;
}

static void test_plateau(void)
{
    struct hb_factory *f = malloc(sizeof(*f));
    hb_init(f, "tiny-heartbeat", F_TRACK | F_COV);
    const char *dir = dir_in("plateau");
    struct cc_explore_opts o;
    opts_of(&o, dir, f, CC_XMODE_FAULT, 2, 6, 11);
    o.plateau_rounds = 3;
    struct cc_explore_summary s;
    double wall;
    explore(&o, SEED, &s, &wall);
    tap_diag("plateau target: %u rounds in %.1f s, %zu edges, %zu assertion states",
             s.rounds_done, wall, s.edges, s.assert_bits);
    unsigned p1 = check_report(dir, 3, "after 2 rounds");
    char path[600];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    char *rep = read_all(path);
    struct row rows[8];
    size_t n = parse_rows(rep, rows, 8);
    free(rep);
    ok(n == 2 && (rows[0].new_edges > 0 || rows[0].new_asserts > 0) && !p1,
       "the first round grew coverage (+%ld edges, +%ld assertion states), no plateau yet",
       n ? rows[0].new_edges : -1, n ? rows[0].new_asserts : -1);
    /* resume (a factory target, through the library) for 6 more */
    o.rounds = 6;
    struct cc_explorer *x;
    struct cc_err err = {0};
    if (cc_explorer_resume(dir, &o, &x, &err) < 0 || cc_explorer_run(x, &err) < 0)
        tap_bail("resume: %s", err.msg);
    cc_explorer_free(x);
    unsigned p2 = check_report(dir, 3, "after resuming for 6 more");
    ok(p2 > 1, "the saturating target reached a plateau (since round %u)", p2);
    hb_free(f);
    free(f);
}

/* ---- guidance: new maxima are new coverage ---- */

static void test_guidance(void)
{
    for (int g = 1; g >= 0; g--) {
        struct hb_factory *f = malloc(sizeof(*f));
        hb_init(f, g ? "tiny-guided" : "tiny-flat", g ? F_GUIDE : 0);
        const char *dir = dir_in(g ? "guided" : "flat");
        struct cc_explore_opts o;
        opts_of(&o, dir, f, CC_XMODE_FAULT, 3, 6, 13);
        o.plateau_rounds = 2;
        struct cc_explore_summary s;
        double wall;
        explore(&o, SEED, &s, &wall);
        struct cc_xstate *st = NULL;
        struct cc_err err = {0};
        if (cc_xstate_load(dir, &st, &err) < 0)
            tap_bail("%s", err.msg);
        char *text = cc_xstate_to_json(st);
        char path[600];
        snprintf(path, sizeof(path), "%s/report.txt", dir);
        char *rep = read_all(path);
        if (g) {
            const char *m = text ? strstr(text, "\"guidance\"") : NULL;
            long max = -1;
            if (m && (m = strstr(m, "\"max\": ")))
                max = strtol(m + 7, NULL, 10);
            tap_diag("guided: frontier %zu, longest silence %ld ticks, %.1f s", s.frontier,
                     max, wall);
            ok(s.edges == 0 && s.assert_bits == 0 && s.frontier > 1,
               "guidance alone (no edges, no assertion states) grows the frontier to %zu "
               "points", s.frontier);
            ok(max > SUSPECT_TICKS && strstr(rep, "guidance: \"longest silence (ticks)\": "
                                                  "largest value") && strstr(rep, "new guidance maxima"),
               "checkpoint and report hold the largest value (%ld ticks) and the rounds that "
               "raised it", max);
            ok(!s.plateau_since || s.plateau_since > 1, "a round that raised a maximum is no "
               "plateau (plateau since %u)", s.plateau_since);
        } else {
            ok(s.frontier == 1 && s.edges == 0 && s.assert_bits == 0 && s.plateau_since == 1 &&
               !strstr(text, "\"guidance\""), "the same target without guidance stays at the "
               "root (frontier %zu) and is a plateau from round 1 (%u)", s.frontier,
               s.plateau_since);
            check_report(dir, 2, "flat target");
        }
        free(rep);
        free(text);
        cc_xstate_free(st);
        hb_free(f);
        free(f);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/cc-explore-kvm-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    tap_plan(0);
    test_find();
    test_one_sided();
    test_crash_before_setup();
    test_control();
    test_plateau();
    test_guidance();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (!getenv("EXPLORE_KEEP") && system(cmd) != 0)
        tap_diag("could not remove %s", tmpdir);
    return tap_exit();
}
