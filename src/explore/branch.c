/* One branch of the exploration: pick a point, mutate its recipe (faults,
 * choice overrides, maybe a reactive rule), put the simulation there, run
 * one window of virtual time while collecting coverage (edges, assertion
 * states, guidance maxima) and the assertion counts, then record what the
 * branch found: a bug file, new frontier points at its end and where it
 * first reached a new assertion state inside the window. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/dlog.h"
#include "explore/explorer_internal.h"

struct acount {
    uint64_t id, hits, passes, fails;
};

struct bctx {
    struct cc_explorer *x;
    struct xcov *cov;
    /* per VM: counts at the segment's start and the restart count then */
    struct acount *base[CC_SIM_MAX_VMS];
    size_t nbase[CC_SIM_MAX_VMS];
    uint64_t restarts[CC_SIM_MAX_VMS];
    /* this branch's deltas per assertion table index */
    uint64_t *d_hits, *d_passes, *d_fails, *vms;
    size_t nd;
    bool oom;
    unsigned new_maxima;            /* guidance maxima this branch raised */
    /* the reactive rule, if the branch has one, and the recipe it adds to */
    struct xreact *react;
    struct cc_recipe *recipe;
    uint64_t sent[CC_SIM_MAX_VMS * CC_SIM_MAX_VMS];
    unsigned injected;
    /* the first look (every 10 ms, at a quantum boundary of the run) where
     * the branch had reached an assertion state never seen before: a point
     * is made there too, so that the next branches start right after the
     * new state rather than up to a window later */
    uint64_t mid_from, mid_until, mid_next_look;
    unsigned n_mid;
    struct xpoint mid[XP_MID_MAX];  /* facts at those boundaries */
    size_t mid_bits[XP_MID_MAX];    /* new assertion bits at each */
    uint8_t mid_seen[XCOV_ASSERT_SIZE];     /* bits the points so far have */
    uint8_t scratch[XCOV_ASSERT_SIZE];
};

/* What a branch is about to run. */
struct plan {
    uint64_t pid, bid;              /* the picked point and the one the window starts from */
    enum cc_xmode kind;
    struct cc_recipe *recipe;
    struct xpoint_info info;
    bool reactive;
    struct xreact react;
};

/* How many assertion-state bits has the branch, by now, that neither the
 * exploration nor this branch's earlier mid points have (any VM)? Those
 * bits go to b->scratch. Deltas as in seg_after. */
static size_t new_assert_state(struct bctx *b, struct cc_sim *sim)
{
    const struct covmap *cov = &b->x->st->cov;
    memset(b->scratch, 0, sizeof(b->scratch));
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        bool restarted = st.restarts != b->restarts[i];
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(cc_sim_vm(sim, i), &n);
        for (size_t k = 0; k < n; k++) {
            uint64_t h = a[k].hits, p = a[k].passes;
            if (!restarted)
                for (size_t j = 0; j < b->nbase[i]; j++)
                    if (b->base[i][j].id == a[k].id) {
                        h -= b->base[i][j].hits < h ? b->base[i][j].hits : h;
                        p -= b->base[i][j].passes < p ? b->base[i][j].passes : p;
                        break;
                    }
            unsigned bits = (h ? XCOV_HIT : 0) | (p ? XCOV_PASS : 0);
            b->scratch[xcov_assert_slot(a[k].id, i)] |= (uint8_t)bits;
        }
    }
    /* and the slots of earlier segments of this branch */
    size_t n = 0;
    for (size_t j = 0; j < XCOV_ASSERT_SIZE; j++) {
        b->scratch[j] |= b->cov->asserts[j] & (XCOV_HIT | XCOV_PASS);
        b->scratch[j] &= (uint8_t)~(cov->asserts[j] | b->mid_seen[j]);
        n += (size_t)__builtin_popcount(b->scratch[j]);
    }
    return n;
}

