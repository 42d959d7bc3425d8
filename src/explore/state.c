/* The exploration's state (state_internal.h): a plain object with the
 * target, settings, counters, coverage maps, points, assertion table, round
 * history, bugs and guidance maxima; its bookkeeping and its JSON form
 * (checkpoint.json). No simulation, no files: checkpoint.c reads and
 * writes it, report.c renders it, the explorer runs on it. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/state_internal.h"

#define CK_FORMAT "chaoscontrol-explore-checkpoint"
#define CK_VERSION 1

void xsettings_default(struct xsettings *s)
{
    *s = (struct xsettings){
        .mode = CC_XMODE_HYBRID, .branches = 16, .seed = 1, .branch_ns = CC_SEC,
        .frontier_max = 48, .hot_max = 10, .max_faults = 4, .choice_k = 4,
        .plateau_rounds = 3, .react_percent = 40,
    };
    cc_xweights_default(&s->weights);
}

void xsettings_from_opts(struct xsettings *s, const struct cc_explore_opts *o)
{
    *s = (struct xsettings){
        .mode = o->mode, .branches = o->branches, .seed = o->seed, .branch_ns = o->branch_ns,
        .frontier_max = o->frontier_max, .hot_max = o->hot_max, .max_faults = o->max_faults,
        .choice_k = o->choice_k, .stop_after_bugs = o->stop_after_bugs,
        .plateau_rounds = o->plateau_rounds, .react_percent = o->react_percent,
        .clients = o->clients, .weights = o->weights,
    };
}

struct cc_xstate *xstate_new(const struct cc_xtarget *t, const struct xsettings *s)
{
    struct cc_xstate *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->target = *t;
    if (xtarget_own(&st->target, &st->strings) < 0) {
        free(st);
        return NULL;
    }
    st->set = *s;
    st->next_id = 1;
    covmap_init(&st->cov);
    return st;
}

void cc_xstate_free(struct cc_xstate *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_pts; i++)
        cc_recipe_free(st->pts[i].recipe);
    free(st->pts);
    for (size_t i = 0; i < st->n_as; i++) {
        free(st->as[i].message);
        free(st->as[i].file);
        free(st->as[i].function);
    }
    free(st->as);
    for (size_t i = 0; i < st->n_bugs; i++) {
        free(st->bugs[i].message);
        free(st->bugs[i].where);
    }
    free(st->bugs);
    free(st->hist);
    for (size_t i = 0; i < st->n_gd; i++)
        free(st->gd[i].message);
    free(st->gd);
    free(st->links);
    xtarget_strings_free(&st->strings);
    free(st);
}

const struct cc_xtarget *cc_xstate_target(const struct cc_xstate *st)
{
    return &st->target;
}

void cc_xstate_summary(const struct cc_xstate *st, struct cc_explore_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->rounds_done = st->rounds_done;
    s->branches = st->branches_done;
    s->bugs = (unsigned)st->n_bugs;
    s->edges = covmap_edges(&st->cov);
    s->assert_bits = covmap_assert_bits(&st->cov);
    s->frontier = xstate_frontier_size(st);
    s->wall_s = st->wall_s;
    s->plateau_since = st->plateau_since;
    for (size_t i = 0; i < st->n_bugs; i++) {
        if (!s->first_bug_branch || st->bugs[i].branch < s->first_bug_branch) {
            s->first_bug_branch = st->bugs[i].branch;
            s->first_bug_wall_s = st->bugs[i].wall_s;
        }
    }
}

/* ---- arrays ---- */

