/* Reading the exploration's state from its JSON form (checkpoint.json,
 * state_internal.h): every field checked, every message naming the source
 * and the field. Checkpoints of every earlier version of format 1 load;
 * keys added later are optional. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/state_internal.h"

#define CK_FORMAT "chaoscontrol-explore-checkpoint"
#define CK_VERSION 1

static int want_u64(const json_t *o, const char *key, uint64_t *out, const char *src,
                    struct cc_err *err)
{
    if (xj_get_u64(json_object_get(o, key), out) < 0)
        return cc_err_set(err, EINVAL, "%s: %s: missing or not a non-negative integer", src,
                          key);
    return 0;
}

static double number_or_0(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : 0;
}

static void opt_unsigned(const json_t *o, const char *key, unsigned *out)
{
    uint64_t v;
    if (xj_get_u64(json_object_get(o, key), &v) == 0)
        *out = (unsigned)v;
}

static void opt_size(const json_t *o, const char *key, size_t *out)
{
    uint64_t v;
    if (xj_get_u64(json_object_get(o, key), &v) == 0)
        *out = (size_t)v;
}

static int load_weights(const json_t *wj, struct cc_xweights *w)
{
    struct {
        const char *key;
        unsigned *dst;
    } ws[] = {
        {"partition", &w->partition}, {"heal", &w->heal}, {"kill", &w->kill},
        {"restart", &w->restart}, {"pause", &w->pause}, {"loss", &w->loss},
        {"latency", &w->latency}, {"duplicate", &w->duplicate}, {"reorder", &w->reorder},
        {"clock", &w->clock}, {"disk", &w->disk}, {"vcpu", &w->vcpu},
    };
    for (size_t i = 0; json_is_object(wj) && i < sizeof(ws) / sizeof(ws[0]); i++)
        opt_unsigned(wj, ws[i].key, ws[i].dst);
    return 0;
}

static int load_options(struct xsettings *s, const json_t *op, const char *src,
                        struct cc_err *err)
{
    if (!json_is_object(op))
        return cc_err_set(err, EINVAL, "%s: options: missing or not an object", src);
    xsettings_default(s);
    json_t *m = json_object_get(op, "mode");
    if (!json_is_string(m) || cc_xmode_parse(json_string_value(m), &s->mode) < 0)
        return cc_err_set(err, EINVAL, "%s: options.mode: missing or not fault, input-tree or "
                          "hybrid", src);
    uint64_t v;
    struct {
        const char *key;
        unsigned *dst;
    } us[] = {
        {"branches", &s->branches}, {"frontier_max", &s->frontier_max},
        {"hot_max", &s->hot_max}, {"max_faults", &s->max_faults},
        {"choice_k", &s->choice_k}, {"stop_after_bugs", &s->stop_after_bugs},
        {"plateau_rounds", &s->plateau_rounds},
    };
    for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
        if (xj_get_u64(json_object_get(op, us[i].key), &v) < 0)
            return cc_err_set(err, EINVAL, "%s: options.%s: missing or not an integer", src,
                              us[i].key);
        *us[i].dst = (unsigned)v;
    }
    /* newer than the first checkpoints: optional */
    if (xj_get_u64(json_object_get(op, "react_percent"), &v) == 0) {
        if (v > 100)
            return cc_err_set(err, EINVAL, "%s: options.react_percent: %" PRIu64 " is over 100",
                              src, v);
        s->react_percent = (unsigned)v;
    }
    if (json_object_get(op, "clients") &&
        xj_get_u64(json_object_get(op, "clients"), &s->clients) < 0)
        return cc_err_set(err, EINVAL, "%s: options.clients: not an integer (a VM mask)", src);
    if (want_u64(op, "seed", &s->seed, src, err) < 0 ||
        want_u64(op, "branch_ns", &s->branch_ns, src, err) < 0)
        return -EINVAL;
    load_weights(json_object_get(op, "weights"), &s->weights);
    if (!s->branches || !s->branch_ns || !s->frontier_max)
        return cc_err_set(err, EINVAL, "%s: options: branches, branch_ns and frontier_max must "
                          "be > 0", src);
    return 0;
}

int xsettings_from_json(const json_t *op, const char *src, struct xsettings *s,
                        struct cc_err *err)
{
    return load_options(s, op, src, err);
}

