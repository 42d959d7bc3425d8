/* The explorer: rounds of branches forked from frontier points, coverage
 * feedback, bugs (see chaoscontrol/explore.h).
 *
 * One simulation object lives for the whole exploration; every branch
 * restores a point's snapshot into it (cheap: each VM drops the pages it
 * dirtied), sets the branch's recipe and runs one window of virtual time.
 * Only points with new coverage are snapshotted (that copies each VM's
 * resident memory), and only hot_max of them keep their snapshot; the
 * others are re-made on demand by replaying their recipe from the nearest
 * hot ancestor, which also checks determinism (the simulation hash must
 * match the one recorded when the point was made).
 *
 * Picking: a point's weight grows with the novelty it brought (assertion
 * states count most, then new edges, then new hit-count buckets), with how
 * rare its assertion states still are among all branches, and with how
 * recent it is; it shrinks with the times it was picked without its
 * children finding anything. The frontier is bounded: the lowest-weight
 * point goes (never the root). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "explore/explorer_internal.h"
#include "util/afile.h"

void cc_explore_opts_default(struct cc_explore_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rounds = 10;
    o->branches = 16;
    o->mode = CC_XMODE_HYBRID;
    o->seed = 1;
    o->branch_ns = CC_SEC;
    o->frontier_max = 48;
    o->hot_max = 10;
    o->max_faults = 4;
    o->choice_k = 4;
    o->plateau_rounds = 3;
    o->react_percent = 40;
    cc_xweights_default(&o->weights);
}

static void xlog(struct cc_explorer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xlog(struct cc_explorer *x, const char *fmt, ...)
{
    if (!x->o.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    x->o.log(x->o.log_opaque, msg);
}

/* ---- points ---- */

struct xpoint *xp_find(struct cc_explorer *x, uint64_t id)
{
    /* ids are increasing in creation order: binary search */
    size_t lo = 0, hi = x->n_pts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->pts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->n_pts && x->pts[lo].id == id ? &x->pts[lo] : NULL;
}

struct xpoint *xp_add(struct cc_explorer *x)
{
    if (x->n_pts == x->cap_pts) {
        size_t cap = x->cap_pts ? x->cap_pts * 2 : 64;
        struct xpoint *n = realloc(x->pts, cap * sizeof(*n));
        if (!n)
            return NULL;
        x->pts = n;
        x->cap_pts = cap;
    }
    struct xpoint *p = &x->pts[x->n_pts++];
    memset(p, 0, sizeof(*p));
    p->id = x->next_id++;
    return p;
}

static size_t frontier_size(const struct cc_explorer *x)
{
    size_t n = 0;
    for (size_t i = 0; i < x->n_pts; i++)
        n += x->pts[i].in_frontier;
    return n;
}

double xp_weight(const struct cc_explorer *x, const struct xpoint *p)
{
    double rare = 1;
    for (size_t i = 0; i < p->n_slots; i++)
        rare += 6.0 / sqrt(1.0 + x->cov.assert_hits[p->slots[i]]);
    unsigned age = x->rounds_done + 1 > p->round ? x->rounds_done + 1 - p->round : 0;
    double recent = 1 + 2 * exp(-(double)age / 3.0);
    double luck = (1.0 + 2.0 * (double)p->wins) / (1.0 + (double)p->picks);
    if (luck > 3)
        luck = 3;
    return (1 + p->score) * rare * recent * sqrt(luck) / sqrt(1.0 + (double)p->picks);
}

/* Read what the mutators need at the simulation's current state. */
static void point_facts(struct cc_sim *sim, struct xpoint *p)
{
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        p->life[i] = st.restarts;
        p->alive[i] = st.state == CC_SIM_VM_RUNNING || st.state == CC_SIM_VM_PAUSED;
        size_t n;
        const struct cc_choice *c = cc_vm_choices(cc_sim_vm(sim, i), &n);
        p->next_choice[i] = n ? c[n - 1].index + 1 : 0;
    }
    p->t = cc_sim_now(sim);
    p->sim_hash = cc_sim_hash(sim);
}

static void drop_snapshot(struct xpoint *p)
{
    cc_sim_snapshot_put(p->snap);
    p->snap = NULL;
}

/* Keep at most hot_max snapshots besides the root: least recently used go. */
static void trim_hot(struct cc_explorer *x, const struct xpoint *keep)
{
    for (;;) {
        size_t hot = 0;
        struct xpoint *lru = NULL;
        for (size_t i = 1; i < x->n_pts; i++) {
            struct xpoint *p = &x->pts[i];
            if (!p->snap)
                continue;
            hot++;
            if (p != keep && (!lru || p->last_used < lru->last_used))
                lru = p;
        }
        if (hot <= x->o.hot_max || !lru)
            return;
        drop_snapshot(lru);
    }
}

