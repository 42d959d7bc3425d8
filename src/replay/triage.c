/* Triage of a bug file (chaoscontrol/replay.h): one boot, one replay of
 * the bug for its consoles, traffic and run log, then the counterfactual
 * replays: without each fault of its schedule (to tell the faults the
 * failure needs from the incidental ones) and with each moved by the
 * shifts (the window in which it must fall), from the setup snapshot or
 * from snapshots taken before each change; a sentence per fault names the
 * cause. Rendered as Markdown, JSON and an SVG timeline. The renderers and
 * the pure parts (shifts, moved schedules, the summary) only read their
 * arguments, so they are unit-tested without KVM on a made-up report. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "chaoscontrol/file.h"
#include "chaoscontrol/replay.h"
#include "chaoscontrol/sdk_host.h"
#include "explore/explore_internal.h"

const char *cc_triage_verdict_name(enum cc_triage_verdict v)
{
    switch (v) {
    case CC_TRIAGE_NECESSARY: return "necessary";
    case CC_TRIAGE_INCIDENTAL: return "incidental";
    case CC_TRIAGE_UNKNOWN: break;
    }
    return "unknown";
}

const char *cc_triage_cf_name(enum cc_triage_cf_result r)
{
    switch (r) {
    case CC_TRIAGE_CF_FAILS: return "still_fails";
    case CC_TRIAGE_CF_GONE: return "disappears";
    case CC_TRIAGE_CF_OTHER: return "other_failure";
    case CC_TRIAGE_CF_NOT_RUN: break;
    }
    return "not_run";
}

void cc_triage_opts_default(struct cc_triage_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tail_lines = 40;
    o->test_faults = true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int cc_triage_parse_shifts(const char *list, int64_t *out, size_t *n, struct cc_err *err)
{
    *n = 0;
    if (!list)
        return cc_err_set(err, EINVAL, "no shift list");
    if (!strcmp(list, "none"))
        return 0;
    size_t k = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof(item))
            return cc_err_set(err, EINVAL, "shift '%.*s': want a signed time such as -100ms "
                              "or 1s", (int)(len < 40 ? len : 40), p);
        memcpy(item, p, len);
        item[len] = 0;
        const char *m = item;
        bool neg = false;
        if (*m == '-' || *m == '+') {
            neg = *m == '-';
            m++;
        }
        uint64_t v;
        if (!cc_time_parse(m, &v) || v == 0 || v > (uint64_t)INT64_MAX)
            return cc_err_set(err, EINVAL, "shift '%s': want a non-zero signed time such as "
                              "-100ms or 1s", item);
        if (k == CC_TRIAGE_MAX_SHIFTS)
            return cc_err_set(err, EINVAL, "more than %d shifts", CC_TRIAGE_MAX_SHIFTS);
        int64_t d = neg ? -(int64_t)v : (int64_t)v;
        for (size_t j = 0; j < k; j++)
            if (out[j] == d)
                return cc_err_set(err, EINVAL, "shift '%s' is given twice", item);
        out[k++] = d;
        if (!e)
            break;
        p = e + 1;
    }
    qsort(out, k, sizeof(*out), cmp_i64);
    *n = k;
    return 0;
}

long cc_triage_partner(const struct cc_schedule *s, size_t i)
{
    size_t n = cc_schedule_count(s);
    if (i >= n)
        return -1;
    const struct cc_fault *f = cc_schedule_get(s, i);
    if (f->type == CC_FAULT_PARTITION && !f->duration_ns) {
        for (size_t j = i + 1; j < n; j++) {
            const struct cc_fault *g = cc_schedule_get(s, j);
            if (g->type == CC_FAULT_HEAL)
                return (long)j;
            if (g->type == CC_FAULT_PARTITION)
                return -1;
        }
        return -1;
    }
    if (f->type == CC_FAULT_HEAL) {
        for (size_t j = i; j-- > 0;) {
            const struct cc_fault *g = cc_schedule_get(s, j);
            if (g->type == CC_FAULT_HEAL)
                return -1;
            if (g->type == CC_FAULT_PARTITION)
                return g->duration_ns ? -1 : (long)j;
        }
    }
    return -1;
}

void cc_triage_shift_text(int64_t d, char *buf, size_t len)
{
    uint64_t m = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    static const struct {
        uint64_t unit;
        const char *name;
    } u[] = {{CC_SEC, "s"}, {CC_MSEC, "ms"}, {CC_USEC, "us"}, {1, "ns"}};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        if (m < u[i].unit && u[i].unit > 1)
            continue;
        if (m % u[i].unit == 0) {
            snprintf(buf, len, "%" PRIu64 " %s", m / u[i].unit, u[i].name);
        } else {
            /* the shortest decimal that is exact, at most 9 places */
            char num[48];
            snprintf(num, sizeof(num), "%.9f", (double)m / (double)u[i].unit);
            size_t l = strlen(num);
            while (l > 0 && num[l - 1] == '0')
                num[--l] = 0;
            snprintf(buf, len, "%s %s", num, u[i].name);
        }
        return;
    }
}

static bool add_shifted(uint64_t at, int64_t d, uint64_t *out)
{
    if (d < 0 && (uint64_t)0 - (uint64_t)d > at)
        return false;
    if (d > 0 && at > UINT64_MAX - (uint64_t)d)
        return false;
    *out = at + (uint64_t)d;
    return true;
}

int cc_triage_shift_schedule(const struct cc_schedule *s, size_t i, int64_t d, uint64_t lo,
                             uint64_t hi, struct cc_schedule **out, uint64_t *first,
                             struct cc_err *err)
{
    *out = NULL;
    size_t n = cc_schedule_count(s);
    if (i >= n)
        return cc_err_set(err, ENOENT, "no fault #%zu", i);
    const struct cc_fault *f = cc_schedule_get(s, i);
    long p = cc_triage_partner(s, i);
    bool with_heal = p >= 0 && f->type == CC_FAULT_PARTITION;
    char dt[32];
    cc_triage_shift_text(d, dt, sizeof(dt));
    struct cc_fault moved[2];
    size_t idx[2] = {i, with_heal ? (size_t)p : 0};
    size_t nm = with_heal ? 2 : 1;
    for (size_t k = 0; k < nm; k++) {
        moved[k] = *cc_schedule_get(s, idx[k]);
        uint64_t at;
        if (!add_shifted(moved[k].at_ns, d, &at) || at < lo)
            return cc_err_set(err, ERANGE, "%s %s it would come before setup (%.3f s)", dt,
                              d < 0 ? "earlier" : "later", lo / 1e9);
        if (at >= hi)
            return cc_err_set(err, ERANGE, "%s %s it would come at or after the bug's end "
                              "(%.3f s)", dt, d < 0 ? "earlier" : "later", hi / 1e9);
        moved[k].at_ns = at;
    }
    if (f->type == CC_FAULT_HEAL && p >= 0 && moved[0].at_ns <= cc_schedule_get(s, (size_t)p)->at_ns)
        return cc_err_set(err, ERANGE, "%s %s the heal would come before its partition "
                          "(#%ld at %.3f s)", dt, d < 0 ? "earlier" : "later", p,
                          cc_schedule_get(s, (size_t)p)->at_ns / 1e9);
    struct cc_schedule *c = cc_schedule_clone(s);
    if (!c)
        return cc_err_set(err, ENOMEM, "out of memory");
    /* remove the later index first */
    if (nm == 2)
        cc_schedule_remove(c, idx[1]);
    cc_schedule_remove(c, idx[0]);
    int rc = 0;
    for (size_t k = 0; k < nm && rc >= 0; k++)
        rc = cc_schedule_add(c, &moved[k], err);
    if (rc < 0) {
        cc_schedule_free(c);
        return rc;
    }
    uint64_t e = f->at_ns < moved[0].at_ns ? f->at_ns : moved[0].at_ns;
    *first = e;
    *out = c;
    return 0;
}

