/* Mutators: new faults for a branch's time window, mutations of an
 * existing window (add, remove, shift, retarget), and choice overrides for
 * input-tree exploration. Deterministic per seed: one ChaCha20 stream
 * (util/rng.h). Times are whole milliseconds after the window start, so
 * schedules in bug files read well. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore/search_internal.h"
#include "util/rng.h"

struct xmut {
    struct cc_rng rng;
    struct cc_xweights w;
};

void cc_xweights_default(struct cc_xweights *w)
{
    /* Network partitions, crashes with restarts and pauses are what break
     * consensus protocols; the rest is there for variety. vcpu stays 0:
     * it only matters for SMP targets (explore.h). */
    *w = (struct cc_xweights){
        .partition = 30, .heal = 6, .kill = 6, .restart = 16, .pause = 12, .loss = 8,
        .latency = 3, .duplicate = 3, .reorder = 3, .clock = 5, .disk = 1,
    };
}

int cc_xweights_only(struct cc_xweights *w, const char *list)
{
    struct cc_xweights out = {0};
    struct {
        const char *name;
        unsigned *src, *dst;
        unsigned usual;             /* the weight when w has 0 */
    } k[] = {
        {"partition", &w->partition, &out.partition, 1}, {"heal", &w->heal, &out.heal, 1},
        {"kill", &w->kill, &out.kill, 1}, {"restart", &w->restart, &out.restart, 1},
        {"pause", &w->pause, &out.pause, 1}, {"loss", &w->loss, &out.loss, 1},
        {"latency", &w->latency, &out.latency, 1},
        {"duplicate", &w->duplicate, &out.duplicate, 1},
        {"reorder", &w->reorder, &out.reorder, 1}, {"clock", &w->clock, &out.clock, 1},
        {"disk", &w->disk, &out.disk, 1}, {"vcpu", &w->vcpu, &out.vcpu, CC_XWEIGHT_VCPU},
    };
    bool any = false;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        size_t i = 0;
        while (i < sizeof(k) / sizeof(k[0]) && (strlen(k[i].name) != n || strncmp(p, k[i].name, n)))
            i++;
        if (i == sizeof(k) / sizeof(k[0]))
            return -EINVAL;
        *k[i].dst = *k[i].src ? *k[i].src : k[i].usual;
        any = true;
        p += n + (p[n] == ',');
    }
    if (!any)
        return -EINVAL;
    *w = out;
    return 0;
}

const char *cc_xmode_name(enum cc_xmode m)
{
    switch (m) {
    case CC_XMODE_FAULT: return "fault";
    case CC_XMODE_INPUT: return "input-tree";
    case CC_XMODE_HYBRID: return "hybrid";
    }
    return "?";
}

int cc_xmode_parse(const char *s, enum cc_xmode *out)
{
    if (!strcmp(s, "fault"))
        *out = CC_XMODE_FAULT;
    else if (!strcmp(s, "input-tree") || !strcmp(s, "input"))
        *out = CC_XMODE_INPUT;
    else if (!strcmp(s, "hybrid"))
        *out = CC_XMODE_HYBRID;
    else
        return -EINVAL;
    return 0;
}

struct xmut *xmut_new(uint64_t seed, const struct cc_xweights *w)
{
    struct xmut *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    rng_init(&m->rng, seed, "explore-mutate");
    if (w)
        m->w = *w;
    else
        cc_xweights_default(&m->w);
    return m;
}

void xmut_free(struct xmut *m)
{
    free(m);
}

uint64_t xmut_below(struct xmut *m, uint64_t n)
{
    return n ? rng_below(&m->rng, n) : 0;
}

double xmut_unit(struct xmut *m)
{
    return (double)(rng_u64(&m->rng) >> 11) / (double)(1ull << 53);
}

static bool chance(struct xmut *m, unsigned percent)
{
    return xmut_below(m, 100) < percent;
}