static void look_for_mid_point(struct bctx *b, struct cc_sim *sim, uint64_t now)
{
    if (b->n_mid >= XP_MID_MAX || now < b->mid_next_look || now <= b->mid_from ||
        now >= b->mid_until)
        return;
    b->mid_next_look = now + XREACT_CHECK_NS;
    /* faults due now are not applied yet: keep clear of them, so the point's
     * recipe (faults up to now) and its state agree without a doubt */
    const struct cc_schedule *sc = cc_sim_schedule(sim);
    size_t i = cc_schedule_first_at(sc, now);
    if (i < cc_schedule_count(sc) && cc_schedule_get(sc, i)->at_ns == now)
        return;
    size_t bits = new_assert_state(b, sim);
    if (!bits)
        return;
    for (size_t j = 0; j < XCOV_ASSERT_SIZE; j++)
        b->mid_seen[j] |= b->scratch[j];
    b->mid_bits[b->n_mid] = bits;
    frontier_facts(sim, &b->mid[b->n_mid++]);
}

/* At every quantum boundary: feed the reactive rule the links' send
 * counters; a firing becomes a fault now, in the simulation and in the
 * recipe alike (so the recipe replays what ran). */
static void on_boundary(void *opaque, struct cc_sim *sim)
{
    struct bctx *b = opaque;
    uint64_t now = cc_sim_now(sim);
    look_for_mid_point(b, sim, now);
    if (!b->react || !xreact_due(b->react, now))
        return;
    unsigned n = cc_sim_vm_count(sim);
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            struct cc_link_stats st = {0};
            if (i != j)
                cc_sim_link_stats(sim, i, j, &st);
            b->sent[i * n + j] = st.sent;
        }
    uint64_t alone = 0;
    for (unsigned i = 0; i < n; i++) {
        bool any = false;
        for (unsigned j = 0; j < n && !any; j++)
            any = j != i && cc_sim_connected(sim, i, j);
        if (!any)
            alone |= 1ull << i;
    }
    struct cc_fault f;
    if (xreact_look(b->react, now, b->sent, alone, &f) != 1)
        return;
    struct cc_err e = {0};
    if (cc_sim_inject_fault(sim, &f, &e) < 0)
        return;                     /* not applied: not recorded either */
    if (cc_schedule_add(b->recipe->sched, &f, &e) < 0)
        b->oom = true;              /* the recipe would not replay the run */
    else
        b->injected++;
}

static void seg_before(void *opaque, struct cc_sim *sim, uint64_t seg_end)
{
    struct bctx *b = opaque;
    (void)seg_end;
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_vm *vm = cc_sim_vm(sim, i);
        cc_vm_coverage_clear(vm);
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        b->restarts[i] = st.restarts;
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(vm, &n);
        struct acount *c = realloc(b->base[i], (n ? n : 1) * sizeof(*c));
        if (!c) {
            b->oom = true;
            b->nbase[i] = 0;
            continue;
        }
        b->base[i] = c;
        for (size_t k = 0; k < n; k++)
            c[k] = (struct acount){a[k].id, a[k].hits, a[k].passes, a[k].fails};
        b->nbase[i] = n;
    }
}

static bool grow_deltas(struct bctx *b, size_t n)
{
    if (n <= b->nd)
        return true;
    uint64_t **arr[] = {&b->d_hits, &b->d_passes, &b->d_fails, &b->vms};
    for (size_t k = 0; k < 4; k++) {
        uint64_t *p = realloc(*arr[k], n * sizeof(uint64_t));
        if (!p)
            return false;
        memset(p + b->nd, 0, (n - b->nd) * sizeof(uint64_t));
        *arr[k] = p;
    }
    b->nd = n;
    return true;
}

/* cc_guidance_maximize values: a value above the exploration's largest so
 * far (any VM, any branch, setup included) is new coverage. */
static void collect_guidance(struct bctx *b, struct cc_vm *vm)
{
    size_t n;
    const struct cc_guidance *g = cc_vm_guidance(vm, &n);
    for (size_t k = 0; k < n; k++)
        if (g[k].maximize && xstate_guidance_raise(b->x->st, g[k].message, g[k].best, &b->oom))
            b->new_maxima++;
}