void cc_triage_free(struct cc_triage *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < CC_SIM_MAX_VMS; i++)
        free(t->vm[i].console_tail);
    free(t->links);
    free(t->log);
    free(t->faults);
    free(t->bug_path);
    free(t);
}

/* Append to a NUL-terminated buffer, truncating. */
static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t l = strnlen(buf, cap);
    if (l + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + l, cap - l, fmt, ap);
    va_end(ap);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(const struct cc_triage_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const struct cc_triage_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->progress(o->opaque, msg);
}

/* What the run left: consoles, VM states, link counters, the run log. */
static int collect(struct cc_triage *t, struct cc_sim *sim, unsigned tail_lines)
{
    for (unsigned i = 0; i < t->n_vms; i++) {
        struct cc_triage_vm *v = &t->vm[i];
        size_t len;
        const uint8_t *s = cc_vm_serial(cc_sim_vm(sim, i), &len);
        size_t from = cc_text_tail(s, len, tail_lines);
        v->console_bytes = len;
        v->tail_lines = tail_lines;
        v->console_tail = cc_text_clean(s ? s + from : NULL, s ? len - from : 0);
        if (!v->console_tail)
            return -ENOMEM;
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        snprintf(v->state, sizeof(v->state), "%s", cc_sim_vm_state_name(st.state));
        v->vtime = st.vtime;
        v->exits = st.exits;
        v->restarts = st.restarts;
    }
    t->links = calloc((size_t)t->n_vms * t->n_vms, sizeof(*t->links));
    if (!t->links)
        return -ENOMEM;
    for (unsigned a = 0; a < t->n_vms; a++)
        for (unsigned b = 0; b < t->n_vms; b++) {
            struct cc_link_stats ls;
            if (a == b || cc_sim_link_stats(sim, a, b, &ls) < 0 || !ls.sent)
                continue;
            t->links[t->n_links++] = (struct cc_triage_link){a, b, ls};
        }
    size_t n;
    const struct cc_sim_log_entry *log = cc_sim_log(sim, &n);
    if (n) {
        t->log = malloc(n * sizeof(*t->log));
        if (!t->log)
            return -ENOMEM;
        memcpy(t->log, log, n * sizeof(*t->log));
        t->n_log = n;
    }
    return 0;
}

static void outcome_text(const struct cc_bug *b, const struct cc_xrun_result *res, char *out,
                         size_t len)
{
    const struct cc_xfailure *g = &res->fail;
    if (!g->failed)
        snprintf(out, len, "no failure: the run %s at %.6f s", res->all_down ?
                 "lost every VM" : "ended", res->end_ns / 1e9);
    else if (g->id == b->fail.id)
        snprintf(out, len, "still fails: \"%.150s\" in vm %u at %.6f s", g->message, g->vm,
                 g->sim_ns / 1e9);
    else
        snprintf(out, len, "another failure instead: \"%.150s\" in vm %u at %.6f s", g->message,
                 g->vm, g->sim_ns / 1e9);
}

/* ---- snapshots during the bug's replay ----
 *
 * The counterfactual replays start at the times where they first differ
 * from the bug (targets). During the bug's replay the simulation may be
 * snapshotted at a quantum boundary T with target - 100 ms <= T < target
 * (and again once within 10 ms of it; boundaries can be far apart while
 * every VM is idle, so the nearer one may not exist); one snapshot serves
 * every target in reach. T is a boundary of the changed run too: up to T
 * both runs have the same faults, so the same boundaries (a boundary is
 * the earliest of the next quantum, fault, frame arrival, pause end and
 * limit) and the same state.
 *
 * A snapshot costs time (a copy of the memory the VMs dirtied, then the
 * VMs faulting their memory back in), so one is taken only when it saves
 * more: the replays it would serve times the wall time the bug's replay
 * took since the snapshot they would use otherwise, against three times
 * the measured time of the snapshots so far (the first one is taken to
 * measure it). */
struct snapplan {
    uint64_t *target;           /* ascending, unique */
    unsigned *jobs;             /* replays that start at each target */
    struct cc_sim_snapshot **snap;
    uint64_t *snap_ns;          /* where snap[k] was taken */
    double *snap_el;            /* the replay's elapsed wall time there */
    size_t n, next, taken;
    double w0, w_snaps;         /* replay start; wall time spent snapshotting */
    double last_el;             /* elapsed at the last snapshot taken (root: 0) */
    int rc;
    struct cc_err err;
};

static const uint64_t snap_leads[2] = {100 * CC_MSEC, CC_TRIAGE_SNAP_LEAD_NS};

/* Would a snapshot now serve target k (in reach)? Yes when it has none,
 * or only one from before its nearer lead and now is within it: at most
 * two per target. */
static bool want(const struct snapplan *sp, size_t k, uint64_t now)
{
    if (!sp->snap[k])
        return true;
    return sp->snap_ns[k] + snap_leads[1] < sp->target[k] &&
           now + snap_leads[1] >= sp->target[k];
}

static void snap_boundary(void *opaque, struct cc_sim *sim)
{
    struct snapplan *sp = opaque;
    if (sp->rc < 0)
        return;
    uint64_t now = cc_sim_now(sim);
    while (sp->next < sp->n && sp->target[sp->next] <= now)
        sp->next++;
    if (sp->next == sp->n || sp->target[sp->next] > now + snap_leads[0])
        return;
    double w = wall(), el = w - sp->w0 - sp->w_snaps, gain = 0;
    for (size_t k = sp->next; k < sp->n && sp->target[k] <= now + snap_leads[0]; k++) {
        if (!want(sp, k, now))
            continue;
        gain += sp->jobs[k] * (el - (sp->snap[k] ? sp->snap_el[k] : sp->last_el));
    }
    /* what a snapshot costs in all: its own time, and about twice that
     * again afterwards while the VMs fault their memory back in from it
     * (measured in the QEMU test host: 19 snapshots of 3 Raft VMs took
     * 0.25 s each and slowed the replay by 0.68 s each in all) */
    double cost = sp->taken ? 3 * sp->w_snaps / (double)sp->taken : 0;
    if (gain <= cost)
        return;
    struct cc_sim_snapshot *s = NULL;
    if ((sp->rc = cc_sim_snapshot(sim, &s, &sp->err)) < 0)
        return;
    sp->taken++;
    sp->w_snaps += wall() - w;
    sp->last_el = el;
    bool used = false;
    for (size_t k = sp->next; k < sp->n && sp->target[k] <= now + snap_leads[0]; k++) {
        if (!want(sp, k, now))
            continue;
        if (used)
            cc_sim_snapshot_get(s);
        used = true;
        if (sp->snap[k])
            cc_sim_snapshot_put(sp->snap[k]);
        sp->snap[k] = s;
        sp->snap_ns[k] = now;
        sp->snap_el[k] = el;
    }
}

static void snapplan_free(struct snapplan *sp)
{
    for (size_t k = 0; k < sp->n; k++)
        if (sp->snap && sp->snap[k])
            cc_sim_snapshot_put(sp->snap[k]);
    free(sp->snap);
    free(sp->snap_ns);
    free(sp->snap_el);
    free(sp->jobs);
    free(sp->target);
}

