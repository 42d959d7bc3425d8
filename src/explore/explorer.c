/* The explorer: set-up (boot, or resume from a checkpoint) and the rounds
 * of branches (see chaoscontrol/explore.h).
 *
 * One simulation object lives for the whole exploration; every branch
 * restores a point's snapshot into it (cheap: each VM drops the pages it
 * dirtied), sets the branch's recipe and runs one window of virtual time
 * (branch.c). What the exploration knows is its state object
 * (state_internal.h); after every round it is written as checkpoint.json
 * and rendered as the report (checkpoint.c, report.c). The run-time side
 * (hot snapshots, picking) is frontier.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chaoscontrol/dlog.h"
#include "explore/explorer_internal.h"

void cc_explore_opts_default(struct cc_explore_opts *o)
{
    struct xsettings s;
    xsettings_default(&s);
    *o = (struct cc_explore_opts){
        .rounds = 10, .branches = s.branches, .mode = s.mode, .seed = s.seed,
        .branch_ns = s.branch_ns, .frontier_max = s.frontier_max, .hot_max = s.hot_max,
        .max_faults = s.max_faults, .choice_k = s.choice_k,
        .stop_after_bugs = s.stop_after_bugs, .plateau_rounds = s.plateau_rounds,
        .react_percent = s.react_percent, .clients = s.clients, .weights = s.weights,
        .dlog_regs = CC_DLOG_DEFAULT_REGS_EVERY,
    };
}

/* ---- set-up ---- */

static int make_dir(const char *dir, struct cc_err *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cc_err_set(err, errno, "cannot create output directory '%s': %s", dir,
                          strerror(errno));
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return cc_err_set(err, ENOTDIR, "'%s' is not a directory", dir);
    return 0;
}

/* The catalog and the coverage and guidance of setup: every catalog entry
 * is in the table from the start, so entries no branch ever reaches are
 * reported as unexercised, by name; setup coverage is not the branches'
 * merit. */