/* Uniform in [lo, hi] milliseconds, as nanoseconds. */
static uint64_t ms_between(struct xmut *m, uint64_t lo, uint64_t hi)
{
    if (hi < lo)
        hi = lo;
    return (lo + xmut_below(m, hi - lo + 1)) * CC_MSEC;
}

static bool is_client(const struct xpoint_info *p, unsigned v)
{
    return (p->clients >> v) & 1;
}

/* A VM not in skip (unless every VM is), preferably a live one. */
static unsigned pick_vm_of(struct xmut *m, const struct xpoint_info *p, bool alive_only,
                           uint64_t skip)
{
    unsigned cand[CC_SIM_MAX_VMS], n = 0, any[CC_SIM_MAX_VMS], n_any = 0;
    for (unsigned i = 0; i < p->n_vms; i++) {
        if ((skip >> i) & 1)
            continue;
        any[n_any++] = i;
        if (!alive_only || p->alive[i])
            cand[n++] = i;
    }
    if (n)
        return cand[xmut_below(m, n)];
    if (n_any)
        return any[xmut_below(m, n_any)];
    return (unsigned)xmut_below(m, p->n_vms);
}

/* A VM faults may target: never a client (unless every VM is one). */
static unsigned pick_vm(struct xmut *m, const struct xpoint_info *p, bool alive_only)
{
    return pick_vm_of(m, p, alive_only, p->clients);
}

static uint64_t window_ms(const struct xpoint_info *p)
{
    uint64_t w = (p->t1 - p->t0) / CC_MSEC;
    return w < 2 ? 2 : w;
}

/* A VM mask for link faults: everything, or one VM's traffic. */
static void pick_links(struct xmut *m, const struct xpoint_info *p, struct cc_fault *f)
{
    unsigned r = (unsigned)xmut_below(m, 3);
    unsigned v = pick_vm(m, p, false);
    if (r == 1)
        f->from = 1ull << v;
    else if (r == 2)
        f->to = 1ull << v;
}

/* Sides among the VMs that are not clients; the clients bridge them. */
static void partition_sides(struct xmut *m, const struct xpoint_info *p, struct cc_fault *f)
{
    unsigned vm[CC_SIM_MAX_VMS], n = 0;
    for (unsigned i = 0; i < p->n_vms; i++)
        if (!is_client(p, i))
            vm[n++] = i;
    unsigned r = (unsigned)xmut_below(m, 100);
    f->n_sides = 0;
    f->bridge = n ? p->clients & (p->n_vms >= 64 ? ~0ull : (1ull << p->n_vms) - 1) : 0;
    if (n >= 3 && r < 15) {
        /* everyone alone */
        for (unsigned i = 0; i < n && i < CC_SCHEDULE_MAX_SIDES; i++)
            f->sides[f->n_sides++] = 1ull << vm[i];
        return;
    }
    if (n >= 3 && r < 40) {
        /* a random two-way split with both sides non-empty */
        uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1, a;
        do
            a = xmut_below(m, all);     /* [0, all): never everyone */
        while (a == 0);
        uint64_t side = 0;
        for (unsigned i = 0; i < n; i++)
            if ((a >> i) & 1)
                side |= 1ull << vm[i];
        f->sides[f->n_sides++] = side;
        return;
    }
    /* one VM cut off from the rest */
    f->sides[f->n_sides++] = 1ull << pick_vm(m, p, false);
}