/* Make room for one more element of size sz in *arr (n used, *cap). */
static bool grow(void **arr, size_t n, size_t *cap, size_t sz, size_t first)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : first;
    void *p = realloc(*arr, c * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static uint64_t grew(uint64_t before, uint64_t after)
{
    return after >= before ? after - before : after;
}

int xstate_links_add(struct cc_xstate *st, const struct cc_link_stats *before,
                     const struct cc_link_stats *after)
{
    size_t n = st->target.n_vms;
    for (size_t i = 0; i < n * n; i++) {
        const struct cc_link_stats *a = &before[i], *b = &after[i];
        if (grew(a->sent, b->sent) == 0 && grew(a->duplicated, b->duplicated) == 0)
            continue;
        if (!st->links && !(st->links = calloc(n * n, sizeof(*st->links))))
            return -ENOMEM;
        struct xlink *l = &st->links[i];
        l->sent += grew(a->sent, b->sent);
        l->delivered += grew(a->delivered, b->delivered);
        l->dropped_partition += grew(a->dropped_partition, b->dropped_partition);
        l->dropped_loss += grew(a->dropped_loss, b->dropped_loss);
        l->dropped_queue += grew(a->dropped_queue, b->dropped_queue);
        l->dropped_down += grew(a->dropped_down, b->dropped_down);
        l->dropped_rx += grew(a->dropped_rx, b->dropped_rx);
        l->duplicated += grew(a->duplicated, b->duplicated);
    }
    return 0;
}

struct xpoint *xstate_point_find(struct cc_xstate *st, uint64_t id)
{
    /* ids are increasing in creation order: binary search */
    size_t lo = 0, hi = st->n_pts;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (st->pts[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->n_pts && st->pts[lo].id == id ? &st->pts[lo] : NULL;
}

struct xpoint *xstate_point_add(struct cc_xstate *st)
{
    if (!grow((void **)&st->pts, st->n_pts, &st->cap_pts, sizeof(*st->pts), 64))
        return NULL;
    struct xpoint *p = &st->pts[st->n_pts++];
    memset(p, 0, sizeof(*p));
    p->id = st->next_id++;
    return p;
}

size_t xstate_frontier_size(const struct cc_xstate *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->n_pts; i++)
        n += st->pts[i].in_frontier;
    return n;
}

void xstate_point_evict(struct xpoint *p)
{
    cc_recipe_free(p->recipe);
    p->recipe = NULL;
    p->in_frontier = false;
}

int xstate_assert_index(struct cc_xstate *st, const struct cc_assertion *a)
{
    for (size_t i = 0; i < st->n_as; i++)
        if (st->as[i].id == a->id)
            return (int)i;
    if (!grow((void **)&st->as, st->n_as, &st->cap_as, sizeof(*st->as), 32))
        return -1;
    struct xassert *e = &st->as[st->n_as];
    memset(e, 0, sizeof(*e));
    e->id = a->id;
    e->kind = a->kind;
    e->line = a->line;
    e->message = strdup(a->message ? a->message : "");
    e->file = strdup(a->file ? a->file : "");
    e->function = strdup(a->function ? a->function : "");
    if (!e->message || !e->file || !e->function) {
        free(e->message);
        free(e->file);
        free(e->function);
        return -1;
    }
    return (int)st->n_as++;
}

int xstate_round_add(struct cc_xstate *st, const struct xround *h)
{
    if (!grow((void **)&st->hist, st->n_hist, &st->cap_hist, sizeof(*st->hist), 32))
        return -ENOMEM;
    st->hist[st->n_hist++] = *h;
    return 0;
}

int xstate_bug_add(struct cc_xstate *st, const struct xbug *b)
{
    if (!grow((void **)&st->bugs, st->n_bugs, &st->cap_bugs, sizeof(*st->bugs), 8))
        return -ENOMEM;
    struct xbug c = *b;
    c.message = strdup(b->message ? b->message : "");
    c.where = strdup(b->where ? b->where : "");
    if (!c.message || !c.where) {
        free(c.message);
        free(c.where);
        return -ENOMEM;
    }
    size_t i = st->n_bugs;
    while (i > 0 && st->bugs[i - 1].number > c.number)
        i--;
    memmove(&st->bugs[i + 1], &st->bugs[i], (st->n_bugs - i) * sizeof(*st->bugs));
    st->bugs[i] = c;
    st->n_bugs++;
    if (c.number > st->max_bug_number)
        st->max_bug_number = c.number;
    return 0;
}

bool xstate_has_bug(const struct cc_xstate *st, unsigned number)
{
    for (size_t i = 0; i < st->n_bugs; i++)
        if (st->bugs[i].number == number)
            return true;
    return false;
}

bool xstate_guidance_raise(struct cc_xstate *st, const char *message, int64_t value, bool *oom)
{
    for (size_t i = 0; i < st->n_gd; i++) {
        if (strcmp(st->gd[i].message, message))
            continue;
        if (value <= st->gd[i].max)
            return false;
        st->gd[i].max = value;
        return true;
    }
    char *m = strdup(message);
    if (!m || !grow((void **)&st->gd, st->n_gd, &st->cap_gd, sizeof(*st->gd), 8)) {
        free(m);
        *oom = true;
        return false;
    }
    st->gd[st->n_gd++] = (struct xguidance){.message = m, .max = value};
    return true;
}

/* ---- to JSON ---- */

json_t *xstate_asserts_json(const struct cc_xstate *st)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < st->n_as; i++) {
        const struct xassert *e = &st->as[i];
        struct cc_assertion a = {.id = e->id, .kind = e->kind, .hits = e->hits,
                                 .passes = e->passes, .fails = e->fails};
        json_t *o = json_object();
        json_object_set_new(o, "id", xj_hex(e->id));
        json_object_set_new(o, "kind", json_string(cc_kind_name(e->kind)));
        json_object_set_new(o, "verdict", json_string(cc_verdict_name(cc_assertion_verdict(&a))));
        json_object_set_new(o, "message", json_string(e->message));
        json_object_set_new(o, "file", json_string(e->file));
        json_object_set_new(o, "line", json_integer(e->line));
        json_object_set_new(o, "function", json_string(e->function));
        json_object_set_new(o, "hits", xj_u64(e->hits));
        json_object_set_new(o, "passes", xj_u64(e->passes));
        json_object_set_new(o, "fails", xj_u64(e->fails));
        json_object_set_new(o, "branches_hit", xj_u64(e->branches_hit));
        json_object_set_new(o, "branches_failed", xj_u64(e->branches_failed));
        json_t *vms = json_array();
        for (unsigned v = 0; v < 64; v++)
            if (e->vms_hit >> v & 1)
                json_array_append_new(vms, json_integer(v));
        json_object_set_new(o, "vms", vms);
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *u64_array(const uint64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, xj_u64(v[i]));
    return a;
}

json_t *xstate_point_json(const struct xpoint *p, unsigned n_vms)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", xj_u64(p->id));
    json_object_set_new(o, "parent", xj_u64(p->parent));
    json_object_set_new(o, "t", xj_u64(p->t));
    json_object_set_new(o, "sim_hash", xj_hex(p->sim_hash));
    json_object_set_new(o, "round", json_integer(p->round));
    json_object_set_new(o, "depth", json_integer(p->depth));
    json_object_set_new(o, "score", json_real(p->score));
    uint64_t slots[XP_SLOTS];
    for (size_t i = 0; i < p->n_slots; i++)
        slots[i] = p->slots[i];
    json_object_set_new(o, "slots", u64_array(slots, p->n_slots));
    json_object_set_new(o, "picks", xj_u64(p->picks));
    json_object_set_new(o, "wins", xj_u64(p->wins));
    json_object_set_new(o, "life", u64_array(p->life, n_vms));
    json_object_set_new(o, "next_choice", u64_array(p->next_choice, n_vms));
    json_t *al = json_array();
    for (unsigned i = 0; i < n_vms; i++)
        json_array_append_new(al, json_boolean(p->alive[i]));
    json_object_set_new(o, "alive", al);
    json_object_set_new(o, "recipe", recipe_to_json(p->recipe));
    return o;
}

