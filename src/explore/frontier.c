/* The explorer's frontier at run time: which points have a live snapshot
 * (hot), picking the point a branch starts from, and putting the
 * simulation at a point.
 *
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
#include <stdlib.h>
#include <string.h>

#include "explore/explorer_internal.h"

int frontier_reserve(struct cc_explorer *x, size_t n)
{
    if (n <= x->cap_hot)
        return 0;
    size_t cap = x->cap_hot ? x->cap_hot * 2 : 64;
    while (cap < n)
        cap *= 2;
    struct xhot *h = realloc(x->hot, cap * sizeof(*h));
    if (!h)
        return -ENOMEM;
    memset(h + x->cap_hot, 0, (cap - x->cap_hot) * sizeof(*h));
    x->hot = h;
    x->cap_hot = cap;
    return 0;
}

struct xpoint *frontier_add(struct cc_explorer *x)
{
    if (frontier_reserve(x, x->st->n_pts + 1) < 0)
        return NULL;
    return xstate_point_add(x->st);
}

struct xhot *frontier_hot(struct cc_explorer *x, const struct xpoint *p)
{
    return &x->hot[p - x->st->pts];
}

double frontier_weight(const struct cc_xstate *st, const struct xpoint *p)
{
    double rare = 1;
    for (size_t i = 0; i < p->n_slots; i++)
        rare += 6.0 / sqrt(1.0 + st->cov.assert_hits[p->slots[i]]);
    unsigned age = st->rounds_done + 1 > p->round ? st->rounds_done + 1 - p->round : 0;
    double recent = 1 + 2 * exp(-(double)age / 3.0);
    double luck = (1.0 + 2.0 * (double)p->wins) / (1.0 + (double)p->picks);
    if (luck > 3)
        luck = 3;
    return (1 + p->score) * rare * recent * sqrt(luck) / sqrt(1.0 + (double)p->picks);
}

struct xpoint *frontier_pick(struct cc_explorer *x, struct xmut *m)
{
    struct cc_xstate *st = x->st;
    double total = 0;
    for (size_t i = 0; i < st->n_pts; i++)
        if (st->pts[i].in_frontier)
            total += frontier_weight(st, &st->pts[i]);
    double r = xmut_unit(m) * total;
    struct xpoint *last = &st->pts[0];
    for (size_t i = 0; i < st->n_pts; i++) {
        struct xpoint *p = &st->pts[i];
        if (!p->in_frontier)
            continue;
        last = p;
        double w = frontier_weight(st, p);
        if (r < w)
            return p;
        r -= w;
    }
    return last;
}

void frontier_facts(struct cc_sim *sim, struct xpoint *p)
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

static void drop_snapshot(struct xhot *h)
{
    cc_sim_snapshot_put(h->snap);
    h->snap = NULL;
}

uint64_t frontier_snapshot_budget(const struct cc_explore_opts *o)
{
    if (o->snapshot_mem)
        return o->snapshot_mem;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb ? kb * 1024 / 2 : UINT64_MAX;
}

/* At most hot_max snapshots besides the root's, holding at most the
 * snapshot budget together (a few VMs of a real server hold hundreds of
 * megabytes each): the least recently used go first, never keep's. */
void frontier_trim_hot(struct cc_explorer *x, const struct xpoint *keep)
{
    struct cc_xstate *st = x->st;
    for (;;) {
        size_t hot = 0;
        uint64_t bytes = x->hot[0].snap ? cc_sim_snapshot_bytes(x->hot[0].snap) : 0;
        struct xhot *lru = NULL;
        for (size_t i = 1; i < st->n_pts; i++) {
            struct xhot *h = &x->hot[i];
            if (!h->snap)
                continue;
            hot++;
            bytes += cc_sim_snapshot_bytes(h->snap);
            if (&st->pts[i] != keep && (!lru || h->last_used < lru->last_used))
                lru = h;
        }
        if ((hot <= st->set.hot_max && bytes <= x->snap_budget) || !lru)
            return;
        drop_snapshot(lru);
    }
}