void xmut_random_fault(struct xmut *m, const struct xpoint_info *p, uint64_t at,
                          struct cc_fault *f)
{
    const struct cc_xweights *w = &m->w;
    /* vcpu last: with weight 0 it changes no draw of the others */
    unsigned weights[] = {w->partition, w->heal, w->kill, w->restart, w->pause, w->loss,
                          w->latency, w->duplicate, w->reorder, w->clock, w->disk, w->vcpu};
    unsigned total = 0;
    for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
        total += weights[i];
    unsigned r = total ? (unsigned)xmut_below(m, total) : 0, k = 0;
    while (k + 1 < sizeof(weights) / sizeof(weights[0]) && r >= weights[k])
        r -= weights[k++];
    if (!total)
        k = 0;
    uint64_t wms = window_ms(p);
    switch (k) {
    case 0:
        cc_fault_init(f, CC_FAULT_PARTITION, at);
        partition_sides(m, p, f);
        if (chance(m, 75))
            f->duration_ns = ms_between(m, 30, wms * 2);
        break;
    case 1:
        cc_fault_init(f, CC_FAULT_HEAL, at);
        break;
    case 2:
        cc_fault_init(f, CC_FAULT_KILL, at);
        f->vm = pick_vm(m, p, true);
        break;
    case 3:
        cc_fault_init(f, CC_FAULT_RESTART, at);
        f->vm = pick_vm(m, p, false);
        break;
    case 4:
        cc_fault_init(f, CC_FAULT_PAUSE, at);
        f->vm = pick_vm(m, p, true);
        f->duration_ns = ms_between(m, 20, wms < 800 ? wms : 800);
        break;
    case 5: {
        static const uint32_t rates[] = {200000, 500000, 800000, 1000000};
        cc_fault_init(f, CC_FAULT_LOSS, at);
        f->ppm = rates[xmut_below(m, 4)];
        pick_links(m, p, f);
        f->duration_ns = ms_between(m, 30, wms);
        break;
    }
    case 6:
        cc_fault_init(f, CC_FAULT_LATENCY, at);
        f->ns = ms_between(m, 1, 150);
        pick_links(m, p, f);
        f->duration_ns = ms_between(m, 30, wms);
        break;
    case 7:
        cc_fault_init(f, CC_FAULT_DUPLICATE, at);
        f->ppm = (uint32_t)(100000 + xmut_below(m, 400001));
        pick_links(m, p, f);
        f->duration_ns = ms_between(m, 30, wms);
        break;
    case 8:
        cc_fault_init(f, CC_FAULT_REORDER, at);
        f->ppm = (uint32_t)(100000 + xmut_below(m, 400001));
        f->ns = ms_between(m, 1, 100);
        pick_links(m, p, f);
        f->duration_ns = ms_between(m, 30, wms);
        break;
    case 9:
        if (chance(m, 50)) {
            cc_fault_init(f, CC_FAULT_CLOCK_JUMP, at);
            f->vm = pick_vm(m, p, true);
            f->delta_ns = (int64_t)ms_between(m, 50, 1000);
        } else {
            cc_fault_init(f, CC_FAULT_CLOCK_SKEW, at);
            f->vm = pick_vm(m, p, true);
            int64_t ppm = (int64_t)(10000 + xmut_below(m, 490001));
            f->skew_ppm = chance(m, 50) ? ppm : -ppm / 2;
            f->duration_ns = ms_between(m, 50, wms);
        }
        break;
    case 10:
        cc_fault_init(f, chance(m, 50) ? CC_FAULT_DISK_WRITE_ERROR : CC_FAULT_DISK_READ_ERROR, at);
        f->vm = pick_vm(m, p, true);
        f->count = 1;
        break;
    default:
        /* another interleaving of one VM's threads from here on */
        cc_fault_init(f, CC_FAULT_VCPU_SCHEDULE, at);
        f->vm = pick_vm(m, p, true);
        f->seed = rng_u64(&m->rng);
        /* Half of them at the branch point itself: threads race in the
         * first microseconds after a point as often as later, and a new
         * stream from the start changes every switch of the branch. */
        if (chance(m, 50))
            f->at_ns = p->t0 + 1;     /* strictly inside the window */
        break;
    }
}

/* A time in (t0, t1): whole milliseconds after t0. A third of them fall
 * in the first 100 ms: points are made right after something new happened
 * (a new assertion state inside a window, or a window's end), and what a
 * fault does to that moment is often what matters. */
static uint64_t window_time(struct xmut *m, const struct xpoint_info *p)
{
    uint64_t w = window_ms(p);
    uint64_t span = w - 1;
    if (span > 100 && xmut_below(m, 3) == 0)
        span = 100;
    return p->t0 + (1 + xmut_below(m, span)) * CC_MSEC;
}