static void seg_after(void *opaque, struct cc_sim *sim)
{
    struct bctx *b = opaque;
    struct cc_xstate *xs = b->x->st;
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_vm *vm = cc_sim_vm(sim, i);
        xcov_add_edges(b->cov, cc_vm_coverage(vm));
        collect_guidance(b, vm);
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        bool restarted = st.restarts != b->restarts[i];
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(vm, &n);
        for (size_t k = 0; k < n; k++) {
            uint64_t h = a[k].hits, p = a[k].passes, f = a[k].fails;
            if (!restarted) {
                for (size_t j = 0; j < b->nbase[i]; j++) {
                    if (b->base[i][j].id != a[k].id)
                        continue;
                    h -= b->base[i][j].hits < h ? b->base[i][j].hits : h;
                    p -= b->base[i][j].passes < p ? b->base[i][j].passes : p;
                    f -= b->base[i][j].fails < f ? b->base[i][j].fails : f;
                    break;
                }
            }
            if (!h && !p && !f)
                continue;
            int idx = xstate_assert_index(xs, &a[k]);
            if (idx < 0 || !grow_deltas(b, xs->n_as)) {
                b->oom = true;
                continue;
            }
            b->d_hits[idx] += h;
            b->d_passes[idx] += p;
            b->d_fails[idx] += f;
            b->vms[idx] |= 1ull << i;
            unsigned bits = (h ? XCOV_HIT : 0) | (p ? XCOV_PASS : 0) | (f ? XCOV_FAIL : 0);
            xcov_add_assert(b->cov, a[k].id, i, bits);
        }
    }
}

static void bctx_free(struct bctx *b)
{
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        free(b->base[i]);
    free(b->d_hits);
    free(b->d_passes);
    free(b->d_fails);
    free(b->vms);
    free(b->cov);
    free(b);
}

/* Fold a branch's deltas into the merged table and the count buckets. */
static void fold_deltas(struct cc_xstate *st, struct bctx *b, bool failed)
{
    for (size_t i = 0; i < b->nd && i < st->n_as; i++) {
        struct xassert *e = &st->as[i];
        if (!b->d_hits[i] && !b->d_passes[i] && !b->d_fails[i])
            continue;
        e->hits += b->d_hits[i];
        e->passes += b->d_passes[i];
        e->fails += b->d_fails[i];
        e->branches_hit++;
        e->vms_hit |= b->vms[i];
        if (b->d_fails[i] && failed)
            e->branches_failed++;
        if (e->kind == CC_ASSERT_SOMETIMES || e->kind == CC_ASSERT_REACHABLE)
            xcov_add_assert_count(b->cov, e->id, b->d_passes[i]);
    }
}

/* The recipe of a failure: r up to the failure's time. */
static struct cc_recipe *bug_recipe(const struct cc_recipe *r, uint64_t end)
{
    struct cc_recipe *br = cc_recipe_clone(r);
    if (!br)
        return NULL;
    br->end_ns = end;
    size_t k = 0;
    while (k < br->n_stops && br->stops[k] < br->end_ns)
        k++;
    br->n_stops = k;
    cc_recipe_add_stop(br, br->end_ns);
    /* faults after the failure never happened: not part of the bug */
    for (size_t i = cc_schedule_count(br->sched); i-- > 0;)
        if (cc_schedule_get(br->sched, i)->at_ns > br->end_ns)
            cc_schedule_remove(br->sched, i);
    return br;
}

/* dlog_bugs: the bug's recipe replayed from the setup snapshot with a dlog
 * on, into bug_N.dlog beside the bug file (dpath; written under a
 * temporary name, fsynced and renamed into place by cc_dlog_close). The
 * same records as `reproduce --bug F --dlog D` (both attach the log at
 * setup: xrun_play_dlog). Sets *written when the file is in place. A
 * replay that does not fail as the branch did leaves no file (the log
 * would not be of the bug's execution) and a warning; so does a file that
 * cannot be written. < 0 only when the simulation itself failed. */