static void evict_point(struct xpoint *p)
{
    drop_snapshot(p);
    cc_recipe_free(p->recipe);
    p->recipe = NULL;
    p->in_frontier = false;
}

static void trim_frontier(struct cc_explorer *x, const struct xpoint *keep)
{
    while (frontier_size(x) > x->o.frontier_max) {
        struct xpoint *worst = NULL;
        double ww = 0;
        for (size_t i = 1; i < x->n_pts; i++) {
            struct xpoint *p = &x->pts[i];
            if (!p->in_frontier || p == keep)
                continue;
            double w = xp_weight(x, p);
            if (!worst || w < ww) {
                worst = p;
                ww = w;
            }
        }
        if (!worst)
            return;
        evict_point(worst);
    }
}

/* Put the simulation at point p: restore its snapshot, or replay its
 * recipe from the nearest ancestor that has one (then p becomes hot). */
static int goto_point(struct cc_explorer *x, struct xpoint *p, struct cc_err *err)
{
    struct cc_sim *sim = cc_xrun_sim(x->run);
    p->last_used = ++x->clock;
    if (p->snap)
        return cc_sim_restore(sim, p->snap, err);
    struct xpoint *a = p;
    while (a && !a->snap)
        a = a->parent ? xp_find(x, a->parent) : NULL;
    if (!a)
        a = &x->pts[0];
    int rc = cc_sim_restore(sim, a->snap, err);
    if (rc < 0)
        return rc;
    struct cc_xrun_result res;
    rc = cc_xrun_play(x->run, p->recipe, NULL, &res, err);
    if (rc < 0)
        return rc;
    x->materialized++;
    if (res.fail.failed || res.end_ns != p->t || res.sim_hash != p->sim_hash) {
        x->diverged++;
        xlog(x, "warning: re-making point %" PRIu64 " from point %" PRIu64 " by replay did not "
             "give the recorded state (hash %016" PRIx64 " at %.6f s, recorded %016" PRIx64
             " at %.6f s%s): the run is not deterministic here", p->id, a->id, res.sim_hash,
             res.end_ns / 1e9, p->sim_hash, p->t / 1e9, res.fail.failed ? ", and it failed" : "");
        p->sim_hash = res.sim_hash;
        if (res.fail.failed || res.end_ns != p->t)
            return 1;           /* unusable: the caller drops it */
    }
    rc = cc_sim_snapshot(sim, &p->snap, err);
    if (rc < 0)
        return rc;
    trim_hot(x, p);
    return 0;
}

static struct xpoint *pick_point(struct cc_explorer *x, struct cc_xmut *m)
{
    double total = 0;
    for (size_t i = 0; i < x->n_pts; i++)
        if (x->pts[i].in_frontier)
            total += xp_weight(x, &x->pts[i]);
    double r = cc_xmut_unit(m) * total;
    struct xpoint *last = &x->pts[0];
    for (size_t i = 0; i < x->n_pts; i++) {
        struct xpoint *p = &x->pts[i];
        if (!p->in_frontier)
            continue;
        last = p;
        double w = xp_weight(x, p);
        if (r < w)
            return p;
        r -= w;
    }
    return last;
}

/* ---- the merged assertion table ---- */

int xa_find_or_add(struct cc_explorer *x, const struct cc_assertion *a)
{
    for (size_t i = 0; i < x->n_as; i++)
        if (x->as[i].id == a->id)
            return (int)i;
    if (x->n_as == x->cap_as) {
        size_t cap = x->cap_as ? x->cap_as * 2 : 32;
        struct xassert *n = realloc(x->as, cap * sizeof(*n));
        if (!n)
            return -1;
        x->as = n;
        x->cap_as = cap;
    }
    struct xassert *e = &x->as[x->n_as];
    memset(e, 0, sizeof(*e));
    e->id = a->id;
    e->kind = a->kind;
    e->line = a->line;
    e->message = strdup(a->message ? a->message : "");
    e->file = strdup(a->file ? a->file : "");
    e->function = strdup(a->function ? a->function : "");
    return (int)x->n_as++;
}

/* ---- one branch ---- */

struct acount {
    uint64_t id, hits, passes, fails;
};