static int load_counters(struct cc_xstate *st, const json_t *o, const char *src,
                         struct cc_err *err)
{
    uint64_t v;
    int rc = want_u64(o, "rounds_done", &v, src, err);
    if (rc < 0)
        return rc;
    st->rounds_done = (unsigned)v;
    if ((rc = want_u64(o, "branches_done", &st->branches_done, src, err)) < 0 ||
        (rc = want_u64(o, "setup_ns", &st->setup_ns, src, err)) < 0 ||
        (rc = want_u64(o, "next_point_id", &st->next_id, src, err)) < 0)
        return rc;
    st->wall_s = number_or_0(json_object_get(o, "wall_s"));
    opt_unsigned(o, "max_bug_number", &st->max_bug_number);
    opt_unsigned(o, "plateau_since", &st->plateau_since);
    xj_get_u64(json_object_get(o, "react_branches"), &st->react_branches);
    xj_get_u64(json_object_get(o, "react_faults"), &st->react_faults);
    xj_get_u64(json_object_get(o, "mid_points"), &st->mid_points);
    return 0;
}

static int load_coverage(struct covmap *m, const json_t *cov, const char *src,
                         struct cc_err *err)
{
    json_t *edges = json_object_get(cov, "edges"), *as = json_object_get(cov, "asserts");
    if (!json_is_array(edges) || !json_is_array(as))
        return cc_err_set(err, EINVAL, "%s: coverage: edges or asserts missing", src);
    for (size_t i = 0; i < json_array_size(edges); i++) {
        json_t *e = json_array_get(edges, i);
        uint64_t idx, val;
        if (xj_get_u64(json_array_get(e, 0), &idx) < 0 ||
            xj_get_u64(json_array_get(e, 1), &val) < 0 || idx >= CC_COVERAGE_SIZE ||
            val > 255)
            return cc_err_set(err, EINVAL, "%s: coverage.edges[%zu]: malformed", src, i);
        m->n_edges += (val != 0) - (m->edges[idx] != 0);
        m->edges[idx] = (uint8_t)val;
    }
    for (size_t i = 0; i < json_array_size(as); i++) {
        json_t *e = json_array_get(as, i);
        uint64_t idx, val, hits;
        if (xj_get_u64(json_array_get(e, 0), &idx) < 0 ||
            xj_get_u64(json_array_get(e, 1), &val) < 0 ||
            xj_get_u64(json_array_get(e, 2), &hits) < 0 || idx >= XCOV_ASSERT_SIZE ||
            val > 255)
            return cc_err_set(err, EINVAL, "%s: coverage.asserts[%zu]: malformed", src, i);
        m->n_assert_bits -= (size_t)__builtin_popcount(m->asserts[idx]);
        m->asserts[idx] = (uint8_t)val;
        m->n_assert_bits += (size_t)__builtin_popcount((unsigned)val);
        m->assert_hits[idx] = (uint32_t)hits;
    }
    return 0;
}

static int load_point(const json_t *j, size_t i, unsigned n_vms, const char *src,
                      struct xpoint *p, struct cc_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "points[%zu]", i);
    if (!json_is_object(j))
        return cc_err_set(err, EINVAL, "%s: %s: not an object", src, path);
    uint64_t v;
    if (xj_get_u64(json_object_get(j, "id"), &p->id) < 0 ||
        xj_get_u64(json_object_get(j, "parent"), &p->parent) < 0 ||
        xj_get_u64(json_object_get(j, "t"), &p->t) < 0 ||
        xj_get_hex(json_object_get(j, "sim_hash"), &p->sim_hash) < 0)
        return cc_err_set(err, EINVAL, "%s: %s: id, parent, t or sim_hash missing or malformed",
                          src, path);
    opt_unsigned(j, "round", &p->round);
    opt_unsigned(j, "depth", &p->depth);
    p->score = number_or_0(json_object_get(j, "score"));
    xj_get_u64(json_object_get(j, "picks"), &p->picks);
    xj_get_u64(json_object_get(j, "wins"), &p->wins);
    json_t *sl = json_object_get(j, "slots");
    for (size_t k = 0; json_is_array(sl) && k < json_array_size(sl) && k < XP_SLOTS; k++) {
        if (xj_get_u64(json_array_get(sl, k), &v) == 0 && v < XCOV_ASSERT_SIZE)
            p->slots[p->n_slots++] = (size_t)v;
    }
    json_t *life = json_object_get(j, "life"), *nc = json_object_get(j, "next_choice"),
           *al = json_object_get(j, "alive");
    if (!json_is_array(life) || !json_is_array(nc) || !json_is_array(al) ||
        json_array_size(life) != n_vms || json_array_size(nc) != n_vms ||
        json_array_size(al) != n_vms)
        return cc_err_set(err, EINVAL, "%s: %s: life, next_choice and alive must be arrays of "
                          "%u", src, path, n_vms);
    for (unsigned k = 0; k < n_vms; k++) {
        if (xj_get_u64(json_array_get(life, k), &p->life[k]) < 0 ||
            xj_get_u64(json_array_get(nc, k), &p->next_choice[k]) < 0)
            return cc_err_set(err, EINVAL, "%s: %s: life/next_choice[%u] malformed", src, path,
                              k);
        p->alive[k] = json_is_true(json_array_get(al, k));
    }
    char rp[80];
    snprintf(rp, sizeof(rp), "%s.recipe", path);
    int rc = recipe_from_json(json_object_get(j, "recipe"), src, rp, n_vms, &p->recipe, err);
    if (rc < 0)
        return rc;
    p->in_frontier = true;
    return 0;
}