static int write_bug_dlog(struct cc_explorer *x, const struct cc_bug *b, const char *dpath,
                          bool *written, struct cc_err *err)
{
    *written = false;
    struct cc_dlog_opts o = {.n_vms = b->target.n_vms, .seed = b->target.seed,
                             .regs_every = x->o.dlog_regs, .source = "explore"};
    struct cc_dlog *d;
    struct cc_err e2 = {0};
    if (cc_dlog_create(dpath, &o, &d, &e2) < 0) {
        explorer_log(x, "warning: bug %u: no dlog: %s", b->number, e2.msg);
        return 0;
    }
    struct cc_xrun_result res;
    int rc = cc_sim_restore(cc_xrun_sim(x->run), xrun_root(x->run), err);
    if (rc == 0)
        rc = xrun_play_dlog(x->run, b->recipe, d, &res, err);
    if (rc < 0) {
        cc_dlog_abort(d);
        return cc_err_prefix(err, "bug %u: replaying it for %s", b->number, dpath);
    }
    struct cc_repro rp;
    cc_bug_compare(b, &res, &rp);
    if (!rp.same) {
        cc_dlog_abort(d);
        explorer_log(x, "warning: bug %u: no dlog: the replay from setup did not fail the "
                     "same way (%s): the run is not deterministic here", b->number, rp.diff);
        return 0;
    }
    if (cc_dlog_close(d, &e2) < 0) {
        explorer_log(x, "warning: bug %u: no dlog: %s", b->number, e2.msg);
        return 0;
    }
    *written = true;
    return 0;
}

static int record_bug(struct cc_explorer *x, const struct cc_recipe *r,
                      const struct cc_xrun_result *res, enum cc_xmode mode, struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    for (size_t i = 0; i < st->n_bugs; i++) {
        if (st->bugs[i].id == res->fail.id) {
            st->bugs[i].dups++;
            return 0;
        }
    }
    struct cc_recipe *br = bug_recipe(r, res->fail.sim_ns);
    if (!br)
        return cc_err_set(err, ENOMEM, "out of memory");
    struct cc_bug b = {0};
    b.number = st->max_bug_number + 1;
    b.target = st->target;
    b.recipe = br;
    b.fail = res->fail;
    b.round = st->rounds_done + 1;
    b.branch = st->branches_done;
    b.wall_s = explorer_wall(x);
    b.mode = mode;
    memcpy(b.choices, res->choices, sizeof(b.choices));
    char path[4200];
    snprintf(path, sizeof(path), "%s/bug_%u.json", x->dir, b.number);
    int rc = 0;
    if (xbug_take_history(&b, xrun_check_out(x->run), cc_xrun_sim(x->run), res->hist_ops) < 0)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    /* bug_3.json -> bug_3.dlog, before the bug file (whose report names it) */
    char dpath[4200];
    snprintf(dpath, sizeof(dpath), "%.*s.dlog", (int)xbug_stem(path), path);
    bool dlog_written = false;
    if (rc == 0 && x->o.dlog_bugs)
        rc = write_bug_dlog(x, &b, dpath, &dlog_written, err);
    if (dlog_written) {
        const char *base = strrchr(dpath, '/');
        b.dlog_file = base ? (char *)base + 1 : dpath;
    }
    if (rc == 0)
        rc = cc_bug_save(&b, path, err);
    free(b.history_file);
    free(b.history_explain);
    free(b.history_witness);
    free(b.history_text);
    char where[400];
    snprintf(where, sizeof(where), "%s:%u", b.fail.file, b.fail.line);
    struct xbug xb = {
        .number = b.number, .id = b.fail.id, .vm = b.fail.vm, .message = b.fail.message,
        .where = where, .round = (unsigned)b.round, .branch = b.branch, .wall_s = b.wall_s,
        .sim_ns = b.fail.sim_ns, .size = cc_recipe_size(br),
    };
    if (rc == 0 && xstate_bug_add(st, &xb) < 0)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    if (rc == 0 && !x->worker) {
        explorer_log(x, "bug %u: vm %u: %s \"%s\" at %s:%u (round %u, branch %" PRIu64 ", "
                     "%.1f s; %zu faults, %zu overrides) -> %s%s%s", b.number, b.fail.vm,
                     cc_kind_name(b.fail.kind), b.fail.message, b.fail.file, b.fail.line,
                     xb.round, b.branch, b.wall_s, cc_schedule_count(br->sched), br->n_ov, path,
                     dlog_written ? ", " : "", dlog_written ? dpath : "");
        if (st->set.stop_after_bugs && st->n_bugs >= st->set.stop_after_bugs)
            x->stop = true;
    }
    cc_recipe_free(br);
    return rc;
}