/* The last snapshot taken before t (NULL: the root). */
static struct cc_sim_snapshot *snapplan_find(const struct snapplan *sp, uint64_t t)
{
    struct cc_sim_snapshot *best = NULL;
    for (size_t k = 0; k < sp->n && sp->target[k] <= t; k++)
        if (sp->snap[k])
            best = sp->snap[k];
    return best;
}

/* One planned counterfactual replay. */
struct cfjob {
    size_t fault;
    struct cc_triage_cf *cf;
    struct cc_recipe *r;        /* NULL: not run (cf->why_not says why) */
    uint64_t first;             /* where it first differs from the bug */
};

static int plan_jobs(struct cc_triage *t, const struct cc_bug *b, struct cfjob **out,
                     size_t *n_out, struct cc_err *err)
{
    size_t per = 1 + t->n_shifts, n = t->n_faults * per, k = 0;
    struct cfjob *j = n ? calloc(n, sizeof(*j)) : NULL;
    if (n && !j)
        return cc_err_set(err, ENOMEM, "out of memory");
    const struct cc_schedule *s = b->recipe->sched;
    for (size_t i = 0; i < t->n_faults; i++) {
        struct cc_triage_fault *tf = &t->faults[i];
        for (size_t m = 0; m < per; m++, k++) {
            struct cfjob *c = &j[k];
            c->fault = i;
            c->cf = m == 0 ? &tf->without : &tf->shifts[m - 1];
            c->cf->removed = m == 0;
            c->cf->shift_ns = m == 0 ? 0 : t->shifts[m - 1];
            c->r = cc_recipe_clone(b->recipe);
            if (!c->r)
                goto oom;
            if (m == 0) {
                if (cc_schedule_remove(c->r->sched, i) < 0)
                    goto oom;
                c->first = tf->f.at_ns;
                continue;
            }
            int64_t d = t->shifts[m - 1];
            struct cc_schedule *ns;
            struct cc_err e = {0};
            int rc = cc_triage_shift_schedule(s, i, d, t->setup_ns, b->recipe->end_ns, &ns,
                                              &c->first, &e);
            if (rc == -ENOMEM)
                goto oom;
            if (rc < 0) {
                appendf(c->cf->why_not, sizeof(c->cf->why_not), "%s", e.msg);
                cc_recipe_free(c->r);
                c->r = NULL;
                continue;
            }
            cc_schedule_free(c->r->sched);
            c->r->sched = ns;
            c->cf->at_ns = tf->f.at_ns + (uint64_t)d;
            if (d > 0) {
                /* run d longer: the failure may come d later too */
                uint64_t end = b->recipe->end_ns + (uint64_t)d;
                if (cc_recipe_add_stop(c->r, end) < 0)
                    goto oom;
                c->r->end_ns = end;
            }
        }
    }
    *out = j;
    *n_out = k;
    return 0;
oom:
    for (size_t x = 0; x < n; x++)
        cc_recipe_free(j[x].r);
    free(j);
    return cc_err_set(err, ENOMEM, "out of memory");
}

static void jobs_free(struct cfjob *j, size_t n)
{
    for (size_t x = 0; x < n; x++)
        cc_recipe_free(j[x].r);
    free(j);
}