static int add_fault(struct cc_recipe *r, const struct cc_fault *f, struct cc_err *err)
{
    int rc = cc_schedule_add(r->sched, f, err);
    return rc < 0 ? rc : 0;
}

static int add_one(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                   unsigned *budget, struct cc_err *err)
{
    struct cc_fault f;
    uint64_t at = window_time(m, p);
    xmut_random_fault(m, p, at, &f);
    int rc = add_fault(r, &f, err);
    if (rc < 0)
        return rc;
    (*budget)--;
    /* A kill is usually a crash: bring the VM back a little later. */
    if (f.type == CC_FAULT_KILL && m->w.restart && *budget && chance(m, 70)) {
        uint64_t back = at + ms_between(m, 20, 600);
        if (back < p->t1) {
            struct cc_fault g;
            cc_fault_init(&g, CC_FAULT_RESTART, back);
            g.vm = f.vm;
            rc = add_fault(r, &g, err);
            (*budget)--;
        }
    }
    /* A partition without an end often gets a heal. */
    if (rc == 0 && f.type == CC_FAULT_PARTITION && !f.duration_ns && *budget && chance(m, 50)) {
        uint64_t heal = at + ms_between(m, 30, 800);
        if (heal < p->t1) {
            struct cc_fault g;
            cc_fault_init(&g, CC_FAULT_HEAL, heal);
            rc = add_fault(r, &g, err);
            (*budget)--;
        }
    }
    return rc;
}

int xmut_faults_fresh(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                         unsigned max_faults, struct cc_err *err)
{
    if (!max_faults)
        max_faults = 1;
    unsigned want = 1 + (unsigned)xmut_below(m, max_faults);
    unsigned budget = want;
    int rc = 0;
    while (budget && rc == 0)
        rc = add_one(m, r, p, &budget, err);
    return rc;
}

/* Indices of r's faults inside the window. */
static size_t window_faults(const struct cc_recipe *r, const struct xpoint_info *p,
                            size_t *idx, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < cc_schedule_count(r->sched) && n < cap; i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        if (f->at_ns > p->t0 && f->at_ns < p->t1)
            idx[n++] = i;
    }
    return n;
}

static void retarget(struct xmut *m, const struct xpoint_info *p, struct cc_fault *f)
{
    uint64_t wms = window_ms(p);
    switch (f->type) {
    case CC_FAULT_PARTITION:
        if (chance(m, 50))
            partition_sides(m, p, f);
        else
            f->duration_ns = chance(m, 20) ? 0 : ms_between(m, 30, wms * 2);
        break;
    case CC_FAULT_LOSS:
    case CC_FAULT_DUPLICATE:
    case CC_FAULT_REORDER:
        if (chance(m, 50)) {
            f->from = f->to = 0;
            pick_links(m, p, f);
        } else {
            f->ppm = (uint32_t)(100000 + xmut_below(m, 900001));
        }
        break;
    case CC_FAULT_PAUSE:
        if (chance(m, 50))
            f->vm = pick_vm(m, p, false);
        else
            f->duration_ns = ms_between(m, 20, wms < 800 ? wms : 800);
        break;
    case CC_FAULT_VCPU_SCHEDULE:
        if (chance(m, 50))
            f->vm = pick_vm(m, p, false);
        else
            f->seed = rng_u64(&m->rng);
        break;
    default:
        if (cc_fault_has_vm(f->type))
            f->vm = pick_vm(m, p, false);
        else if (f->duration_ns)
            f->duration_ns = ms_between(m, 30, wms);
        break;
    }
}