/* r cut at p->t, a quantum boundary of the run r made with no fault due
 * then: the faults up to p->t, the stops before it and p->t itself, and the
 * overrides used by then. Replaying it gives the state that run had at
 * p->t. */
static struct cc_recipe *recipe_cut(const struct cc_recipe *r, const struct xpoint *p)
{
    struct cc_recipe *c = cc_recipe_clone(r);
    if (!c)
        return NULL;
    for (size_t i = cc_schedule_count(c->sched); i-- > 0;)
        if (cc_schedule_get(c->sched, i)->at_ns > p->t)
            cc_schedule_remove(c->sched, i);
    size_t k = 0;
    while (k < c->n_stops && c->stops[k] < p->t)
        k++;
    c->n_stops = k;
    if (cc_recipe_add_stop(c, p->t) < 0) {
        cc_recipe_free(c);
        return NULL;
    }
    c->end_ns = p->t;
    size_t w = 0;
    for (size_t i = 0; i < c->n_ov; i++) {
        const struct cc_xoverride *o = &c->ov[i];
        if (o->life < p->life[o->vm] ||
            (o->life == p->life[o->vm] && o->index < p->next_choice[o->vm]))
            c->ov[w++] = *o;
    }
    c->n_ov = w;
    return c;
}

/* A frontier point without a snapshot (made on demand by replay). */
static int add_mid_point(struct cc_explorer *x, uint64_t bid, const struct cc_recipe *r,
                         const struct xpoint *facts, size_t new_bits,
                         const struct xnovelty *nv, struct cc_err *err)
{
    struct cc_recipe *mr = recipe_cut(r, facts);
    struct xpoint *mp = mr ? frontier_add(x) : NULL;
    if (!mp) {
        cc_recipe_free(mr);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct xpoint *base = xstate_point_find(x->st, bid);
    mp->parent = bid;
    mp->recipe = mr;
    mp->t = facts->t;
    mp->sim_hash = facts->sim_hash;
    memcpy(mp->life, facts->life, sizeof(mp->life));
    memcpy(mp->next_choice, facts->next_choice, sizeof(mp->next_choice));
    memcpy(mp->alive, facts->alive, sizeof(mp->alive));
    mp->round = x->st->rounds_done + 1;
    mp->depth = base->depth + 1;
    double score = 4.0 * (double)new_bits;
    mp->score = score > 60 ? 60 : score;
    mp->n_slots = nv->n_assert_slots < XP_SLOTS ? nv->n_assert_slots : XP_SLOTS;
    memcpy(mp->slots, nv->assert_slots, mp->n_slots * sizeof(mp->slots[0]));
    mp->in_frontier = true;
    frontier_hot(x, mp)->last_used = ++x->clock;
    x->st->mid_points++;
    frontier_trim(x, mp);
    return 0;
}

/* The branch's end as a new hot point (the recipe is taken). */
static int add_end_point(struct cc_explorer *x, uint64_t bid, struct cc_recipe *r,
                         const struct xnovelty *nv, struct round_stats *rs, struct cc_err *err)
{
    struct cc_sim *sim = cc_xrun_sim(x->run);
    struct xpoint *np = frontier_add(x);
    if (!np) {
        cc_recipe_free(r);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct xpoint *base = xstate_point_find(x->st, bid);
    np->parent = bid;
    np->recipe = r;
    np->round = x->st->rounds_done + 1;
    np->depth = base->depth + 1;
    double score = 4.0 * (double)nv->new_assert_bits + (double)nv->new_edges +
                   0.2 * (double)nv->new_buckets + 2.0 * (double)nv->new_maxima;
    np->score = score > 60 ? 60 : score;
    np->n_slots = nv->n_assert_slots < XP_SLOTS ? nv->n_assert_slots : XP_SLOTS;
    memcpy(np->slots, nv->assert_slots, np->n_slots * sizeof(np->slots[0]));
    np->in_frontier = true;
    frontier_facts(sim, np);
    struct xhot *h = frontier_hot(x, np);
    h->last_used = ++x->clock;
    int rc = cc_sim_snapshot(sim, &h->snap, err);
    if (rc == 0) {
        rs->new_points++;
        frontier_trim_hot(x, np);
        frontier_trim(x, np);
    }
    return rc;
}

/* Did p's branch override choices after its parent's point? */
static bool own_overrides(const struct xpoint *p, const struct xpoint *par)
{
    for (size_t i = 0; p->recipe && i < p->recipe->n_ov; i++) {
        const struct cc_xoverride *o = &p->recipe->ov[i];
        if (o->life > par->life[o->vm] ||
            (o->life == par->life[o->vm] && o->index >= par->next_choice[o->vm]))
            return true;
    }
    return false;
}

/* Pick a point and draw the branch: its kind, the window, the mutated
 * recipe and maybe a reactive rule. */
static int plan_branch(struct cc_explorer *x, struct xmut *m, struct plan *pl,
                       struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    struct xpoint *p = frontier_pick(x, m);
    pl->pid = p->id;
    /* fault, input or both */
    pl->kind = st->set.mode;
    if (pl->kind == CC_XMODE_HYBRID) {
        double u = xmut_unit(m);
        pl->kind = u < 0.45 ? CC_XMODE_FAULT : u < 0.7 ? CC_XMODE_INPUT : CC_XMODE_HYBRID;
    }
    /* Extend p with a fresh window, or re-mutate p's own window from its
     * parent (when the parent is still in the frontier). */
    struct xpoint *base = p;
    struct xpoint *par = p->parent ? xstate_point_find(st, p->parent) : NULL;
    /* Input branches re-mutate more often where p's own branch overrode
     * choices: descending the tree of those choices (mutate.c) is then the
     * way on, e.g. for choices made in a burst no later point can reach. */
    unsigned remut_pct = 30;
    if (par && pl->kind != CC_XMODE_FAULT && own_overrides(p, par))
        remut_pct = 65;
    bool remutate = par && par->in_frontier && par->recipe && xmut_below(m, 100) < remut_pct;
    if (remutate)
        base = par;
    pl->bid = base->id;
    struct cc_recipe *r = cc_recipe_clone(remutate ? p->recipe : base->recipe);
    if (!r)
        return cc_err_set(err, ENOMEM, "out of memory");
    pl->recipe = r;
    struct xpoint_info *info = &pl->info;
    *info = (struct xpoint_info){.n_vms = st->target.n_vms, .t0 = base->t,
                                 .t1 = base->t + st->set.branch_ns,
                                 .clients = st->set.clients};
    memcpy(info->life, base->life, sizeof(info->life));
    memcpy(info->next_choice, base->next_choice, sizeof(info->next_choice));
    memcpy(info->alive, base->alive, sizeof(info->alive));
    for (unsigned v = 0; remutate && v < info->n_vms; v++)
        info->made[v] = p->life[v] == base->life[v] ? p->next_choice[v] : 0;
    if (remutate) {
        /* drop p's own stop: the window ends where this branch says */
        size_t k = 0;
        while (k < r->n_stops && r->stops[k] <= base->t)
            k++;
        r->n_stops = k;
        for (size_t i = cc_schedule_count(r->sched); i-- > 0;)
            if (cc_schedule_get(r->sched, i)->at_ns >= info->t1)
                cc_schedule_remove(r->sched, i);
    }
    int rc = 0;
    if (pl->kind == CC_XMODE_FAULT || pl->kind == CC_XMODE_HYBRID)
        rc = remutate ? xmut_faults_mutate(m, r, info, 3, err) :
                        xmut_faults_fresh(m, r, info, st->set.max_faults, err);
    if (rc == 0 && (pl->kind == CC_XMODE_INPUT || pl->kind == CC_XMODE_HYBRID))
        rc = xmut_inputs(m, r, info, st->set.choice_k, err);
    pl->react = (struct xreact){.target = -1};
    pl->reactive = rc == 0 && pl->kind != CC_XMODE_INPUT && st->target.n_vms >= 3 &&
                   xmut_below(m, 100) < st->set.react_percent;
    if (pl->reactive) {
        xreact_plan(m, st->target.n_vms, &pl->react);
        if (xreact_start(&pl->react, st->target.n_vms, st->set.clients) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0 && cc_recipe_add_stop(r, info->t1) < 0)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    r->end_ns = info->t1;
    return rc;
}

/* The history's verdict as a row of the table (an ALWAYS of the host) and
 * its outcomes as coverage: for programs without SDK edges these are
 * what makes a branch new. */
static void take_history(struct cc_explorer *x, struct bctx *b, const struct cc_xrun_result *res)
{
    struct cc_xstate *st = x->st;
    for (unsigned i = 0; i < res->n_outcomes; i++)
        xcov_add_assert(b->cov, res->outcomes[i], 0, XCOV_HIT);
    if (!res->checked)
        return;
    struct cc_assertion a, wf;
    xcheck_assertion(st->target.checker, true, &wf);
    bool well_formed = res->fail.failed && res->fail.id == wf.id;
    if (well_formed)
        a = wf;
    else
        xcheck_assertion(st->target.checker, false, &a);
    bool failed = res->fail.failed && res->fail.id == a.id;
    int idx = xstate_assert_index(st, &a);
    if (idx < 0 || !grow_deltas(b, st->n_as)) {
        b->oom = true;
        return;
    }
    b->d_hits[idx]++;
    b->d_passes[idx] += !failed;
    b->d_fails[idx] += failed;
    b->vms[idx] |= 1;
    xcov_add_assert(b->cov, a.id, 0, XCOV_HIT | (failed ? XCOV_FAIL : XCOV_PASS));
}

/* The links' counters now (n x n, from * n + to). */
static void read_links(struct cc_sim *sim, unsigned n, struct cc_link_stats *out)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++)
            cc_sim_link_stats(sim, i, j, &out[i * n + j]);
}

/* For the dashboard: the faults of the branch's own window, by type. */
static void count_faults(struct cc_xstate *st, const struct cc_recipe *r, uint64_t t0)
{
    for (size_t i = 0; i < cc_schedule_count(r->sched); i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        if (f->at_ns >= t0 && f->type < CC_FAULT_TYPE_END)
            st->faults[f->type]++;
    }
}

/* What the run found: the table, coverage, a bug, new points. */
static int take_results(struct cc_explorer *x, struct plan *pl, struct bctx *b,
                        const struct cc_xrun_result *res, struct round_stats *rs,
                        struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    take_history(x, b, res);
    if (b->oom)
        return cc_err_set(err, ENOMEM, "out of memory");
    fold_deltas(st, b, res->fail.failed);
    if (x->keep_cov)
        memcpy(x->keep_cov, b->cov, sizeof(*b->cov));
    struct xnovelty nv;
    bool novel = covmap_merge(&st->cov, b->cov, &nv);
    nv.new_maxima = b->new_maxima;
    novel |= b->new_maxima > 0;
    x->last_novel = novel;
    int rc = 0;
    if (res->fail.failed)
        rc = record_bug(x, pl->recipe, res, pl->kind, err);
    if (rc == 0 && novel) {
        rs->new_edges += nv.new_edges;
        rs->new_bits += nv.new_assert_bits;
        rs->new_maxima += b->new_maxima > 0;
        xstate_point_find(st, pl->pid)->wins++;
    }
    /* children of the base, like the end point: cuts of the same run */
    for (unsigned i = 0; rc == 0 && novel && nv.new_assert_bits && !res->fail.failed &&
                         !res->all_down && i < b->n_mid; i++) {
        rc = add_mid_point(x, pl->bid, pl->recipe, &b->mid[i], b->mid_bits[i], &nv, err);
        if (rc == 0)
            rs->new_points++;
    }
    if (rc == 0 && novel && !res->fail.failed && !res->all_down) {
        rc = add_end_point(x, pl->bid, pl->recipe, &nv, rs, err);
        pl->recipe = NULL;
    }
    return rc;
}

int branch_run(struct cc_explorer *x, struct xmut *m, struct round_stats *rs,
               struct cc_err *err)
{
    struct cc_xstate *st = x->st;
    struct plan pl = {0};
    int rc = plan_branch(x, m, &pl, err);
    if (rc == 0) {
        rc = frontier_goto(x, xstate_point_find(st, pl.bid), err);
        if (rc == 1) {
            /* the point could not be re-made: it leaves the frontier */
            frontier_evict(x, xstate_point_find(st, pl.bid));
            rc = 2;
        }
    }
    struct bctx *b = rc == 0 ? calloc(1, sizeof(*b)) : NULL;
    if (rc == 0) {
        xstate_point_find(st, pl.pid)->picks++;
        struct xcov *cov = b ? malloc(sizeof(*cov)) : NULL;
        if (!cov) {
            free(b);
            b = NULL;
            rc = cc_err_set(err, ENOMEM, "out of memory");
        } else {
            xcov_clear(cov);
            *b = (struct bctx){.x = x, .cov = cov, .react = pl.reactive ? &pl.react : NULL,
                               .recipe = pl.recipe};
            /* a point in the middle only when the window's end is well after it */
            b->mid_from = pl.info.t0;
            b->mid_until = pl.info.t0 + 4 * (pl.info.t1 - pl.info.t0) / 5;
        }
    }
    if (b) {
        struct xrun_hooks hooks = {.before = seg_before, .after = seg_after,
                                      .boundary = on_boundary, .opaque = b};
        struct cc_xrun_result res;
        unsigned n = st->target.n_vms;
        struct cc_link_stats *ls = calloc(2 * (size_t)n * n, sizeof(*ls));
        if (!ls)
            b->oom = true;
        else
            read_links(cc_xrun_sim(x->run), n, ls);
        count_faults(st, pl.recipe, pl.info.t0);
        rc = xrun_play(x->run, pl.recipe, &hooks, &res, err);
        st->branches_done++;
        if (rc == 0 && ls) {
            read_links(cc_xrun_sim(x->run), n, ls + (size_t)n * n);
            if (xstate_links_add(st, ls, ls + (size_t)n * n) < 0)
                b->oom = true;
        }
        free(ls);
        if (rc == 0 && b->oom)
            rc = cc_err_set(err, ENOMEM, "out of memory collecting coverage");
        if (rc == 0)
            rc = take_results(x, &pl, b, &res, rs, err);
        if (pl.reactive) {
            st->react_branches++;
            st->react_faults += b->injected;
        }
        bctx_free(b);
    }
    xreact_free(&pl.react);
    cc_recipe_free(pl.recipe);
    return rc == 2 ? 0 : rc;
}