static int plan_snapshots(struct snapplan *sp, const struct cfjob *j, size_t n, uint64_t setup,
                          struct cc_err *err)
{
    memset(sp, 0, sizeof(*sp));
    sp->target = n ? malloc(n * sizeof(*sp->target)) : NULL;
    if (n && !sp->target)
        return cc_err_set(err, ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        if (j[k].r && j[k].first > setup)
            sp->target[sp->n++] = j[k].first;
    qsort(sp->target, sp->n, sizeof(*sp->target), cmp_u64);
    size_t w = 0;
    for (size_t k = 0; k < sp->n; k++)
        if (!w || sp->target[w - 1] != sp->target[k])
            sp->target[w++] = sp->target[k];
    sp->n = w;
    sp->snap = w ? calloc(w, sizeof(*sp->snap)) : NULL;
    sp->snap_ns = w ? calloc(w, sizeof(*sp->snap_ns)) : NULL;
    sp->snap_el = w ? calloc(w, sizeof(*sp->snap_el)) : NULL;
    sp->jobs = w ? calloc(w, sizeof(*sp->jobs)) : NULL;
    if (w && (!sp->snap || !sp->snap_ns || !sp->snap_el || !sp->jobs))
        return cc_err_set(err, ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        for (size_t x = 0; j[k].r && x < w; x++)
            if (sp->target[x] == j[k].first)
                sp->jobs[x]++;
    return 0;
}

static enum cc_triage_cf_result classify(const struct cc_bug *b, const struct cc_xrun_result *r)
{
    if (!r->fail.failed)
        return CC_TRIAGE_CF_GONE;
    return r->fail.id == b->fail.id ? CC_TRIAGE_CF_FAILS : CC_TRIAGE_CF_OTHER;
}

static void change_text(const struct cc_triage_cf *cf, char *buf, size_t len)
{
    if (cf->removed) {
        snprintf(buf, len, "without it");
        return;
    }
    char dt[32];
    cc_triage_shift_text(cf->shift_ns, dt, sizeof(dt));
    snprintf(buf, len, "%s %s", dt, cf->shift_ns < 0 ? "earlier" : "later");
}

int cc_triage_run(const struct cc_bug *b, const char *bug_path, const struct cc_xrun_opts *ro,
                  const struct cc_triage_opts *o, struct cc_triage **out, struct cc_err *err)
{
    *out = NULL;
    struct cc_triage_opts def;
    if (!o) {
        cc_triage_opts_default(&def);
        o = &def;
    }
    double t0 = wall();
    struct cc_triage *t = calloc(1, sizeof(*t));
    if (!t || !(t->bug_path = strdup(bug_path ? bug_path : "bug.json"))) {
        free(t);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    t->bug = b;
    t->n_vms = b->target.n_vms;
    if (o->test_faults) {
        if (o->shifts) {
            size_t n = o->n_shifts < CC_TRIAGE_MAX_SHIFTS ? o->n_shifts : CC_TRIAGE_MAX_SHIFTS;
            size_t w = 0;
            for (size_t i = 0; i < n; i++)
                if (o->shifts[i])
                    t->shifts[w++] = o->shifts[i];
            qsort(t->shifts, w, sizeof(t->shifts[0]), cmp_i64);
            t->n_shifts = w;
        } else if (cc_triage_parse_shifts(CC_TRIAGE_DEFAULT_SHIFTS, t->shifts, &t->n_shifts,
                                          err) < 0) {
            cc_triage_free(t);
            return -EINVAL;
        }
    }
    t->from_snapshots = o->from_snapshots;
    size_t nf = cc_schedule_count(b->recipe->sched);
    if (nf && !(t->faults = calloc(nf, sizeof(*t->faults)))) {
        cc_triage_free(t);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    t->n_faults = nf;
    for (size_t i = 0; i < nf; i++) {
        t->faults[i].f = *cc_schedule_get(b->recipe->sched, i);
        t->faults[i].partner = cc_triage_partner(b->recipe->sched, i);
        cc_fault_describe(&t->faults[i].f, t->faults[i].text, sizeof(t->faults[i].text));
    }

    progress(o, "booting the target (%u VMs) to setup", t->n_vms);
    struct cc_xrun *x;
    int rc = cc_xrun_boot(&b->target, ro, &x, err);
    if (rc < 0) {
        cc_triage_free(t);
        return rc;
    }
    struct cc_sim *sim = cc_xrun_sim(x);
    t->setup_ns = cc_sim_now(sim);

    struct cfjob *jobs = NULL;
    size_t nj = 0;
    struct snapplan sp;
    memset(&sp, 0, sizeof(sp));
    if (o->test_faults) {
        rc = plan_jobs(t, b, &jobs, &nj, err);
        if (rc == 0 && o->from_snapshots)
            rc = plan_snapshots(&sp, jobs, nj, t->setup_ns, err);
    }

    struct cc_xrun_result res;
    if (rc == 0) {
        progress(o, "replaying the bug (%zu faults, to %.3f s)%s", nf, b->recipe->end_ns / 1e9,
                 sp.n ? ", snapshotting before each change" : "");
        rc = cc_sim_restore(sim, xrun_root(x), err);
    }
    if (rc == 0) {
        struct xrun_hooks h = {.boundary = snap_boundary, .opaque = &sp};
        sp.w0 = wall();
        rc = xrun_play(x, b->recipe, sp.n ? &h : NULL, &res, err);
        if (rc == 0 && sp.rc < 0) {
            *err = sp.err;
            rc = cc_err_prefix(err, "snapshot during the replay");
        }
    }
    t->snapshots = sp.taken;
    t->snapshot_wall_s = sp.w_snaps;
    if (rc == 0) {
        struct cc_repro rp;
        cc_bug_compare(b, &res, &rp);
        t->reproduced = rp.same;
        snprintf(t->repro_diff, sizeof(t->repro_diff), "%s", rp.diff);
        t->replayed = res.fail;
        t->end_ns = res.end_ns;
        if (collect(t, sim, o->tail_lines ? o->tail_lines : 40) < 0)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    double c0 = wall();
    size_t runs = 0, done = 0;
    for (size_t k = 0; k < nj; k++)
        runs += jobs[k].r != NULL;
    for (size_t k = 0; rc == 0 && k < nj; k++) {
        struct cfjob *jb = &jobs[k];
        struct cc_triage_cf *cf = jb->cf;
        const struct cc_triage_fault *tf = &t->faults[jb->fault];
        char what[64];
        change_text(cf, what, sizeof(what));
        if (!jb->r) {
            cf->result = CC_TRIAGE_CF_NOT_RUN;
            continue;
        }
        struct cc_sim_snapshot *from = o->from_snapshots ? snapplan_find(&sp, jb->first) : NULL;
        cf->from_ns = t->setup_ns;
        double w0 = wall();
        rc = cc_sim_restore(sim, from ? from : xrun_root(x), err);
        if (rc == 0) {
            cf->from_ns = cc_sim_now(sim);
            progress(o, "counterfactual %zu/%zu: fault #%zu (%s at %.3f s) %s, from %.3f s",
                     ++done, runs, jb->fault, cc_fault_type_name(tf->f.type), tf->f.at_ns / 1e9,
                     what, cf->from_ns / 1e9);
            struct cc_xrun_result fr;
            rc = xrun_play(x, jb->r, NULL, &fr, err);
            if (rc == 0) {
                cf->wall_s = wall() - w0;
                cf->result = classify(b, &fr);
                cf->end_ns = fr.end_ns;
                cf->sim_hash = fr.sim_hash;
                outcome_text(b, &fr, cf->outcome, sizeof(cf->outcome));
            }
        }
        if (rc < 0)
            cc_err_prefix(err, "replay of fault #%zu %s", jb->fault, what);
    }
    t->cf_wall_s = wall() - c0;
    t->faults_tested = rc == 0 && o->test_faults;
    t->shifts_tested = t->faults_tested && t->n_shifts;
    jobs_free(jobs, nj);
    snapplan_free(&sp);
    cc_xrun_free(x);
    if (rc < 0) {
        cc_triage_free(t);
        return rc;
    }
    cc_triage_summarize(t);
    t->wall_s = wall() - t0;
    *out = t;
    return 0;
}

/* ---- the cause in words ---- */

/* "a, or b, or c" of the changes of tf with result in the set. */
static void list_changes(const struct cc_triage *t, const struct cc_triage_fault *tf,
                         bool gone, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
#define MATCH(cf) ((cf)->result != CC_TRIAGE_CF_NOT_RUN && \
                   (((cf)->result != CC_TRIAGE_CF_FAILS) == gone))
#define PUT(...) do { \
        int w_ = snprintf(buf + at, at < len ? len - at : 0, __VA_ARGS__); \
        if (w_ > 0) at += (size_t)w_; \
        if (at >= len) at = len - 1; \
    } while (0)
    bool first = true;
    if (MATCH(&tf->without)) {
        PUT("without it%s", tf->without.result == CC_TRIAGE_CF_OTHER ?
            " (another assertion fails instead)" : "");
        first = false;
    }
    /* by magnitude, smallest first, "d earlier or later" when both */
    uint64_t mags[CC_TRIAGE_MAX_SHIFTS];
    size_t nm = 0;
    for (size_t i = 0; i < t->n_shifts; i++) {
        int64_t d = t->shifts[i];
        uint64_t m = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
        bool seen = false;
        for (size_t j = 0; j < nm; j++)
            seen |= mags[j] == m;
        if (!seen)
            mags[nm++] = m;
    }
    qsort(mags, nm, sizeof(mags[0]), cmp_u64);
    for (size_t i = 0; i < nm; i++) {
        uint64_t m = mags[i];
        const struct cc_triage_cf *early = NULL, *late = NULL;
        for (size_t j = 0; j < t->n_shifts; j++) {
            int64_t e = t->shifts[j];
            if ((e < 0 ? (uint64_t)0 - (uint64_t)e : (uint64_t)e) != m)
                continue;
            if (MATCH(&tf->shifts[j]))
                *(e < 0 ? &early : &late) = &tf->shifts[j];
        }
        if (!early && !late)
            continue;
        char dt[32];
        cc_triage_shift_text((int64_t)m, dt, sizeof(dt));
        PUT("%s%s %s", first ? "" : ", or ", dt,
            early && late ? "earlier or later" : early ? "earlier" : "later");
        if ((early && early->result == CC_TRIAGE_CF_OTHER) ||
            (late && late->result == CC_TRIAGE_CF_OTHER))
            PUT("%s", " (another assertion fails instead)");
        first = false;
    }
#undef PUT
#undef MATCH
}

static size_t count_cf(const struct cc_triage *t, const struct cc_triage_fault *tf, int which)
{
    /* which: 0 shifts run, 1 shifts that still fail, 2 shifts without the failure */
    size_t n = 0;
    for (size_t j = 0; j < t->n_shifts; j++) {
        enum cc_triage_cf_result r = tf->shifts[j].result;
        if (r == CC_TRIAGE_CF_NOT_RUN)
            continue;
        n += which == 0 || (which == 1) == (r == CC_TRIAGE_CF_FAILS);
    }
    return n;
}

void cc_triage_summarize(struct cc_triage *t)
{
    for (size_t i = 0; i < t->n_faults; i++) {
        struct cc_triage_fault *tf = &t->faults[i];
        switch (tf->without.result) {
        case CC_TRIAGE_CF_FAILS: tf->verdict = CC_TRIAGE_INCIDENTAL; break;
        case CC_TRIAGE_CF_GONE:
        case CC_TRIAGE_CF_OTHER: tf->verdict = CC_TRIAGE_NECESSARY; break;
        case CC_TRIAGE_CF_NOT_RUN: tf->verdict = CC_TRIAGE_UNKNOWN; break;
        }
        if (tf->without.result != CC_TRIAGE_CF_NOT_RUN) {
            snprintf(tf->outcome, sizeof(tf->outcome), "%s", tf->without.outcome);
            tf->wall_s = tf->without.wall_s;
        }
        /* the window: the shifts next to 0 that still fail, and the tested
         * ones just beyond it that do not */
        tf->win_lo = tf->win_hi = 0;
        tf->win_lo_bounded = tf->win_hi_bounded = false;
        int64_t out_lo = 0, out_hi = 0;
        for (size_t j = t->n_shifts; j-- > 0;) {
            if (t->shifts[j] > 0)
                continue;
            enum cc_triage_cf_result r = tf->shifts[j].result;
            if (r == CC_TRIAGE_CF_FAILS) {
                tf->win_lo = t->shifts[j];
                continue;
            }
            tf->win_lo_bounded = r != CC_TRIAGE_CF_NOT_RUN;
            out_lo = t->shifts[j];
            break;
        }
        for (size_t j = 0; j < t->n_shifts; j++) {
            if (t->shifts[j] < 0)
                continue;
            enum cc_triage_cf_result r = tf->shifts[j].result;
            if (r == CC_TRIAGE_CF_FAILS) {
                tf->win_hi = t->shifts[j];
                continue;
            }
            tf->win_hi_bounded = r != CC_TRIAGE_CF_NOT_RUN;
            out_hi = t->shifts[j];
            break;
        }

        char head[400], gone[300], fails[300];
        snprintf(head, sizeof(head), "fault #%zu (%s at %.3f s)", i, tf->text,
                 tf->f.at_ns / 1e9);
        list_changes(t, tf, true, gone, sizeof(gone));
        list_changes(t, tf, false, fails, sizeof(fails));
        size_t run = count_cf(t, tf, 0), still = count_cf(t, tf, 1);
        char *s = tf->summary;
        size_t cap = sizeof(tf->summary);
        s[0] = 0;
        if (tf->without.result == CC_TRIAGE_CF_NOT_RUN) {
            appendf(s, cap, "%s was not tested", head);
        } else if (tf->verdict == CC_TRIAGE_NECESSARY) {
            if (!run)
                appendf(s, cap, "%s is necessary: %s, the failure disappears", head, gone);
            else if (!still)
                appendf(s, cap, "%s is the cause, at exactly its moment: %s, the failure "
                        "disappears", head, gone);
            else if (still == run)
                appendf(s, cap, "%s is the cause, but not its exact moment: %s, the failure "
                        "disappears; %s it still fails", head, gone, fails);
            else
                appendf(s, cap, "%s is the cause: %s, the failure disappears; %s it still "
                        "fails", head, gone, fails);
        } else {
            if (run == still)
                appendf(s, cap, "%s is incidental: %s, the same failure happens", head, fails);
            else
                appendf(s, cap, "%s is incidental, but its moment matters: %s, the same "
                        "failure happens; %s the failure disappears", head, fails, gone);
        }
        if (tf->without.result != CC_TRIAGE_CF_NOT_RUN &&
            (tf->win_lo_bounded || tf->win_hi_bounded)) {
            uint64_t at = tf->f.at_ns;
            if (tf->win_lo == tf->win_hi)
                appendf(s, cap, ". The window: of the moments tried it fails only at %.3f s",
                        at / 1e9);
            else
                appendf(s, cap, ". The window: it still fails with the fault anywhere from "
                        "%.3f s to %.3f s of the moments tried",
                        (at + (uint64_t)tf->win_lo) / 1e9, (at + (uint64_t)tf->win_hi) / 1e9);
            if (tf->win_lo_bounded && tf->win_hi_bounded)
                appendf(s, cap, ", not at %.3f s or %.3f s", (at + (uint64_t)out_lo) / 1e9,
                        (at + (uint64_t)out_hi) / 1e9);
            else
                appendf(s, cap, ", not at %.3f s",
                        (at + (uint64_t)(tf->win_lo_bounded ? out_lo : out_hi)) / 1e9);
        }
    }
}

/* ---- Markdown ---- */

/* A table cell: no newlines, '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

/* A fenced block that no backtick run inside it can close. */
static void md_fence(FILE *f, const char *lang, const char *text)
{
    size_t run = 0, max = 0;
    for (const char *p = text; p && *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > max)
            max = run;
    }
    size_t n = max >= 3 ? max + 1 : 3;
    for (size_t i = 0; i < n; i++)
        fputc('`', f);
    fprintf(f, "%s\n", lang);
    for (const char *p = text; p && *p; p++)
        fputc((*p >= 32 || *p == '\n' || *p == '\t') && *p != 127 ? *p : '.', f);
    if (text && *text && text[strlen(text) - 1] != '\n')
        fputc('\n', f);
    for (size_t i = 0; i < n; i++)
        fputc('`', f);
    fputc('\n', f);
}

static uint64_t fault_end(const struct cc_fault *f)
{
    return f->duration_ns ? f->at_ns + f->duration_ns : 0;
}

static void md_list(FILE *f, const struct cc_triage *t, enum cc_triage_verdict v)
{
    bool any = false;
    for (size_t i = 0; i < t->n_faults; i++)
        if (t->faults[i].verdict == v) {
            fprintf(f, "%s#%zu %s", any ? ", " : "", i, cc_fault_type_name(t->faults[i].f.type));
            any = true;
        }
    if (!any)
        fputs("none", f);
}

static const char *cf_cell(const struct cc_triage_cf *cf)
{
    switch (cf->result) {
    case CC_TRIAGE_CF_FAILS: return "fails";
    case CC_TRIAGE_CF_GONE: return "**gone**";
    case CC_TRIAGE_CF_OTHER: return "**other**";
    case CC_TRIAGE_CF_NOT_RUN: break;
    }
    return "n/a";
}

static void md_counterfactuals(FILE *f, const struct cc_triage *t)
{
    fprintf(f, "## Counterfactuals\n\n");
    fprintf(f, "Each fault was removed%s, and the rest of the recipe replayed. "
            "fails: the same assertion still failed; **gone**: the run reached its end "
            "without a failure; **other**: another assertion failed instead; n/a: not run "
            "(the move would put the fault before setup or past the bug's end).",
            t->n_shifts ? ", and moved earlier and later by each shift (with its duration, "
            "or with the heal that ends it)" : "");
    if (t->from_snapshots)
        fprintf(f, " Each replay started from the last snapshot before its first change "
                "(taken during the bug's replay at a quantum boundary shortly before it, "
                "where that saves more time than the snapshot costs: %zu snapshots, %.1f s; "
                "otherwise from setup), which gives the same run as a replay from setup.",
                t->snapshots, t->snapshot_wall_s);
    else
        fprintf(f, " Each replay started from the setup snapshot.");
    fprintf(f, " The counterfactual replays took %.1f s of wall time.\n\n", t->cf_wall_s);
    fprintf(f, "| # | fault | at (s) | without it |");
    for (size_t k = 0; k < t->n_shifts; k++) {
        char dt[32];
        cc_triage_shift_text(t->shifts[k], dt, sizeof(dt));
        fprintf(f, " %s%s |", t->shifts[k] < 0 ? "−" : "+", dt);
    }
    fprintf(f, "\n|---|---|---|---|");
    for (size_t k = 0; k < t->n_shifts; k++)
        fprintf(f, "---|");
    fputc('\n', f);
    for (size_t i = 0; i < t->n_faults; i++) {
        const struct cc_triage_fault *tf = &t->faults[i];
        fprintf(f, "| %zu | ", i);
        md_cell(f, tf->text);
        fprintf(f, " | %.6f | %s |", tf->f.at_ns / 1e9, cf_cell(&tf->without));
        for (size_t k = 0; k < t->n_shifts; k++)
            fprintf(f, " %s |", cf_cell(&tf->shifts[k]));
        fputc('\n', f);
    }
    fprintf(f, "\nThe cause, fault by fault:\n\n");
    for (size_t i = 0; i < t->n_faults; i++)
        if (t->faults[i].summary[0])
            fprintf(f, "- %s.\n", t->faults[i].summary);
    fputc('\n', f);
}

char *cc_triage_markdown(const struct cc_triage *t, const char *svg_name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const struct cc_bug *b = t->bug;
    const struct cc_xfailure *x = &b->fail;
    fprintf(f, "# Triage of `%s`\n\n", t->bug_path);
    fprintf(f, "## Failing property\n\n");
    bool checker = !strcmp(x->file, "chaoscontrol:checker");
    if (checker) {
        fprintf(f, "**%s** `%s` failed: the history checker (`%s`) judged the run's operation "
                "history at its end, %.6f s of simulation time.\n\n", cc_kind_name(x->kind),
                x->message, x->function[0] ? x->function : "?", x->sim_ns / 1e9);
    } else {
        fprintf(f, "**%s** `%s` failed in **vm %u** at %s:%u", cc_kind_name(x->kind),
                x->message, x->vm, x->file, x->line);
        if (x->function[0])
            fprintf(f, " (`%s`)", x->function);
        fprintf(f, ", at %.6f s of simulation time (the VM's clock: %.6f s, its exit %" PRIu64
                ").\n\n", x->sim_ns / 1e9, x->vm_ns / 1e9, x->exit);
    }
    if (x->details[0] && !(b->history_explain && !strcmp(x->details, b->history_explain))) {
        fprintf(f, "Details:\n\n");
        md_fence(f, "", x->details);
        fputc('\n', f);
    }
    fprintf(f, "Replayed from a fresh boot: %s%s%s.\n\n", t->reproduced ? "**reproduced** (the "
            "same failure at the same virtual time)" : "**not reproduced**: ",
            t->reproduced ? "" : t->repro_diff, "");
    if (b->history_explain || b->history_witness) {
        fprintf(f, "### The history checker\n\n");
        if (b->history_explain)
            fprintf(f, "%s\n\n", b->history_explain);
        if (b->history_witness) {
            fprintf(f, "The smallest failing sub-history (JSON lines, times in ns of virtual "
                    "time):\n\n");
            md_fence(f, "json", b->history_witness);
            fputc('\n', f);
        }
        if (b->history_ops)
            fprintf(f, "The run's whole history: %zu operations%s%s%s.\n\n", b->history_ops,
                    b->history_file ? " in `" : "", b->history_file ? b->history_file : "",
                    b->history_file ? "`" : "");
    }

    fprintf(f, "## Fault schedule\n\n");
    if (!t->n_faults) {
        fprintf(f, "No faults: the failure needs none.\n\n");
    } else {
        if (svg_name)
            fprintf(f, "![timeline](%s)\n\n", svg_name);
        fprintf(f, "| # | at (s) | until (s) | fault | verdict | without it |\n");
        fprintf(f, "|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < t->n_faults; i++) {
            const struct cc_triage_fault *tf = &t->faults[i];
            uint64_t end = fault_end(&tf->f);
            fprintf(f, "| %zu | %.6f | ", i, tf->f.at_ns / 1e9);
            if (end)
                fprintf(f, "%.6f", end / 1e9);
            else
                fputs(cc_fault_is_instant(tf->f.type) ? "(instant)" : "(to the end)", f);
            fputs(" | ", f);
            md_cell(f, tf->text);
            fprintf(f, " | %s | ", tf->verdict == CC_TRIAGE_NECESSARY ? "**necessary**" :
                    cc_triage_verdict_name(tf->verdict));
            md_cell(f, tf->outcome[0] ? tf->outcome : "not tested");
            fputs(" |\n", f);
        }
        fputc('\n', f);
        if (t->faults_tested) {
            fprintf(f, "Each fault was removed in turn and the rest replayed from the setup "
                    "snapshot: **necessary** means the failure disappeared without it (or "
                    "another one took its place), incidental that the same assertion still "
                    "failed.\n\n");
            fprintf(f, "- necessary: ");
            md_list(f, t, CC_TRIAGE_NECESSARY);
            fprintf(f, "\n- incidental: ");
            md_list(f, t, CC_TRIAGE_INCIDENTAL);
            fprintf(f, "\n\n");
        }
    }
    if (t->faults_tested && t->n_faults)
        md_counterfactuals(f, t);
    if (b->recipe && b->recipe->n_ov)
        fprintf(f, "The recipe also sets %zu random choice%s (`cc_random_choice` overrides); "
                "they stay in every replay.\n\n", b->recipe->n_ov, b->recipe->n_ov == 1 ? "" : "s");

    if (t->n_log) {
        fprintf(f, "## Run log\n\n| time (s) | vm | event |\n|---|---|---|\n");
        for (size_t i = 0; i < t->n_log; i++) {
            const struct cc_sim_log_entry *e = &t->log[i];
            if (e->vm < 0)
                fprintf(f, "| %.6f | - | %s: ", e->vtime / 1e9, cc_sim_log_kind_name(e->kind));
            else
                fprintf(f, "| %.6f | %d | %s: ", e->vtime / 1e9, e->vm,
                        cc_sim_log_kind_name(e->kind));
            md_cell(f, e->text);
            fputs(" |\n", f);
        }
        fputc('\n', f);
    }

    fprintf(f, "## Network traffic per link\n\n");
    if (!t->n_links) {
        fprintf(f, "No frames were sent.\n\n");
    } else {
        fprintf(f, "| link | sent | bytes | delivered | dropped: partition | loss | queue | "
                "down | rx full | duplicated | corrupted | reordered | in flight |\n");
        fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < t->n_links; i++) {
            const struct cc_link_stats *s = &t->links[i].st;
            fprintf(f, "| %u → %u | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
                    " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
                    " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " |\n", t->links[i].from,
                    t->links[i].to, s->sent, s->sent_bytes, s->delivered, s->dropped_partition,
                    s->dropped_loss, s->dropped_queue, s->dropped_down, s->dropped_rx,
                    s->duplicated, s->corrupted, s->reordered, s->in_flight);
        }
        fputc('\n', f);
    }

    fprintf(f, "## Consoles up to the failure\n\n");
    for (unsigned i = 0; i < t->n_vms; i++) {
        const struct cc_triage_vm *v = &t->vm[i];
        fprintf(f, "### vm %u%s\n\n", i, i == x->vm && !checker ? " (the failing VM)" : "");
        fprintf(f, "%s at %.6f s of its clock, %" PRIu64 " exits, %" PRIu64 " restart%s; the "
                "last %u lines of %zu bytes:\n\n", v->state[0] ? v->state : "?", v->vtime / 1e9,
                v->exits, v->restarts, v->restarts == 1 ? "" : "s", v->tail_lines,
                v->console_bytes);
        md_fence(f, "", v->console_tail ? v->console_tail : "");
        fputc('\n', f);
    }

    fprintf(f, "## Commands\n\n");
    fprintf(f, "```sh\nchaoscontrol reproduce --bug '%s' --serial\n", t->bug_path);
    if (checker)
        fprintf(f, "chaoscontrol replay --bug '%s' --vm 0   # registers, task, console at the "
                "end\n```\n", t->bug_path);
    else
        fprintf(f, "chaoscontrol replay --bug '%s' --vm %u --exit %" PRIu64 "   # registers, "
                "task, console there\n```\n", t->bug_path, x->vm, x->exit);
    if (t->wall_s > 0)
        fprintf(f, "\nTriage took %.1f s of wall time.\n", t->wall_s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- JSON ---- */

static json_t *u64j(uint64_t v)
{
    return v <= INT64_MAX ? json_integer((json_int_t)v) : json_real((double)v);
}

static json_t *cf_json(const struct cc_triage_cf *cf)
{
    json_t *e = json_object();
    json_object_set_new(e, "change", json_string(cf->removed ? "removed" : "moved"));
    if (!cf->removed) {
        json_object_set_new(e, "shift_ns", json_integer(cf->shift_ns));
        if (cf->result != CC_TRIAGE_CF_NOT_RUN)
            json_object_set_new(e, "at_ns", u64j(cf->at_ns));
    }
    json_object_set_new(e, "result", json_string(cc_triage_cf_name(cf->result)));
    if (cf->result == CC_TRIAGE_CF_NOT_RUN) {
        json_object_set_new(e, "why_not", json_string(cf->why_not));
        return e;
    }
    json_object_set_new(e, "outcome", json_string(cf->outcome));
    json_object_set_new(e, "from_ns", u64j(cf->from_ns));
    json_object_set_new(e, "end_ns", u64j(cf->end_ns));
    char h[24];
    snprintf(h, sizeof(h), "%016" PRIx64, cf->sim_hash);
    json_object_set_new(e, "sim_hash", json_string(h));
    json_object_set_new(e, "replay_wall_s", json_real(cf->wall_s));
    return e;
}

char *cc_triage_json(const struct cc_triage *t)
{
    const struct cc_bug *b = t->bug;
    json_t *o = json_object();
    json_object_set_new(o, "bug", json_string(t->bug_path));
    json_object_set_new(o, "failure", xfailure_to_json(&b->fail));
    json_object_set_new(o, "reproduced", json_boolean(t->reproduced));
    if (!t->reproduced)
        json_object_set_new(o, "reproduce_diff", json_string(t->repro_diff));
    if (b->history_explain || b->history_witness) {
        json_t *h = json_object();
        json_object_set_new(h, "operations", u64j(b->history_ops));
        if (b->history_file)
            json_object_set_new(h, "file", json_string(b->history_file));
        if (b->history_explain)
            json_object_set_new(h, "explain", json_string(b->history_explain));
        if (b->history_witness)
            json_object_set_new(h, "witness", json_string(b->history_witness));
        json_object_set_new(o, "history", h);
    }
    json_object_set_new(o, "setup_ns", u64j(t->setup_ns));
    json_object_set_new(o, "end_ns", u64j(t->end_ns));
    json_object_set_new(o, "faults_tested", json_boolean(t->faults_tested));
    json_t *sh = json_array();
    for (size_t k = 0; k < t->n_shifts; k++)
        json_array_append_new(sh, json_integer(t->shifts[k]));
    json_object_set_new(o, "shifts_ns", sh);
    json_object_set_new(o, "from_snapshots", json_boolean(t->from_snapshots));
    json_object_set_new(o, "snapshots", u64j(t->snapshots));
    json_object_set_new(o, "snapshot_wall_s", json_real(t->snapshot_wall_s));
    json_object_set_new(o, "counterfactual_wall_s", json_real(t->cf_wall_s));
    json_t *fa = json_array();
    for (size_t i = 0; i < t->n_faults; i++) {
        const struct cc_triage_fault *tf = &t->faults[i];
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer((json_int_t)i));
        json_object_set_new(e, "type", json_string(cc_fault_type_name(tf->f.type)));
        json_object_set_new(e, "at_ns", u64j(tf->f.at_ns));
        json_object_set_new(e, "duration_ns", u64j(tf->f.duration_ns));
        json_object_set_new(e, "text", json_string(tf->text));
        char *fj = cc_fault_to_json(&tf->f);
        json_t *fv = fj ? json_loads(fj, 0, NULL) : NULL;
        free(fj);
        if (fv)
            json_object_set_new(e, "fault", fv);
        json_object_set_new(e, "verdict", json_string(cc_triage_verdict_name(tf->verdict)));
        if (tf->outcome[0])
            json_object_set_new(e, "without_it", json_string(tf->outcome));
        json_object_set_new(e, "replay_wall_s", json_real(tf->wall_s));
        if (tf->partner >= 0)
            json_object_set_new(e, "moves_with", json_integer(tf->partner));
        if (t->faults_tested) {
            json_t *ca = json_array();
            json_array_append_new(ca, cf_json(&tf->without));
            for (size_t k = 0; k < t->n_shifts; k++)
                json_array_append_new(ca, cf_json(&tf->shifts[k]));
            json_object_set_new(e, "counterfactuals", ca);
            json_t *w = json_object();
            json_object_set_new(w, "earliest_shift_ns", json_integer(tf->win_lo));
            json_object_set_new(w, "latest_shift_ns", json_integer(tf->win_hi));
            json_object_set_new(w, "earliest_ns", u64j(tf->f.at_ns + (uint64_t)tf->win_lo));
            json_object_set_new(w, "latest_ns", u64j(tf->f.at_ns + (uint64_t)tf->win_hi));
            json_object_set_new(w, "bounded_before", json_boolean(tf->win_lo_bounded));
            json_object_set_new(w, "bounded_after", json_boolean(tf->win_hi_bounded));
            json_object_set_new(e, "window", w);
            json_object_set_new(e, "summary", json_string(tf->summary));
        }
        json_array_append_new(fa, e);
    }
    json_object_set_new(o, "faults", fa);
    json_t *la = json_array();
    for (size_t i = 0; i < t->n_links; i++) {
        const struct cc_link_stats *s = &t->links[i].st;
        json_t *e = json_object();
        json_object_set_new(e, "from", json_integer(t->links[i].from));
        json_object_set_new(e, "to", json_integer(t->links[i].to));
        struct {
            const char *k;
            uint64_t v;
        } kv[] = {
            {"sent", s->sent}, {"sent_bytes", s->sent_bytes}, {"delivered", s->delivered},
            {"delivered_bytes", s->delivered_bytes},
            {"dropped_partition", s->dropped_partition}, {"dropped_loss", s->dropped_loss},
            {"dropped_queue", s->dropped_queue}, {"dropped_down", s->dropped_down},
            {"dropped_rx", s->dropped_rx}, {"duplicated", s->duplicated},
            {"corrupted", s->corrupted}, {"reordered", s->reordered},
            {"in_flight", s->in_flight},
        };
        for (size_t k = 0; k < sizeof(kv) / sizeof(kv[0]); k++)
            json_object_set_new(e, kv[k].k, u64j(kv[k].v));
        json_array_append_new(la, e);
    }
    json_object_set_new(o, "links", la);
    json_t *va = json_array();
    for (unsigned i = 0; i < t->n_vms; i++) {
        const struct cc_triage_vm *v = &t->vm[i];
        json_t *e = json_object();
        json_object_set_new(e, "vm", json_integer(i));
        json_object_set_new(e, "state", json_string(v->state));
        json_object_set_new(e, "vtime_ns", u64j(v->vtime));
        json_object_set_new(e, "exits", u64j(v->exits));
        json_object_set_new(e, "restarts", u64j(v->restarts));
        json_object_set_new(e, "console_bytes", u64j(v->console_bytes));
        json_object_set_new(e, "console_tail",
                            json_string(v->console_tail ? v->console_tail : ""));
        json_array_append_new(va, e);
    }
    json_object_set_new(o, "vms", va);
    json_t *lg = json_array();
    for (size_t i = 0; i < t->n_log; i++) {
        const struct cc_sim_log_entry *l = &t->log[i];
        json_t *e = json_object();
        json_object_set_new(e, "vtime_ns", u64j(l->vtime));
        json_object_set_new(e, "kind", json_string(cc_sim_log_kind_name(l->kind)));
        json_object_set_new(e, "vm", json_integer(l->vm));
        json_object_set_new(e, "fault", json_integer(l->fault));
        json_object_set_new(e, "text", json_string(l->text));
        json_array_append_new(lg, e);
    }
    json_object_set_new(o, "log", lg);
    json_object_set_new(o, "wall_s", json_real(t->wall_s));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *r = realloc(s, n + 2);
    if (!r) {
        free(s);
        return NULL;
    }
    r[n] = '\n';
    r[n + 1] = 0;
    return r;
}

/* ---- SVG timeline ---- */

/* The VMs a fault concerns (a mask; every VM for network-wide ones). */
static uint64_t fault_vms(const struct cc_fault *f, unsigned n)
{
    uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
    if (cc_fault_has_vm(f->type))
        return 1ull << f->vm;
    if (f->type == CC_FAULT_PARTITION) {
        uint64_t m = 0;
        for (unsigned i = 0; i < f->n_sides; i++)
            m |= f->sides[i];
        /* a partition with one side cuts that side off from the rest */
        return f->n_sides == 1 ? m : m & all;
    }
    if (cc_fault_is_link(f->type)) {
        uint64_t m = (f->from ? f->from : all) | (f->to ? f->to : all);
        return m & all;
    }
    return all;
}

static void svg_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s >= 32 ? *s : ' ', f);
        }
    }
}