struct bctx {
    struct cc_explorer *x;
    struct cc_xcov *cov;
    /* per VM: counts at the segment's start and the restart count then */
    struct acount *base[CC_SIM_MAX_VMS];
    size_t nbase[CC_SIM_MAX_VMS];
    uint64_t restarts[CC_SIM_MAX_VMS];
    /* this branch's deltas per assertion table index */
    uint64_t *d_hits, *d_passes, *d_fails, *vms;
    size_t nd;
    bool oom;
    /* the reactive rule, if the branch has one, and the recipe it adds to */
    struct cc_xreact *react;
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
    uint8_t mid_seen[CC_XCOV_ASSERT_SIZE];  /* bits the points so far have */
    uint8_t scratch[CC_XCOV_ASSERT_SIZE];
};

/* How many assertion-state bits has the branch, by now, that neither the
 * exploration nor this branch's earlier mid points have (any VM)? Those
 * bits go to b->scratch. Deltas as in seg_after. */
static size_t new_assert_state(struct bctx *b, struct cc_sim *sim)
{
    const struct cc_covmap *cov = &b->x->cov;
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
            unsigned bits = (h ? CC_XCOV_HIT : 0) | (p ? CC_XCOV_PASS : 0);
            b->scratch[cc_xcov_assert_slot(a[k].id, i)] |= (uint8_t)bits;
        }
    }
    /* and the slots of earlier segments of this branch */
    size_t n = 0;
    for (size_t j = 0; j < CC_XCOV_ASSERT_SIZE; j++) {
        b->scratch[j] |= b->cov->asserts[j] & (CC_XCOV_HIT | CC_XCOV_PASS);
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
    b->mid_next_look = now + CC_XREACT_CHECK_NS;
    /* faults due now are not applied yet: keep clear of them, so the point's
     * recipe (faults up to now) and its state agree without a doubt */
    const struct cc_schedule *sc = cc_sim_schedule(sim);
    size_t i = cc_schedule_first_at(sc, now);
    if (i < cc_schedule_count(sc) && cc_schedule_get(sc, i)->at_ns == now)
        return;
    size_t bits = new_assert_state(b, sim);
    if (!bits)
        return;
    for (size_t j = 0; j < CC_XCOV_ASSERT_SIZE; j++)
        b->mid_seen[j] |= b->scratch[j];
    b->mid_bits[b->n_mid] = bits;
    point_facts(sim, &b->mid[b->n_mid++]);
}

/* At every quantum boundary: feed the reactive rule the links' send
 * counters; a firing becomes a fault now, in the simulation and in the
 * recipe alike (so the recipe replays what ran). */