int xmut_faults_mutate(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                          unsigned max_ops, struct cc_err *err)
{
    if (!max_ops)
        max_ops = 1;
    unsigned ops = 1 + (unsigned)xmut_below(m, max_ops);
    int rc = 0;
    for (unsigned k = 0; k < ops && rc == 0; k++) {
        size_t idx[256];
        size_t n = window_faults(r, p, idx, 256);
        unsigned op = n ? (unsigned)xmut_below(m, 4) : 0;
        if (op == 0) {
            unsigned budget = 1;
            rc = add_one(m, r, p, &budget, err);
            continue;
        }
        size_t i = idx[xmut_below(m, n)];
        struct cc_fault f = *cc_schedule_get(r->sched, i);
        cc_schedule_remove(r->sched, i);
        if (op == 1)
            continue;                       /* removed */
        if (op == 2) {                      /* shifted by up to +-200 ms */
            int64_t d = (int64_t)ms_between(m, 1, 200);
            int64_t at = (int64_t)f.at_ns + (chance(m, 50) ? d : -d);
            if (at <= (int64_t)p->t0)
                at = (int64_t)(p->t0 + CC_MSEC);
            if (at >= (int64_t)p->t1)
                at = (int64_t)(p->t1 - CC_MSEC);
            f.at_ns = (uint64_t)at;
        } else {
            retarget(m, p, &f);
        }
        rc = add_fault(r, &f, err);
    }
    return rc;
}

int xmut_inputs(struct xmut *m, struct cc_recipe *r, const struct xpoint_info *p,
                   unsigned k, struct cc_err *err)
{
    if (!k)
        k = 1;
    unsigned v = pick_vm_of(m, p, true, 0);     /* clients make choices too */
    int rc = 0;
    unsigned others[CC_SIM_MAX_VMS], n_others = 0;
    for (unsigned i = 0; i < p->n_vms; i++)
        if (i != v && p->alive[i])
            others[n_others++] = i;
    if (n_others && chance(m, 35)) {
        /* Make two live VMs draw the same next value (e.g. equal election
         * timeouts, so that they campaign together). */
        unsigned u = others[xmut_below(m, n_others)];
        uint64_t val = chance(m, 50) ? 0 : xmut_below(m, 1u << 16);
        struct cc_xoverride a = {v, p->life[v], p->next_choice[v], val};
        struct cc_xoverride b = {u, p->life[u], p->next_choice[u], val};
        if (cc_recipe_add_override(r, &a) < 0 || cc_recipe_add_override(r, &b) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        return rc;
    }
    /* A re-mutated point keeps the choices its own branch overrode after
     * the base (the recipe holds them): change one of them, or make the
     * sequence one longer. This is how a search descends the tree of
     * choices made in one burst, e.g. right after setup, where no later
     * point can reach them. */
    uint64_t lo = p->next_choice[v], hi = 0;
    bool kept = false;
    for (size_t i = 0; i < r->n_ov; i++) {
        const struct cc_xoverride *o = &r->ov[i];
        if (o->vm == v && o->life == p->life[v] && o->index >= lo) {
            kept = true;
            hi = o->index > hi ? o->index : hi;
        }
    }
    if (kept && chance(m, 80)) {
        /* one of the choices the point's branch made after the base (kept
         * overrides or values from the seeded stream), or the next one;
         * small values often, since most choices are among a few */
        uint64_t end = p->made[v] > hi + 1 ? p->made[v] : hi + 1;
        uint64_t idx = lo + xmut_below(m, end - lo + 1);
        unsigned u = (unsigned)xmut_below(m, 100);
        uint64_t val = u < 25 ? 0 : u < 60 ? xmut_below(m, 16) : xmut_below(m, 1ull << 32);
        struct cc_xoverride o = {v, p->life[v], idx, val};
        if (cc_recipe_add_override(r, &o) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        return rc;
    }
    unsigned count = 1 + (unsigned)xmut_below(m, k);
    for (unsigned j = 0; j < count && rc == 0; j++) {
        uint64_t val = chance(m, 30) ? 0 : xmut_below(m, 1ull << 32);
        struct cc_xoverride o = {v, p->life[v], p->next_choice[v] + j, val};
        if (cc_recipe_add_override(r, &o) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    return rc;
}