static int take_setup(struct cc_explorer *x, struct cc_sim *sim, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    bool oom = false;
    for (unsigned i = 0; i < st->target.n_vms; i++) {
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(cc_sim_vm(sim, i), &n);
        for (size_t k = 0; k < n; k++)
            if (xstate_assert_index(st, &a[k]) < 0)
                return cc_err_set(err, ENOMEM, "out of memory");
        const struct cc_guidance *g = cc_vm_guidance(cc_sim_vm(sim, i), &n);
        for (size_t k = 0; k < n; k++)
            if (g[k].maximize)
                xstate_guidance_raise(st, g[k].message, g[k].best, &oom);
    }
    if (st->target.checker) {
        /* the history checker's row, unexercised until a branch is judged */
        struct cc_assertion a;
        xcheck_assertion(st->target.checker, false, &a);
        if (xstate_assert_index(st, &a) < 0)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct xcov *c = malloc(sizeof(*c));
    if (!c || oom) {
        free(c);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    xcov_clear(c);
    for (unsigned i = 0; i < st->target.n_vms; i++)
        xcov_add_edges(c, cc_vm_coverage(cc_sim_vm(sim, i)));
    covmap_merge(&st->cov, c, NULL);
    free(c);
    return 0;
}

/* Boot, snapshot at setup, and make the root point (its coverage, the
 * setup's, counts as seen). */
static int boot(struct cc_explorer *x, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.log = x->o.log;
    ro.log_opaque = x->o.log_opaque;
    ro.factory = x->o.factory;
    int rc = cc_xrun_boot(&st->target, &ro, &x->run, err);
    if (rc < 0)
        return rc;
    struct cc_sim *sim = cc_xrun_sim(x->run);
    if (st->setup_ns && st->setup_ns != xrun_setup_ns(x->run))
        return cc_err_set(err, EIO, "this boot reached setup at %" PRIu64 " ns, the checkpoint's "
                          "at %" PRIu64 " ns: the run is not deterministic (or the target "
                          "changed)", xrun_setup_ns(x->run), st->setup_ns);
    st->setup_ns = xrun_setup_ns(x->run);
    struct xpoint *root = NULL;
    if (frontier_reserve(x, st->n_pts) == 0)
        root = st->n_pts ? &st->pts[0] : frontier_add(x);
    if (!root)
        return cc_err_set(err, ENOMEM, "out of memory");
    uint64_t want_hash = root->sim_hash;
    bool had = st->n_pts && root->recipe;
    frontier_facts(sim, root);
    if (had && want_hash != root->sim_hash)
        return cc_err_set(err, EIO, "this boot's simulation hash at setup (%016" PRIx64 ") is "
                          "not the checkpoint's (%016" PRIx64 "): the run is not deterministic "
                          "(or the target changed)", root->sim_hash, want_hash);
    if (!root->recipe) {
        root->recipe = cc_recipe_new();
        if (!root->recipe)
            return cc_err_set(err, ENOMEM, "out of memory");
        root->recipe->end_ns = st->setup_ns;
    }
    root->in_frontier = true;
    cc_sim_snapshot_get(xrun_root(x->run));
    frontier_hot(x, root)->snap = xrun_root(x->run);
    return take_setup(x, sim, err);
}

static struct cc_explorer *explorer_alloc(const char *dir, const struct cc_explore_opts *o)
{
    struct cc_explorer *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->o = *o;
    x->snap_budget = frontier_snapshot_budget(o);
    x->dir = strdup(dir);
    x->o.output = x->dir;
    x->t_start = explore_now();
    if (!x->dir) {
        free(x);
        return NULL;
    }
    return x;
}

int cc_explorer_new(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                    struct cc_explorer **out, struct cc_err *err)
{
    *out = NULL;
    if (!o->output)
        return cc_err_set(err, EINVAL, "no output directory given");
    if (!o->branches || !o->branch_ns || !o->frontier_max)
        return cc_err_set(err, EINVAL, "branches, branch time and frontier size must be > 0");
    if (t->factory && (!o->factory || !o->factory->name || strcmp(t->factory, o->factory->name)))
        return cc_err_set(err, EINVAL, "the target names factory '%s', which was not given",
                          t->factory);
    int rc = make_dir(o->output, err);
    if (rc < 0)
        return rc;
    char path[4200];
    snprintf(path, sizeof(path), "%s/checkpoint.json", o->output);
    struct stat sb;
    if (stat(path, &sb) == 0)
        return cc_err_set(err, EEXIST, "'%s' already holds an exploration (%s): continue it "
                          "with 'explore resume --corpus %s', or use another --output", o->output,
                          path, o->output);
    struct cc_xtarget tt = *t;
    if (o->factory)
        tt.factory = o->factory->name;
    struct xsettings set;
    xsettings_from_opts(&set, o);
    struct cc_explorer *x = explorer_alloc(o->output, o);
    if (x)
        x->st = xstate_new(&tt, &set);
    if (!x || !x->st) {
        cc_explorer_free(x);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    rc = cc_xtarget_hash(&x->st->target, err);
    if (rc == 0)
        rc = boot(x, err);
    if (rc < 0) {
        cc_explorer_free(x);
        return rc;
    }
    x->rounds_target = o->rounds;
    *out = x;
    return 0;
}

int explorer_boot_state(struct cc_xstate *st, const char *dir, const struct cc_explore_opts *o,
                        struct cc_explorer **out, struct cc_err *err)
{
    *out = NULL;
    int rc = make_dir(dir, err);
    if (rc < 0) {
        cc_xstate_free(st);
        return rc;
    }
    struct cc_explorer *x = explorer_alloc(dir, o);
    if (!x) {
        cc_xstate_free(st);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    x->st = st;
    rc = boot(x, err);
    if (rc < 0) {
        cc_explorer_free(x);
        return rc;
    }
    *out = x;
    return 0;
}

int cc_explorer_resume(const char *dir, const struct cc_explore_opts *o,
                       struct cc_explorer **out, struct cc_err *err)
{
    *out = NULL;
    struct cc_explorer *x = explorer_alloc(dir, o);
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    int rc = checkpoint_load(dir, &x->st, err);
    if (rc == 0) {
        struct cc_xstate *st = x->st;
        /* run-time knobs from the caller (x->o); the rest from the state */
        if (o->stop_after_bugs)
            st->set.stop_after_bugs = o->stop_after_bugs;
        x->wall_before = st->wall_s;
        x->rounds_target = st->rounds_done + o->rounds;
        rc = cc_xtarget_check(&st->target, err);
    }
    if (rc == 0 && x->st->target.factory && !o->factory)
        rc = cc_err_set(err, EINVAL, "%s: the exploration's target is made by code (factory "
                        "'%s'): resume it from a program that has the factory "
                        "(cc_explore_opts.factory)", dir, x->st->target.factory);
    if (rc == 0)
        rc = checkpoint_adopt_bugs(x->st, dir, o->log, o->log_opaque, err);
    if (rc == 0)
        rc = boot(x, err);
    if (rc < 0) {
        cc_explorer_free(x);
        return rc;
    }
    if (x->st->set.stop_after_bugs && x->st->n_bugs >= x->st->set.stop_after_bugs)
        x->stop = true;
    *out = x;
    return 0;
}

/* ---- rounds ---- */

static void progress(struct cc_explorer *x, unsigned round, unsigned b, double t0,
                     uint64_t b0)
{
    if (!x->o.progress)
        return;
    const struct cc_xstate *st = x->st;
    double dt = explore_now() - t0;
    double rate = dt > 0 ? (double)(st->branches_done - b0) / dt : 0;
    char line[256];
    snprintf(line, sizeof(line), "round %u/%u  branch %u/%u  %.2f branches/s  edges %zu  "
             "assert-states %zu  frontier %zu  bugs %zu", round, x->rounds_target, b,
             st->set.branches, rate, covmap_edges(&st->cov), covmap_assert_bits(&st->cov),
             xstate_frontier_size(st), st->n_bugs);
    x->o.progress(x->o.log_opaque, line);
}

/* The state to the files: checkpoint.json, report.txt and friends. */
static int save(struct cc_explorer *x, bool checkpoint, struct cc_err *err)
{
    x->st->wall_s = explorer_wall(x);
    int rc = report_write(x->st, x->dir, err);
    if (rc == 0 && checkpoint)
        rc = checkpoint_save(x->st, x->dir, err);
    return rc;
}

/* After a round: its line in the history, the plateau, the files. */
static int end_round(struct cc_explorer *x, unsigned round, const struct xround *start,
                     const struct round_stats *rs, double t0, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    st->rounds_done = round;
    struct xround h = {
        .round = round, .branches = st->branches_done - start->branches,
        .wall_s = explore_now() - t0, .edges = covmap_edges(&st->cov),
        .new_edges = covmap_edges(&st->cov) - start->edges,
        .assert_bits = covmap_assert_bits(&st->cov),
        .new_assert_bits = covmap_assert_bits(&st->cov) - start->assert_bits,
        .frontier = xstate_frontier_size(st), .bugs = (unsigned)(st->n_bugs - start->bugs),
        .new_points = rs->new_points, .materialized = x->materialized,
        .diverged = x->diverged, .new_maxima = rs->new_maxima,
    };
    if (xstate_round_add(st, &h) < 0)
        return cc_err_set(err, ENOMEM, "out of memory");
    if (h.new_edges || h.new_assert_bits || h.bugs || h.new_maxima)
        st->plateau_since = 0;
    else if (!st->plateau_since)
        st->plateau_since = round;
    int rc = save(x, true, err);
    if (x->o.progress)
        x->o.progress(x->o.log_opaque, "");
    explorer_log(x, "round %u: %" PRIu64 " branches in %.1f s (%.2f/s), edges %zu (+%zu), "
                 "assertion states %zu (+%zu), frontier %zu (+%u new), bugs %zu",
                 round, h.branches, h.wall_s, h.wall_s > 0 ? h.branches / h.wall_s : 0,
                 h.edges, h.new_edges, h.assert_bits, h.new_assert_bits, h.frontier,
                 h.new_points, st->n_bugs);
    return rc;
}

/* The time limit or an interrupt (cc_explore_opts): true, after saying so,
 * when the exploration should stop after branch b of this round. */
static bool cut_short(struct cc_explorer *x, unsigned round, unsigned b)
{
    const char *why = NULL;
    if (x->o.interrupt && *x->o.interrupt)
        why = "interrupted";
    else if (x->o.time_limit_s > 0 && explore_now() - x->t_start >= x->o.time_limit_s)
        why = "time limit reached";
    if (!why)
        return false;
    explorer_log(x, "%s: stopping after branch %u of round %u (%.0f s)", why, b, round,
                 explore_now() - x->t_start);
    return true;
}

int cc_explorer_run(struct cc_explorer *x, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    /* files exist from the start, so a watcher sees the run */
    int rc = save(x, true, err);
    while (rc == 0 && !x->stop && st->rounds_done < x->rounds_target) {
        unsigned round = st->rounds_done + 1;
        struct xmut *m = xmut_new(xseed_mix(st->set.seed, 0x9e3779b97f4a7c15ull, round),
                                  &st->set.weights);
        if (!m)
            return cc_err_set(err, ENOMEM, "out of memory");
        double t0 = explore_now();
        struct xround start = {.branches = st->branches_done, .edges = covmap_edges(&st->cov),
                               .assert_bits = covmap_assert_bits(&st->cov),
                               .bugs = (unsigned)st->n_bugs};
        struct round_stats rs = {0};
        x->materialized = x->diverged = 0;
        for (unsigned b = 0; b < st->set.branches && rc == 0 && !x->stop; b++) {
            progress(x, round, b + 1, t0, start.branches);
            rc = branch_run(x, m, &rs, err);
            if (rc == 0 && !x->stop && cut_short(x, round, b + 1))
                x->stop = true;
        }
        xmut_free(m);
        if (rc < 0)
            break;
        rc = end_round(x, round, &start, &rs, t0, err);
    }
    if (x->o.progress)
        x->o.progress(x->o.log_opaque, "");
    if (rc == 0 && x->stop) {
        /* the round was cut short: save what there is */
        rc = save(x, false, err);
    }
    return rc;
}

void cc_explorer_summary(const struct cc_explorer *x, struct cc_explore_summary *s)
{
    cc_xstate_summary(x->st, s);
    s->wall_s = explorer_wall(x);
}

const struct cc_xstate *cc_explorer_state(const struct cc_explorer *x)
{
    return x->st;
}

void cc_explorer_free(struct cc_explorer *x)
{
    if (!x)
        return;
    frontier_free(x);
    cc_xstate_free(x->st);
    cc_xrun_free(x->run);
    free(x->dir);
    free(x);
}