static void on_boundary(void *opaque, struct cc_sim *sim)
{
    struct bctx *b = opaque;
    uint64_t now = cc_sim_now(sim);
    look_for_mid_point(b, sim, now);
    if (!b->react || !cc_xreact_due(b->react, now))
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
    if (cc_xreact_look(b->react, now, b->sent, alone, &f) != 1)
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

static void seg_after(void *opaque, struct cc_sim *sim)
{
    struct bctx *b = opaque;
    struct cc_explorer *x = b->x;
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_vm *vm = cc_sim_vm(sim, i);
        cc_xcov_add_edges(b->cov, cc_vm_coverage(vm));
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
            int idx = xa_find_or_add(x, &a[k]);
            if (idx < 0 || !grow_deltas(b, x->n_as)) {
                b->oom = true;
                continue;
            }
            b->d_hits[idx] += h;
            b->d_passes[idx] += p;
            b->d_fails[idx] += f;
            b->vms[idx] |= 1ull << i;
            unsigned bits = (h ? CC_XCOV_HIT : 0) | (p ? CC_XCOV_PASS : 0) |
                            (f ? CC_XCOV_FAIL : 0);
            cc_xcov_add_assert(b->cov, a[k].id, i, bits);
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
}

/* Fold a branch's deltas into the merged table and the count buckets. */
static void fold_deltas(struct cc_explorer *x, struct bctx *b, bool failed)
{
    for (size_t i = 0; i < b->nd && i < x->n_as; i++) {
        struct xassert *e = &x->as[i];
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
            cc_xcov_add_assert_count(b->cov, e->id, b->d_passes[i]);
    }
}

static int record_bug(struct cc_explorer *x, const struct cc_recipe *r,
                      const struct cc_xrun_result *res, enum cc_xmode mode, struct cc_err *err)
{
    for (size_t i = 0; i < x->n_bugs; i++) {
        if (x->bugs[i].id == res->fail.id) {
            x->bugs[i].dups++;
            return 0;
        }
    }
    struct cc_recipe *br = cc_recipe_clone(r);
    if (!br)
        return cc_err_set(err, ENOMEM, "out of memory");
    br->end_ns = res->fail.sim_ns;
    size_t k = 0;
    while (k < br->n_stops && br->stops[k] < br->end_ns)
        k++;
    br->n_stops = k;
    cc_recipe_add_stop(br, br->end_ns);
    /* faults after the failure never happened: not part of the bug */
    for (size_t i = cc_schedule_count(br->sched); i-- > 0;)
        if (cc_schedule_get(br->sched, i)->at_ns > br->end_ns)
            cc_schedule_remove(br->sched, i);
    struct cc_bug b = {0};
    b.number = ++x->max_bug_number;
    b.target = x->target;
    b.recipe = br;
    b.fail = res->fail;
    b.round = x->rounds_done + 1;
    b.branch = x->branches_done;
    b.wall_s = x->wall_before + xnow() - x->t_start;
    b.mode = mode;
    memcpy(b.choices, res->choices, sizeof(b.choices));
    char path[4200];
    snprintf(path, sizeof(path), "%s/bug_%u.json", x->dir, b.number);
    int rc = cc_bug_save(&b, path, err);
    if (rc == 0 && x->n_bugs == x->cap_bugs) {
        size_t cap = x->cap_bugs ? x->cap_bugs * 2 : 8;
        struct xbug *n = realloc(x->bugs, cap * sizeof(*n));
        if (!n)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        else {
            x->bugs = n;
            x->cap_bugs = cap;
        }
    }
    if (rc == 0) {
        struct xbug *xb = &x->bugs[x->n_bugs++];
        memset(xb, 0, sizeof(*xb));
        xb->number = b.number;
        xb->id = b.fail.id;
        xb->vm = b.fail.vm;
        xb->message = strdup(b.fail.message);
        char where[400];
        snprintf(where, sizeof(where), "%s:%u", b.fail.file, b.fail.line);
        xb->where = strdup(where);
        xb->round = (unsigned)b.round;
        xb->branch = b.branch;
        xb->wall_s = b.wall_s;
        xb->sim_ns = b.fail.sim_ns;
        xb->size = cc_recipe_size(br);
        xlog(x, "bug %u: vm %u: %s \"%s\" at %s:%u (round %u, branch %" PRIu64 ", %.1f s; "
             "%zu faults, %zu overrides) -> %s", b.number, b.fail.vm, cc_kind_name(b.fail.kind),
             b.fail.message, b.fail.file, b.fail.line, xb->round, b.branch, b.wall_s,
             cc_schedule_count(br->sched), br->n_ov, path);
        if (x->o.stop_after_bugs && x->n_bugs >= x->o.stop_after_bugs)
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
                         const struct cc_xnovelty *nv, struct cc_err *err)
{
    struct cc_recipe *mr = recipe_cut(r, facts);
    struct xpoint *mp = mr ? xp_add(x) : NULL;
    if (!mp) {
        cc_recipe_free(mr);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct xpoint *base = xp_find(x, bid);
    mp->parent = bid;
    mp->recipe = mr;
    mp->t = facts->t;
    mp->sim_hash = facts->sim_hash;
    memcpy(mp->life, facts->life, sizeof(mp->life));
    memcpy(mp->next_choice, facts->next_choice, sizeof(mp->next_choice));
    memcpy(mp->alive, facts->alive, sizeof(mp->alive));
    mp->round = x->rounds_done + 1;
    mp->depth = base->depth + 1;
    double score = 4.0 * (double)new_bits;
    mp->score = score > 60 ? 60 : score;
    mp->n_slots = nv->n_assert_slots < XP_SLOTS ? nv->n_assert_slots : XP_SLOTS;
    memcpy(mp->slots, nv->assert_slots, mp->n_slots * sizeof(mp->slots[0]));
    mp->in_frontier = true;
    mp->last_used = ++x->clock;
    x->mid_points++;
    trim_frontier(x, mp);
    return 0;
}

struct round_stats {
    unsigned new_points;
    size_t new_edges, new_bits;
};

static int branch(struct cc_explorer *x, struct cc_xmut *m, struct round_stats *rs,
                  struct cc_err *err)
{
    struct cc_sim *sim = cc_xrun_sim(x->run);
    struct xpoint *p = pick_point(x, m);
    uint64_t pid = p->id;
    /* fault, input or both */
    enum cc_xmode kind = x->o.mode;
    if (kind == CC_XMODE_HYBRID) {
        double u = cc_xmut_unit(m);
        kind = u < 0.45 ? CC_XMODE_FAULT : u < 0.7 ? CC_XMODE_INPUT : CC_XMODE_HYBRID;
    }
    /* Extend p with a fresh window, or re-mutate p's own window from its
     * parent (when the parent is still in the frontier). */
    struct xpoint *base = p;
    struct xpoint *par = p->parent ? xp_find(x, p->parent) : NULL;
    bool remutate = par && par->in_frontier && par->recipe && cc_xmut_below(m, 100) < 30;
    if (remutate)
        base = par;
    uint64_t bid = base->id;
    struct cc_recipe *r = cc_recipe_clone(remutate ? p->recipe : base->recipe);
    if (!r)
        return cc_err_set(err, ENOMEM, "out of memory");
    struct cc_xpoint_info info = {.n_vms = x->target.n_vms, .t0 = base->t,
                                  .t1 = base->t + x->o.branch_ns};
    memcpy(info.life, base->life, sizeof(info.life));
    memcpy(info.next_choice, base->next_choice, sizeof(info.next_choice));
    memcpy(info.alive, base->alive, sizeof(info.alive));
    if (remutate) {
        /* drop p's own stop: the window ends where this branch says */
        size_t k = 0;
        while (k < r->n_stops && r->stops[k] <= base->t)
            k++;
        r->n_stops = k;
        for (size_t i = cc_schedule_count(r->sched); i-- > 0;)
            if (cc_schedule_get(r->sched, i)->at_ns >= info.t1)
                cc_schedule_remove(r->sched, i);
    }
    int rc = 0;
    if (kind == CC_XMODE_FAULT || kind == CC_XMODE_HYBRID)
        rc = remutate ? cc_xmut_faults_mutate(m, r, &info, 3, err) :
                        cc_xmut_faults_fresh(m, r, &info, x->o.max_faults, err);
    if (rc == 0 && (kind == CC_XMODE_INPUT || kind == CC_XMODE_HYBRID))
        rc = cc_xmut_inputs(m, r, &info, x->o.choice_k, err);
    struct cc_xreact react = {.target = -1};
    bool reactive = rc == 0 && kind != CC_XMODE_INPUT && x->target.n_vms >= 3 &&
                    cc_xmut_below(m, 100) < x->o.react_percent;
    if (reactive) {
        cc_xreact_plan(m, x->target.n_vms, &react);
        if (cc_xreact_start(&react, x->target.n_vms) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0 && cc_recipe_add_stop(r, info.t1) < 0)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    r->end_ns = info.t1;
    if (rc < 0) {
        cc_xreact_free(&react);
        cc_recipe_free(r);
        return rc;
    }

    rc = goto_point(x, base, err);
    base = xp_find(x, bid);
    p = xp_find(x, pid);
    if (rc == 1) {
        /* the point could not be re-made: it leaves the frontier */
        evict_point(base);
        cc_xreact_free(&react);
        cc_recipe_free(r);
        return 0;
    }
    if (rc < 0) {
        cc_xreact_free(&react);
        cc_recipe_free(r);
        return rc;
    }
    p->picks++;

    struct bctx *bcp = calloc(1, sizeof(*bcp));
    struct cc_xcov *cov = malloc(sizeof(*cov));
    if (!cov || !bcp) {
        free(cov);
        free(bcp);
        cc_xreact_free(&react);
        cc_recipe_free(r);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    cc_xcov_clear(cov);
    *bcp = (struct bctx){.x = x, .cov = cov, .react = reactive ? &react : NULL, .recipe = r};
    /* a point in the middle only when the window's end is well after it */
    bcp->mid_from = info.t0;
    bcp->mid_until = info.t0 + 4 * (info.t1 - info.t0) / 5;
    struct cc_xrun_hooks hooks = {.before = seg_before, .after = seg_after,
                                  .boundary = on_boundary, .opaque = bcp};
    struct cc_xrun_result res;
    rc = cc_xrun_play(x->run, r, &hooks, &res, err);
    x->branches_done++;
    if (rc == 0 && bcp->oom)
        rc = cc_err_set(err, ENOMEM, "out of memory collecting coverage");
    if (rc == 0)
        fold_deltas(x, bcp, res.fail.failed);
    struct cc_xnovelty nv;
    bool novel = rc == 0 && cc_covmap_merge(&x->cov, cov, &nv);
    if (rc == 0 && res.fail.failed)
        rc = record_bug(x, r, &res, kind, err);
    if (rc == 0 && novel) {
        rs->new_edges += nv.new_edges;
        rs->new_bits += nv.new_assert_bits;
        p->wins++;
    }
    /* children of the base, like the end point: cuts of the same run */
    for (unsigned i = 0; rc == 0 && novel && nv.new_assert_bits && !res.fail.failed &&
                         !res.all_down && i < bcp->n_mid; i++) {
        rc = add_mid_point(x, bid, r, &bcp->mid[i], bcp->mid_bits[i], &nv, err);
        if (rc == 0)
            rs->new_points++;
    }
    if (rc == 0 && novel && !res.fail.failed && !res.all_down) {
        struct xpoint *np = xp_add(x);
        if (!np) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
        } else {
            base = xp_find(x, bid);
            np->parent = bid;
            np->recipe = r;
            r = NULL;
            np->round = x->rounds_done + 1;
            np->depth = base->depth + 1;
            double score = 4.0 * (double)nv.new_assert_bits + (double)nv.new_edges +
                           0.2 * (double)nv.new_buckets;
            np->score = score > 60 ? 60 : score;
            np->n_slots = nv.n_assert_slots < XP_SLOTS ? nv.n_assert_slots : XP_SLOTS;
            memcpy(np->slots, nv.assert_slots, np->n_slots * sizeof(np->slots[0]));
            np->in_frontier = true;
            point_facts(sim, np);
            np->last_used = ++x->clock;
            rc = cc_sim_snapshot(sim, &np->snap, err);
            if (rc == 0) {
                rs->new_points++;
                trim_hot(x, np);
                trim_frontier(x, np);
            }
        }
    }
    if (reactive) {
        x->react_branches++;
        x->react_faults += bcp->injected;
    }
    cc_xreact_free(&react);
    bctx_free(bcp);
    free(bcp);
    free(cov);
    cc_recipe_free(r);
    return rc;
}

/* ---- progress ---- */

static void progress(struct cc_explorer *x, unsigned round, unsigned b, double t0,
                     uint64_t b0)
{
    if (!x->o.progress)
        return;
    double dt = xnow() - t0;
    double rate = dt > 0 ? (double)(x->branches_done - b0) / dt : 0;
    char line[256];
    snprintf(line, sizeof(line), "round %u/%u  branch %u/%u  %.2f branches/s  edges %zu  "
             "assert-states %zu  frontier %zu  bugs %zu", round, x->rounds_target, b,
             x->o.branches, rate, cc_covmap_edges(&x->cov), cc_covmap_assert_bits(&x->cov),
             frontier_size(x), x->n_bugs);
    x->o.progress(x->o.log_opaque, line);
}

/* ---- set-up ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int own_target(struct cc_explorer *x, const struct cc_xtarget *t)
{
    x->target = *t;
    x->strings.kernel = dup_or_null(t->kernel);
    x->strings.initrd = dup_or_null(t->initrd);
    x->strings.cmdline = dup_or_null(t->cmdline);
    x->strings.append = dup_or_null(t->append);
    x->strings.disk_image = dup_or_null(t->disk_image);
    x->target.kernel = x->strings.kernel;
    x->target.initrd = x->strings.initrd;
    x->target.cmdline = x->strings.cmdline;
    x->target.append = x->strings.append;
    x->target.disk_image = x->strings.disk_image;
    return 0;
}

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

/* Boot, snapshot at setup, and make the root point (its coverage, the
 * setup's, counts as seen). */
static int boot(struct cc_explorer *x, struct cc_err *err)
{
    struct cc_xrun_opts ro;
    cc_xrun_opts_default(&ro);
    ro.log = x->o.log;
    ro.log_opaque = x->o.log_opaque;
    int rc = cc_xrun_boot(&x->target, &ro, &x->run, err);
    if (rc < 0)
        return rc;
    struct cc_sim *sim = cc_xrun_sim(x->run);
    if (x->setup_ns && x->setup_ns != cc_xrun_setup_ns(x->run))
        return cc_err_set(err, EIO, "this boot reached setup at %" PRIu64 " ns, the checkpoint's "
                          "at %" PRIu64 " ns: the run is not deterministic (or the target "
                          "changed)", cc_xrun_setup_ns(x->run), x->setup_ns);
    x->setup_ns = cc_xrun_setup_ns(x->run);
    struct xpoint *root = x->n_pts ? &x->pts[0] : xp_add(x);
    if (!root)
        return cc_err_set(err, ENOMEM, "out of memory");
    uint64_t want_hash = root->sim_hash;
    bool had = x->n_pts && root->recipe;
    point_facts(sim, root);
    if (had && want_hash != root->sim_hash)
        return cc_err_set(err, EIO, "this boot's simulation hash at setup (%016" PRIx64 ") is "
                          "not the checkpoint's (%016" PRIx64 "): the run is not deterministic "
                          "(or the target changed)", root->sim_hash, want_hash);
    if (!root->recipe) {
        root->recipe = cc_recipe_new();
        if (!root->recipe)
            return cc_err_set(err, ENOMEM, "out of memory");
        root->recipe->end_ns = x->setup_ns;
    }
    root->in_frontier = true;
    cc_sim_snapshot_get(cc_xrun_root(x->run));
    root->snap = cc_xrun_root(x->run);
    /* Every catalog entry is in the table from the start, so entries no
     * branch ever reaches are reported as unexercised, by name. */
    for (unsigned i = 0; i < x->target.n_vms; i++) {
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(cc_sim_vm(sim, i), &n);
        for (size_t k = 0; k < n; k++)
            if (xa_find_or_add(x, &a[k]) < 0)
                return cc_err_set(err, ENOMEM, "out of memory");
    }
    /* setup coverage is not the branches' merit */
    struct cc_xcov *c = malloc(sizeof(*c));
    if (!c)
        return cc_err_set(err, ENOMEM, "out of memory");
    cc_xcov_clear(c);
    for (unsigned i = 0; i < x->target.n_vms; i++)
        cc_xcov_add_edges(c, cc_vm_coverage(cc_sim_vm(sim, i)));
    cc_covmap_merge(&x->cov, c, NULL);
    free(c);
    return 0;
}

int cc_explorer_new(const struct cc_xtarget *t, const struct cc_explore_opts *o,
                    struct cc_explorer **out, struct cc_err *err)
{
    *out = NULL;
    if (!o->output)
        return cc_err_set(err, EINVAL, "no output directory given");
    if (!o->branches || !o->branch_ns || !o->frontier_max)
        return cc_err_set(err, EINVAL, "branches, branch time and frontier size must be > 0");
    int rc = make_dir(o->output, err);
    if (rc < 0)
        return rc;
    char path[4200];
    snprintf(path, sizeof(path), "%s/checkpoint.json", o->output);
    struct stat st;
    if (stat(path, &st) == 0)
        return cc_err_set(err, EEXIST, "'%s' already holds an exploration (%s): continue it "
                          "with 'explore resume --corpus %s', or use another --output", o->output,
                          path, o->output);
    struct cc_explorer *x = calloc(1, sizeof(*x));
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    x->o = *o;
    x->dir = strdup(o->output);
    x->next_id = 1;
    x->t_start = xnow();
    cc_covmap_init(&x->cov);
    own_target(x, t);
    rc = cc_xtarget_hash(&x->target, err);
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

int cc_explorer_resume(const char *dir, const struct cc_explore_opts *o,
                       struct cc_explorer **out, struct cc_err *err)
{
    *out = NULL;
    struct cc_explorer *x = calloc(1, sizeof(*x));
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    x->dir = strdup(dir);
    x->t_start = xnow();
    cc_covmap_init(&x->cov);
    int rc = xcheckpoint_load(x, dir, err);
    if (rc == 0) {
        /* run-time knobs from the caller */
        x->o.progress = o->progress;
        x->o.log = o->log;
        x->o.log_opaque = o->log_opaque;
        if (o->stop_after_bugs)
            x->o.stop_after_bugs = o->stop_after_bugs;
        x->o.output = x->dir;
        x->rounds_target = x->rounds_done + o->rounds;
        rc = cc_xtarget_check(&x->target, err);
    }
    if (rc == 0)
        rc = xbugs_adopt(x, err);
    if (rc == 0)
        rc = boot(x, err);
    if (rc < 0) {
        cc_explorer_free(x);
        return rc;
    }
    if (x->o.stop_after_bugs && x->n_bugs >= x->o.stop_after_bugs)
        x->stop = true;
    *out = x;
    return 0;
}

static uint64_t round_seed(uint64_t seed, unsigned round)
{
    uint64_t z = seed ^ (0x9e3779b97f4a7c15ull * (round + 1));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int cc_explorer_run(struct cc_explorer *x, struct cc_err *err)
{
    int rc = 0;
    /* files exist from the start, so a watcher sees the run */
    rc = xreport_write(x, err);
    if (rc == 0)
        rc = xcheckpoint_save(x, err);
    while (rc == 0 && !x->stop && x->rounds_done < x->rounds_target) {
        unsigned round = x->rounds_done + 1;
        struct cc_xmut *m = cc_xmut_new(round_seed(x->o.seed, round), &x->o.weights);
        if (!m)
            return cc_err_set(err, ENOMEM, "out of memory");
        double t0 = xnow();
        uint64_t b0 = x->branches_done;
        size_t e0 = cc_covmap_edges(&x->cov), a0 = cc_covmap_assert_bits(&x->cov);
        size_t bugs0 = x->n_bugs;
        struct round_stats rs = {0};
        x->materialized = x->diverged = 0;
        for (unsigned b = 0; b < x->o.branches && rc == 0 && !x->stop; b++) {
            progress(x, round, b + 1, t0, b0);
            rc = branch(x, m, &rs, err);
        }
        cc_xmut_free(m);
        if (rc < 0)
            break;
        x->rounds_done = round;
        if (x->n_hist == x->cap_hist) {
            size_t cap = x->cap_hist ? x->cap_hist * 2 : 32;
            struct xround *n = realloc(x->hist, cap * sizeof(*n));
            if (!n)
                return cc_err_set(err, ENOMEM, "out of memory");
            x->hist = n;
            x->cap_hist = cap;
        }
        struct xround *h = &x->hist[x->n_hist++];
        *h = (struct xround){
            .round = round, .branches = x->branches_done - b0, .wall_s = xnow() - t0,
            .edges = cc_covmap_edges(&x->cov), .new_edges = cc_covmap_edges(&x->cov) - e0,
            .assert_bits = cc_covmap_assert_bits(&x->cov),
            .new_assert_bits = cc_covmap_assert_bits(&x->cov) - a0,
            .frontier = frontier_size(x), .bugs = (unsigned)(x->n_bugs - bugs0),
            .new_points = rs.new_points, .materialized = x->materialized,
            .diverged = x->diverged,
        };
        if (h->new_edges || h->new_assert_bits || h->bugs)
            x->plateau_since = 0;
        else if (!x->plateau_since)
            x->plateau_since = round;
        rc = xreport_write(x, err);
        if (rc == 0)
            rc = xcheckpoint_save(x, err);
        if (x->o.progress)
            x->o.progress(x->o.log_opaque, "");
        xlog(x, "round %u: %" PRIu64 " branches in %.1f s (%.2f/s), edges %zu (+%zu), "
             "assertion states %zu (+%zu), frontier %zu (+%u new), bugs %zu",
             round, h->branches, h->wall_s, h->wall_s > 0 ? h->branches / h->wall_s : 0,
             h->edges, h->new_edges, h->assert_bits, h->new_assert_bits, h->frontier,
             h->new_points, x->n_bugs);
    }
    if (x->o.progress)
        x->o.progress(x->o.log_opaque, "");
    if (rc == 0 && x->stop) {
        /* the round was cut short: save what there is */
        rc = xreport_write(x, err);
    }
    return rc;
}

void cc_explorer_summary(const struct cc_explorer *x, struct cc_explore_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->rounds_done = x->rounds_done;
    s->branches = x->branches_done;
    s->bugs = (unsigned)x->n_bugs;
    s->edges = cc_covmap_edges(&x->cov);
    s->assert_bits = cc_covmap_assert_bits(&x->cov);
    s->frontier = frontier_size(x);
    s->wall_s = x->wall_before + xnow() - x->t_start;
    for (size_t i = 0; i < x->n_bugs; i++) {
        if (!s->first_bug_branch || x->bugs[i].branch < s->first_bug_branch) {
            s->first_bug_branch = x->bugs[i].branch;
            s->first_bug_wall_s = x->bugs[i].wall_s;
        }
    }
}

void cc_explorer_free(struct cc_explorer *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n_pts; i++) {
        cc_sim_snapshot_put(x->pts[i].snap);
        cc_recipe_free(x->pts[i].recipe);
    }
    free(x->pts);
    for (size_t i = 0; i < x->n_as; i++) {
        free(x->as[i].message);
        free(x->as[i].file);
        free(x->as[i].function);
    }
    free(x->as);
    for (size_t i = 0; i < x->n_bugs; i++) {
        free(x->bugs[i].message);
        free(x->bugs[i].where);
    }
    free(x->bugs);
    free(x->hist);
    cc_xrun_free(x->run);
    xtarget_strings_free(&x->strings);
    free(x->dir);
    free(x);
}