char *cc_triage_svg(const struct cc_triage *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const unsigned left = 70, width = 760, lane = 34, top = 40;
    unsigned n = t->n_vms ? t->n_vms : 1;
    unsigned height = top + n * lane + 40;
    uint64_t t0 = t->setup_ns, t1 = t->end_ns;
    if (t->bug->fail.sim_ns > t1)
        t1 = t->bug->fail.sim_ns;
    for (size_t i = 0; i < t->n_faults; i++) {
        if (t->faults[i].f.at_ns < t0)
            t0 = t->faults[i].f.at_ns;
        if (t->faults[i].f.at_ns > t1)
            t1 = t->faults[i].f.at_ns;
    }
    if (t1 <= t0)
        t1 = t0 + 1;
#define X(ns) (left + (double)((ns) - t0) * width / (double)(t1 - t0))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
            "font-family=\"monospace\" font-size=\"11\">\n", left + width + 20, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%u\" y=\"16\" font-size=\"13\">faults from setup (%.3f s) to the "
            "failure (%.3f s); red: necessary, grey: incidental, blue: not tested</text>\n",
            left, t0 / 1e9, t1 / 1e9);
    for (unsigned i = 0; i < n; i++) {
        unsigned y = top + i * lane;
        fprintf(f, "<text x=\"8\" y=\"%u\">vm %u</text>\n", y + lane / 2 + 4, i);
        fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"#ccc\"/>\n", left,
                y + lane / 2, left + width, y + lane / 2);
    }
    for (size_t k = 0; k < t->n_faults; k++) {
        const struct cc_triage_fault *tf = &t->faults[k];
        uint64_t end = fault_end(&tf->f);
        if (!end || end > t1)
            end = cc_fault_is_instant(tf->f.type) ? tf->f.at_ns : t1;
        double x0 = X(tf->f.at_ns), x1 = X(end);
        if (x1 - x0 < 3)
            x1 = x0 + 3;
        const char *col = tf->verdict == CC_TRIAGE_NECESSARY ? "#d62728" :
                          tf->verdict == CC_TRIAGE_INCIDENTAL ? "#999999" : "#1f77b4";
        uint64_t m = fault_vms(&tf->f, n);
        for (unsigned i = 0; i < n; i++) {
            if (!(m >> i & 1))
                continue;
            unsigned y = top + i * lane + 6;
            fprintf(f, "<rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%u\" fill=\"%s\" "
                    "fill-opacity=\"0.6\"><title>#%zu ", x0, y, x1 - x0, lane - 12, col, k);
            svg_text(f, tf->text);
            fprintf(f, " (%s)</title></rect>\n", cc_triage_verdict_name(tf->verdict));
            fprintf(f, "<text x=\"%.1f\" y=\"%u\" font-size=\"9\">#%zu %s</text>\n", x0 + 2,
                    y + 9, k, cc_fault_type_name(tf->f.type));
            if (t->shifts_tested && (tf->win_lo_bounded || tf->win_hi_bounded)) {
                /* the window: moments tried where it still fails */
                double w0 = X(tf->f.at_ns + (uint64_t)tf->win_lo);
                double w1 = X(tf->f.at_ns + (uint64_t)tf->win_hi);
                unsigned wy = y + lane - 9;
                fprintf(f, "<path d=\"M%.1f %u v-4 M%.1f %u H%.1f M%.1f %u v-4\" stroke=\"#8c1c13\" "
                        "stroke-width=\"1.5\" fill=\"none\"><title>#%zu: still fails from "
                        "%.3f s to %.3f s of the moments tried</title></path>\n", w0, wy, w0, wy,
                        w1, w1, wy, k, (tf->f.at_ns + (uint64_t)tf->win_lo) / 1e9,
                        (tf->f.at_ns + (uint64_t)tf->win_hi) / 1e9);
            }
        }
    }
    const struct cc_xfailure *x = &t->bug->fail;
    if (x->failed || x->message[0]) {
        double fx = X(x->sim_ns);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%u\" x2=\"%.1f\" y2=\"%u\" stroke=\"#d62728\" "
                "stroke-width=\"2\" stroke-dasharray=\"4 2\"/>\n", fx, top - 6, fx,
                top + n * lane);
        if (x->vm < n && strcmp(x->file, "chaoscontrol:checker"))
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%u\" r=\"5\" fill=\"#d62728\"><title>",
                    fx, top + x->vm * lane + lane / 2);
        else
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%u\" r=\"5\" fill=\"#d62728\"><title>", fx, top);
        svg_text(f, x->message);
        fprintf(f, "</title></circle>\n");
    }
    unsigned ay = top + n * lane + 14;
    fprintf(f, "<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"black\"/>\n", left,
            ay - 10, left + width, ay - 10);
    for (int i = 0; i <= 4; i++) {
        uint64_t tt = t0 + (t1 - t0) / 4 * (uint64_t)i;
        fprintf(f, "<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">%.3f s</text>\n", X(tt),
                ay + 6, tt / 1e9);
    }
#undef X
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int cc_triage_write(const struct cc_triage *t, const char *dir, struct cc_err *err)
{
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return cc_err_set(err, errno, "cannot create '%s': %s", dir, strerror(errno));
    struct {
        const char *name;
        char *text;
    } files[] = {
        {"timeline.svg", cc_triage_svg(t)},
        {"triage.json", cc_triage_json(t)},
        {"triage.md", cc_triage_markdown(t, "timeline.svg")},
    };
    int rc = 0;
    for (size_t i = 0; i < 3; i++) {
        if (rc == 0 && !files[i].text)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        char path[4096];
        if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir, files[i].name) >=
                           (int)sizeof(path))
            rc = cc_err_set(err, ENAMETOOLONG, "'%s': path too long", dir);
        if (rc == 0)
            rc = cc_file_write_atomic(path, files[i].text, strlen(files[i].text), err);
    }
    for (size_t i = 0; i < 3; i++)
        free(files[i].text);
    return rc;
}