json_t *xsettings_to_json(const struct xsettings *s)
{
    json_t *op = json_object();
    json_object_set_new(op, "mode", json_string(cc_xmode_name(s->mode)));
    json_object_set_new(op, "branches", json_integer(s->branches));
    json_object_set_new(op, "seed", xj_u64(s->seed));
    json_object_set_new(op, "branch_ns", xj_u64(s->branch_ns));
    json_object_set_new(op, "frontier_max", json_integer(s->frontier_max));
    json_object_set_new(op, "hot_max", json_integer(s->hot_max));
    json_object_set_new(op, "max_faults", json_integer(s->max_faults));
    json_object_set_new(op, "choice_k", json_integer(s->choice_k));
    json_object_set_new(op, "stop_after_bugs", json_integer(s->stop_after_bugs));
    json_object_set_new(op, "plateau_rounds", json_integer(s->plateau_rounds));
    json_object_set_new(op, "react_percent", json_integer(s->react_percent));
    if (s->clients)
        json_object_set_new(op, "clients", xj_u64(s->clients));
    const struct cc_xweights *w = &s->weights;
    json_t *wj = json_object();
    json_object_set_new(wj, "partition", json_integer(w->partition));
    json_object_set_new(wj, "heal", json_integer(w->heal));
    json_object_set_new(wj, "kill", json_integer(w->kill));
    json_object_set_new(wj, "restart", json_integer(w->restart));
    json_object_set_new(wj, "pause", json_integer(w->pause));
    json_object_set_new(wj, "loss", json_integer(w->loss));
    json_object_set_new(wj, "latency", json_integer(w->latency));
    json_object_set_new(wj, "duplicate", json_integer(w->duplicate));
    json_object_set_new(wj, "reorder", json_integer(w->reorder));
    json_object_set_new(wj, "clock", json_integer(w->clock));
    json_object_set_new(wj, "disk", json_integer(w->disk));
    if (w->vcpu)        /* absent: 0 (checkpoints from before SMP stay as they were) */
        json_object_set_new(wj, "vcpu", json_integer(w->vcpu));
    json_object_set_new(op, "weights", wj);
    return op;
}