static int pt_cmp(const void *a, const void *b)
{
    const struct xpoint *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Frontier points, then the lineage of evicted ones; sorted by id, the
 * root (id 1) in the frontier, no id twice. */
static int load_points(struct cc_xstate *st, const json_t *o, const char *src,
                       struct cc_err *err)
{
    uint64_t next_id = st->next_id;
    json_t *pts = json_object_get(o, "points"), *lin = json_object_get(o, "lineage");
    if (!json_is_array(pts) || !json_array_size(pts) || !json_is_array(lin))
        return cc_err_set(err, EINVAL, "%s: points (with the root) or lineage missing", src);
    size_t np = json_array_size(pts);
    for (size_t i = 0; i < np + json_array_size(lin); i++) {
        struct xpoint *p = xstate_point_add(st);
        if (!p)
            return cc_err_set(err, ENOMEM, "out of memory");
        if (i < np) {
            int rc = load_point(json_array_get(pts, i), i, st->target.n_vms, src, p, err);
            if (rc < 0)
                return rc;
            continue;
        }
        json_t *e = json_array_get(lin, i - np);
        if (xj_get_u64(json_array_get(e, 0), &p->id) < 0 ||
            xj_get_u64(json_array_get(e, 1), &p->parent) < 0)
            return cc_err_set(err, EINVAL, "%s: lineage[%zu]: malformed", src, i - np);
    }
    qsort(st->pts, st->n_pts, sizeof(*st->pts), pt_cmp);
    if (st->pts[0].id != 1 || !st->pts[0].in_frontier)
        return cc_err_set(err, EINVAL, "%s: points: the root (id 1) is missing", src);
    for (size_t i = 1; i < st->n_pts; i++)
        if (st->pts[i].id == st->pts[i - 1].id)
            return cc_err_set(err, EINVAL, "%s: point %" PRIu64 " appears twice", src,
                              st->pts[i].id);
    st->next_id = next_id;      /* xstate_point_add counted up while loading */
    if (st->next_id <= st->pts[st->n_pts - 1].id)
        st->next_id = st->pts[st->n_pts - 1].id + 1;
    return 0;
}

static int load_history(struct cc_xstate *st, const json_t *hist, struct cc_err *err)
{
    for (size_t i = 0; json_is_array(hist) && i < json_array_size(hist); i++) {
        json_t *e = json_array_get(hist, i);
        struct xround h = {0};
        opt_unsigned(e, "round", &h.round);
        xj_get_u64(json_object_get(e, "branches"), &h.branches);
        h.wall_s = number_or_0(json_object_get(e, "wall_s"));
        opt_size(e, "edges", &h.edges);
        opt_size(e, "new_edges", &h.new_edges);
        opt_size(e, "assert_bits", &h.assert_bits);
        opt_size(e, "new_assert_bits", &h.new_assert_bits);
        opt_size(e, "frontier", &h.frontier);
        opt_unsigned(e, "bugs", &h.bugs);
        opt_unsigned(e, "new_points", &h.new_points);
        opt_unsigned(e, "materialized", &h.materialized);
        opt_unsigned(e, "diverged", &h.diverged);
        opt_unsigned(e, "new_maxima", &h.new_maxima);
        if (xstate_round_add(st, &h) < 0)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

static const char *str_or_empty(const json_t *o, const char *key)
{
    json_t *s = json_object_get(o, key);
    return json_is_string(s) ? json_string_value(s) : "";
}

/* Kept in number order (a file written by the explorer already is). */
static int load_bugs(struct cc_xstate *st, const json_t *bugs, const char *src,
                     struct cc_err *err)
{
    for (size_t i = 0; json_is_array(bugs) && i < json_array_size(bugs); i++) {
        json_t *e = json_array_get(bugs, i);
        struct xbug b = {0};
        uint64_t t;
        if (xj_get_u64(json_object_get(e, "number"), &t) < 0 ||
            xj_get_hex(json_object_get(e, "assertion_id"), &b.id) < 0)
            return cc_err_set(err, EINVAL, "%s: bugs[%zu]: number or assertion_id malformed",
                              src, i);
        b.number = (unsigned)t;
        opt_unsigned(e, "vm", &b.vm);
        opt_unsigned(e, "round", &b.round);
        xj_get_u64(json_object_get(e, "branch"), &b.branch);
        b.wall_s = number_or_0(json_object_get(e, "wall_s"));
        xj_get_u64(json_object_get(e, "sim_ns"), &b.sim_ns);
        xj_get_u64(json_object_get(e, "dups"), &b.dups);
        opt_size(e, "size", &b.size);
        b.message = (char *)str_or_empty(e, "message");
        b.where = (char *)str_or_empty(e, "where");
        if (xstate_bug_add(st, &b) < 0)     /* copies the strings */
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

static uint32_t kind_of(const json_t *k)
{
    for (uint32_t kk = CC_ASSERT_ALWAYS; json_is_string(k) && kk <= CC_ASSERT_UNREACHABLE; kk++)
        if (!strcmp(cc_kind_name(kk), json_string_value(k)))
            return kk;
    return 0;
}

static int load_asserts(struct cc_xstate *st, const json_t *tab, const char *src,
                        struct cc_err *err)
{
    for (size_t i = 0; json_is_array(tab) && i < json_array_size(tab); i++) {
        json_t *e = json_array_get(tab, i);
        struct cc_assertion a = {.kind = kind_of(json_object_get(e, "kind"))};
        uint64_t t = 0;
        if (xj_get_hex(json_object_get(e, "id"), &a.id) < 0 || !a.kind)
            return cc_err_set(err, EINVAL, "%s: assertions[%zu]: id or kind malformed", src, i);
        xj_get_u64(json_object_get(e, "line"), &t);
        a.line = (uint32_t)t;
        a.message = str_or_empty(e, "message");
        a.file = str_or_empty(e, "file");
        a.function = str_or_empty(e, "function");
        int idx = xstate_assert_index(st, &a);
        if (idx < 0)
            return cc_err_set(err, ENOMEM, "out of memory");
        struct xassert *xa = &st->as[idx];
        xj_get_u64(json_object_get(e, "hits"), &xa->hits);
        xj_get_u64(json_object_get(e, "passes"), &xa->passes);
        xj_get_u64(json_object_get(e, "fails"), &xa->fails);
        xj_get_u64(json_object_get(e, "branches_hit"), &xa->branches_hit);
        xj_get_u64(json_object_get(e, "branches_failed"), &xa->branches_failed);
        json_t *vms = json_object_get(e, "vms");
        for (size_t q = 0; json_is_array(vms) && q < json_array_size(vms); q++)
            if (xj_get_u64(json_array_get(vms, q), &t) == 0 && t < 64)
                xa->vms_hit |= 1ull << t;
    }
    return 0;
}

static int load_guidance(struct cc_xstate *st, const json_t *gd, const char *src,
                         struct cc_err *err)
{
    if (gd && !json_is_array(gd))
        return cc_err_set(err, EINVAL, "%s: guidance: not an array", src);
    for (size_t i = 0; gd && i < json_array_size(gd); i++) {
        json_t *e = json_array_get(gd, i), *m = json_object_get(e, "message"),
               *v = json_object_get(e, "max");
        if (!json_is_string(m) || !json_is_integer(v))
            return cc_err_set(err, EINVAL, "%s: guidance[%zu]: message or max malformed", src,
                              i);
        bool oom = false;
        if (!xstate_guidance_raise(st, json_string_value(m), json_integer_value(v), &oom) &&
            oom)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

/* Optional "faults" and "links" (the dashboard's counters). */
static int load_traffic(struct cc_xstate *st, const json_t *o, const char *src,
                        struct cc_err *err)
{
    const json_t *fa = json_object_get(o, "faults"), *ls = json_object_get(o, "links");
    if (fa && !json_is_object(fa))
        return cc_err_set(err, EINVAL, "%s: faults: not an object", src);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fa, k, v) {
        enum cc_fault_type t = cc_fault_type_from_name(k);
        if (!t || xj_get_u64(v, &st->faults[t]) < 0)
            return cc_err_set(err, EINVAL, "%s: faults.%s: not a fault type with a count", src,
                              k);
    }
    if (!ls)
        return 0;
    if (!json_is_array(ls))
        return cc_err_set(err, EINVAL, "%s: links: not an array", src);
    unsigned n = st->target.n_vms;
    st->links = calloc((size_t)n * n, sizeof(*st->links));
    if (!st->links)
        return cc_err_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(ls); i++) {
        json_t *e = json_array_get(ls, i);
        uint64_t from, to;
        struct xlink l;
        bool ok = xj_get_u64(json_object_get(e, "from"), &from) == 0 &&
                  xj_get_u64(json_object_get(e, "to"), &to) == 0 && from < n && to < n;
        for (unsigned q = 0; ok && q < XLINK_FIELDS; q++)
            ok = xj_get_u64(json_object_get(e, xlink_fields[q].name),
                            (uint64_t *)((char *)&l + xlink_fields[q].offset)) == 0;
        if (!ok)
            return cc_err_set(err, EINVAL, "%s: links[%zu]: from/to (below %u) or a counter "
                              "missing or malformed", src, i, n);
        st->links[from * n + to] = l;
    }
    return 0;
}

static int check_format(const json_t *o, const char *src, struct cc_err *err)
{
    json_t *fmt = json_object_get(o, "format");
    uint64_t v;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CK_FORMAT))
        return cc_err_set(err, EINVAL, "%s: format: not \"%s\": not an exploration checkpoint",
                          src, CK_FORMAT);
    if (xj_get_u64(json_object_get(o, "version"), &v) < 0 || v != CK_VERSION)
        return cc_err_set(err, EINVAL, "%s: version: missing or not the one this chaoscontrol "
                          "reads (%d)", src, CK_VERSION);
    return 0;
}

int xstate_from_json(const json_t *o, const char *src, struct cc_xstate **out,
                     struct cc_err *err)
{
    *out = NULL;
    int rc = check_format(o, src, err);
    if (rc < 0)
        return rc;
    struct cc_xstate *st = calloc(1, sizeof(*st));
    if (!st)
        return cc_err_set(err, ENOMEM, "out of memory");
    covmap_init(&st->cov);
    rc = xtarget_from_json(json_object_get(o, "target"), src, "target", &st->target,
                           &st->strings, err);
    if (rc == 0)
        rc = load_options(&st->set, json_object_get(o, "options"), src, err);
    if (rc == 0)
        rc = load_counters(st, o, src, err);
    if (rc == 0)
        rc = load_coverage(&st->cov, json_object_get(o, "coverage"), src, err);
    if (rc == 0)
        rc = load_points(st, o, src, err);
    if (rc == 0)
        rc = load_history(st, json_object_get(o, "history"), err);
    if (rc == 0)
        rc = load_bugs(st, json_object_get(o, "bugs"), src, err);
    if (rc == 0)
        rc = load_asserts(st, json_object_get(o, "assertions"), src, err);
    if (rc == 0)
        rc = load_guidance(st, json_object_get(o, "guidance"), src, err);
    if (rc == 0)
        rc = load_traffic(st, o, src, err);
    if (rc < 0) {
        cc_xstate_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int cc_xstate_parse(const char *text, size_t len, const char *name, struct cc_xstate **out,
                    struct cc_err *err)
{
    *out = NULL;
    if (!name)
        name = "checkpoint";
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s", name, je.line,
                          je.column, je.text);
    int rc = xstate_from_json(o, name, out, err);
    json_decref(o);
    return rc;
}