int frontier_adopt(struct cc_explorer *x, struct cc_xstate *nst)
{
    struct cc_xstate *old = x->st;
    size_t cap = nst->n_pts < 64 ? 64 : nst->n_pts;
    struct xhot *nh = calloc(cap, sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    for (size_t i = 0; i < nst->n_pts; i++) {
        const struct xpoint *np = &nst->pts[i];
        struct xpoint *op = xstate_point_find(old, np->id);
        if (!op || !(np->in_frontier || i == 0))
            continue;
        struct xhot *oh = frontier_hot(x, op);
        nh[i] = *oh;
        oh->snap = NULL;
    }
    for (size_t i = 0; i < old->n_pts; i++)
        if (x->hot[i].snap)
            drop_snapshot(&x->hot[i]);
    free(x->hot);
    x->hot = nh;
    x->cap_hot = cap;
    cc_xstate_free(old);
    x->st = nst;
    return 0;
}

void frontier_evict(struct cc_explorer *x, struct xpoint *p)
{
    drop_snapshot(frontier_hot(x, p));
    xstate_point_evict(p);
}

void frontier_trim(struct cc_explorer *x, const struct xpoint *keep)
{
    struct cc_xstate *st = x->st;
    while (xstate_frontier_size(st) > st->set.frontier_max) {
        struct xpoint *worst = NULL;
        double ww = 0;
        for (size_t i = 1; i < st->n_pts; i++) {
            struct xpoint *p = &st->pts[i];
            if (!p->in_frontier || p == keep)
                continue;
            double w = frontier_weight(st, p);
            if (!worst || w < ww) {
                worst = p;
                ww = w;
            }
        }
        if (!worst)
            return;
        frontier_evict(x, worst);
    }
}

int frontier_goto(struct cc_explorer *x, struct xpoint *p, struct cc_err *err)
{
    struct cc_sim *sim = cc_xrun_sim(x->run);
    struct xhot *ph = frontier_hot(x, p);
    ph->last_used = ++x->clock;
    if (ph->snap)
        return cc_sim_restore(sim, ph->snap, err);
    struct xpoint *a = p;
    while (a && !frontier_hot(x, a)->snap)
        a = a->parent ? xstate_point_find(x->st, a->parent) : NULL;
    if (!a)
        a = &x->st->pts[0];
    int rc = cc_sim_restore(sim, frontier_hot(x, a)->snap, err);
    if (rc < 0)
        return rc;
    struct cc_xrun_result res;
    rc = xrun_play(x->run, p->recipe, NULL, &res, err);
    if (rc < 0)
        return rc;
    x->materialized++;
    if (res.fail.failed || res.end_ns != p->t || res.sim_hash != p->sim_hash) {
        x->diverged++;
        explorer_log(x, "warning: re-making point %" PRIu64 " from point %" PRIu64 " by replay "
                     "did not give the recorded state (hash %016" PRIx64 " at %.6f s, recorded "
                     "%016" PRIx64 " at %.6f s%s): the run is not deterministic here", p->id,
                     a->id, res.sim_hash, res.end_ns / 1e9, p->sim_hash, p->t / 1e9,
                     res.fail.failed ? ", and it failed" : "");
        p->sim_hash = res.sim_hash;
        if (res.fail.failed || res.end_ns != p->t)
            return 1;           /* unusable: the caller drops it */
    }
    rc = cc_sim_snapshot(sim, &ph->snap, err);
    if (rc < 0)
        return rc;
    frontier_trim_hot(x, p);
    return 0;
}

void frontier_free(struct cc_explorer *x)
{
    for (size_t i = 0; x->hot && i < x->cap_hot; i++)
        cc_sim_snapshot_put(x->hot[i].snap);
    free(x->hot);
    x->hot = NULL;
    x->cap_hot = 0;
}