static json_t *coverage_json(const struct covmap *m)
{
    json_t *cov = json_object();
    json_t *edges = json_array();
    for (size_t i = 0; i < CC_COVERAGE_SIZE; i++) {
        if (!m->edges[i])
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(m->edges[i]));
        json_array_append_new(edges, e);
    }
    json_object_set_new(cov, "edges", edges);
    json_t *as = json_array();
    for (size_t i = 0; i < XCOV_ASSERT_SIZE; i++) {
        if (!m->asserts[i] && !m->assert_hits[i])
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(m->asserts[i]));
        json_array_append_new(e, json_integer(m->assert_hits[i]));
        json_array_append_new(as, e);
    }
    json_object_set_new(cov, "asserts", as);
    return cov;
}

json_t *xstate_round_json(const struct xround *h)
{
    json_t *e = json_object();
    json_object_set_new(e, "round", json_integer(h->round));
    json_object_set_new(e, "branches", xj_u64(h->branches));
    json_object_set_new(e, "wall_s", json_real(h->wall_s));
    json_object_set_new(e, "edges", json_integer((json_int_t)h->edges));
    json_object_set_new(e, "new_edges", json_integer((json_int_t)h->new_edges));
    json_object_set_new(e, "assert_bits", json_integer((json_int_t)h->assert_bits));
    json_object_set_new(e, "new_assert_bits", json_integer((json_int_t)h->new_assert_bits));
    json_object_set_new(e, "frontier", json_integer((json_int_t)h->frontier));
    json_object_set_new(e, "bugs", json_integer(h->bugs));
    json_object_set_new(e, "new_points", json_integer(h->new_points));
    json_object_set_new(e, "materialized", json_integer(h->materialized));
    json_object_set_new(e, "diverged", json_integer(h->diverged));
    if (h->new_maxima)
        json_object_set_new(e, "new_maxima", json_integer(h->new_maxima));
    return e;
}

json_t *xstate_bug_json(const struct xbug *b)
{
    json_t *e = json_object();
    char file[32];
    snprintf(file, sizeof(file), "bug_%u.json", b->number);
    json_object_set_new(e, "number", json_integer(b->number));
    json_object_set_new(e, "file", json_string(file));
    json_object_set_new(e, "assertion_id", xj_hex(b->id));
    json_object_set_new(e, "vm", json_integer(b->vm));
    json_object_set_new(e, "message", json_string(b->message ? b->message : ""));
    json_object_set_new(e, "where", json_string(b->where ? b->where : ""));
    json_object_set_new(e, "round", json_integer(b->round));
    json_object_set_new(e, "branch", xj_u64(b->branch));
    json_object_set_new(e, "wall_s", json_real(b->wall_s));
    json_object_set_new(e, "sim_ns", xj_u64(b->sim_ns));
    json_object_set_new(e, "dups", xj_u64(b->dups));
    json_object_set_new(e, "size", xj_u64(b->size));
    return e;
}

static void counters_json(json_t *o, const struct cc_xstate *st)
{
    json_object_set_new(o, "rounds_done", json_integer(st->rounds_done));
    json_object_set_new(o, "branches_done", xj_u64(st->branches_done));
    json_object_set_new(o, "react_branches", xj_u64(st->react_branches));
    json_object_set_new(o, "react_faults", xj_u64(st->react_faults));
    json_object_set_new(o, "mid_points", xj_u64(st->mid_points));
    json_object_set_new(o, "wall_s", json_real(st->wall_s));
    json_object_set_new(o, "setup_ns", xj_u64(st->setup_ns));
    json_object_set_new(o, "next_point_id", xj_u64(st->next_id));
    json_object_set_new(o, "max_bug_number", json_integer(st->max_bug_number));
    json_object_set_new(o, "plateau_since", json_integer(st->plateau_since));
}

const struct xlink_field xlink_fields[XLINK_FIELDS] = {
    {"sent", offsetof(struct xlink, sent)},
    {"delivered", offsetof(struct xlink, delivered)},
    {"dropped_partition", offsetof(struct xlink, dropped_partition)},
    {"dropped_loss", offsetof(struct xlink, dropped_loss)},
    {"dropped_queue", offsetof(struct xlink, dropped_queue)},
    {"dropped_down", offsetof(struct xlink, dropped_down)},
    {"dropped_rx", offsetof(struct xlink, dropped_rx)},
    {"duplicated", offsetof(struct xlink, duplicated)},
};

json_t *xstate_links_json(const struct cc_xstate *st)
{
    json_t *ls = json_array();
    unsigned n = st->target.n_vms;
    for (unsigned i = 0; st->links && i < n * n; i++) {
        const struct xlink *l = &st->links[i];
        if (!l->sent && !l->duplicated)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "from", json_integer(i / n));
        json_object_set_new(e, "to", json_integer(i % n));
        for (unsigned k = 0; k < XLINK_FIELDS; k++)
            json_object_set_new(e, xlink_fields[k].name, xj_u64(xlink_get(l, k)));
        json_array_append_new(ls, e);
    }
    return ls;
}

json_t *xstate_to_json(const struct cc_xstate *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(CK_FORMAT));
    json_object_set_new(o, "version", json_integer(CK_VERSION));
    json_object_set_new(o, "target", xtarget_to_json(&st->target));
    json_object_set_new(o, "options", xsettings_to_json(&st->set));
    counters_json(o, st);
    json_object_set_new(o, "coverage", coverage_json(&st->cov));
    json_t *pts = json_array(), *lin = json_array();
    for (size_t i = 0; i < st->n_pts; i++) {
        const struct xpoint *p = &st->pts[i];
        if (p->in_frontier && p->recipe) {
            json_array_append_new(pts, xstate_point_json(p, st->target.n_vms));
        } else {
            json_t *e = json_array();
            json_array_append_new(e, xj_u64(p->id));
            json_array_append_new(e, xj_u64(p->parent));
            json_array_append_new(lin, e);
        }
    }
    json_object_set_new(o, "points", pts);
    json_object_set_new(o, "lineage", lin);
    json_t *hist = json_array();
    for (size_t i = 0; i < st->n_hist; i++)
        json_array_append_new(hist, xstate_round_json(&st->hist[i]));
    json_object_set_new(o, "history", hist);
    json_t *bugs = json_array();
    for (size_t i = 0; i < st->n_bugs; i++)
        json_array_append_new(bugs, xstate_bug_json(&st->bugs[i]));
    json_object_set_new(o, "bugs", bugs);
    json_object_set_new(o, "assertions", xstate_asserts_json(st));
    if (st->n_gd) {
        json_t *gd = json_array();
        for (size_t i = 0; i < st->n_gd; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "message", json_string(st->gd[i].message));
            json_object_set_new(e, "max", json_integer(st->gd[i].max));
            json_array_append_new(gd, e);
        }
        json_object_set_new(o, "guidance", gd);
    }
    json_t *fa = json_object();
    for (unsigned t = 0; t < CC_FAULT_TYPE_END; t++)
        if (st->faults[t])
            json_object_set_new(fa, cc_fault_type_name(t), xj_u64(st->faults[t]));
    if (json_object_size(fa))
        json_object_set_new(o, "faults", fa);
    else
        json_decref(fa);
    if (st->links)
        json_object_set_new(o, "links", xstate_links_json(st));
    return o;
}

char *cc_xstate_to_json(const struct cc_xstate *st)
{
    json_t *o = xstate_to_json(st);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
                                   JSON_REAL_PRECISION(8)) : NULL;
    json_decref(o);
    return text;
}
