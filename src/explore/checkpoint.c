/* checkpoint.json: everything an exploration needs to continue, written
 * atomically after every round: the target (with file hashes), options,
 * counters, the coverage maps, the frontier points with their recipes (no
 * snapshots: a resumed exploration boots once and re-makes a point by
 * replaying its recipe the first time it is picked, which also checks the
 * recorded simulation hash), the lineage of earlier points, the history of
 * rounds, the bugs and the merged assertion table. Bug files written after
 * the last checkpoint (a run killed mid-round) are adopted on resume. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore/explorer_internal.h"
#include "util/afile.h"

#define CK_FORMAT "chaoscontrol-explore-checkpoint"
#define CK_VERSION 1

json_t *xassert_table_json(const struct cc_explorer *x)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < x->n_as; i++) {
        const struct xassert *e = &x->as[i];
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

static json_t *point_json(const struct xpoint *p, unsigned n_vms)
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
    json_object_set_new(o, "recipe", cc_recipe_to_jsonv(p->recipe));
    return o;
}

int xcheckpoint_save(struct cc_explorer *x, struct cc_err *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(CK_FORMAT));
    json_object_set_new(o, "version", json_integer(CK_VERSION));
    json_object_set_new(o, "target", xtarget_to_json(&x->target));
    json_t *op = json_object();
    json_object_set_new(op, "mode", json_string(cc_xmode_name(x->o.mode)));
    json_object_set_new(op, "branches", json_integer(x->o.branches));
    json_object_set_new(op, "seed", xj_u64(x->o.seed));
    json_object_set_new(op, "branch_ns", xj_u64(x->o.branch_ns));
    json_object_set_new(op, "frontier_max", json_integer(x->o.frontier_max));
    json_object_set_new(op, "hot_max", json_integer(x->o.hot_max));
    json_object_set_new(op, "max_faults", json_integer(x->o.max_faults));
    json_object_set_new(op, "choice_k", json_integer(x->o.choice_k));
    json_object_set_new(op, "stop_after_bugs", json_integer(x->o.stop_after_bugs));
    json_object_set_new(op, "plateau_rounds", json_integer(x->o.plateau_rounds));
    json_object_set_new(op, "react_percent", json_integer(x->o.react_percent));
    const struct cc_xweights *w = &x->o.weights;
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
    json_object_set_new(op, "weights", wj);
    json_object_set_new(o, "options", op);

    json_object_set_new(o, "rounds_done", json_integer(x->rounds_done));
    json_object_set_new(o, "branches_done", xj_u64(x->branches_done));
    json_object_set_new(o, "react_branches", xj_u64(x->react_branches));
    json_object_set_new(o, "react_faults", xj_u64(x->react_faults));
    json_object_set_new(o, "mid_points", xj_u64(x->mid_points));
    json_object_set_new(o, "wall_s", json_real(x->wall_before + xnow() - x->t_start));
    json_object_set_new(o, "setup_ns", xj_u64(x->setup_ns));
    json_object_set_new(o, "next_point_id", xj_u64(x->next_id));
    json_object_set_new(o, "max_bug_number", json_integer(x->max_bug_number));
    json_object_set_new(o, "plateau_since", json_integer(x->plateau_since));

    json_t *cov = json_object();
    json_t *edges = json_array();
    for (size_t i = 0; i < CC_COVERAGE_SIZE; i++) {
        if (!x->cov.edges[i])
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(x->cov.edges[i]));
        json_array_append_new(edges, e);
    }
    json_object_set_new(cov, "edges", edges);
    json_t *as = json_array();
    for (size_t i = 0; i < CC_XCOV_ASSERT_SIZE; i++) {
        if (!x->cov.asserts[i] && !x->cov.assert_hits[i])
            continue;
        json_t *e = json_array();
        json_array_append_new(e, json_integer((json_int_t)i));
        json_array_append_new(e, json_integer(x->cov.asserts[i]));
        json_array_append_new(e, json_integer(x->cov.assert_hits[i]));
        json_array_append_new(as, e);
    }
    json_object_set_new(cov, "asserts", as);
    json_object_set_new(o, "coverage", cov);

    json_t *pts = json_array(), *lin = json_array();
    for (size_t i = 0; i < x->n_pts; i++) {
        const struct xpoint *p = &x->pts[i];
        if (p->in_frontier && p->recipe) {
            json_array_append_new(pts, point_json(p, x->target.n_vms));
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
    for (size_t i = 0; i < x->n_hist; i++) {
        const struct xround *h = &x->hist[i];
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
        json_array_append_new(hist, e);
    }
    json_object_set_new(o, "history", hist);

    json_t *bugs = json_array();
    for (size_t i = 0; i < x->n_bugs; i++) {
        const struct xbug *b = &x->bugs[i];
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
        json_array_append_new(bugs, e);
    }
    json_object_set_new(o, "bugs", bugs);
    json_object_set_new(o, "assertions", xassert_table_json(x));

    char *text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    json_decref(o);
    if (!text)
        return cc_err_set(err, ENOMEM, "out of memory writing the checkpoint");
    char path[4200];
    snprintf(path, sizeof(path), "%s/checkpoint.json", x->dir);
    int rc = cc_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- load ---- */

static int want_u64(const json_t *o, const char *key, uint64_t *out, const char *src,
                    struct cc_err *err)
{
    if (xj_get_u64(json_object_get(o, key), out) < 0)
        return cc_err_set(err, EINVAL, "%s: %s: missing or not a non-negative integer", src,
                          key);
    return 0;
}

static int load_options(struct cc_explorer *x, const json_t *op, const char *src,
                        struct cc_err *err)
{
    if (!json_is_object(op))
        return cc_err_set(err, EINVAL, "%s: options: missing or not an object", src);
    cc_explore_opts_default(&x->o);
    json_t *m = json_object_get(op, "mode");
    if (!json_is_string(m) || cc_xmode_parse(json_string_value(m), &x->o.mode) < 0)
        return cc_err_set(err, EINVAL, "%s: options.mode: missing or not fault, input-tree or "
                          "hybrid", src);
    uint64_t v;
    struct {
        const char *key;
        unsigned *dst;
    } us[] = {
        {"branches", &x->o.branches}, {"frontier_max", &x->o.frontier_max},
        {"hot_max", &x->o.hot_max}, {"max_faults", &x->o.max_faults},
        {"choice_k", &x->o.choice_k}, {"stop_after_bugs", &x->o.stop_after_bugs},
        {"plateau_rounds", &x->o.plateau_rounds},
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
        x->o.react_percent = (unsigned)v;
    }
    if (want_u64(op, "seed", &x->o.seed, src, err) < 0 ||
        want_u64(op, "branch_ns", &x->o.branch_ns, src, err) < 0)
        return -EINVAL;
    json_t *wj = json_object_get(op, "weights");
    struct cc_xweights *w = &x->o.weights;
    struct {
        const char *key;
        unsigned *dst;
    } ws[] = {
        {"partition", &w->partition}, {"heal", &w->heal}, {"kill", &w->kill},
        {"restart", &w->restart}, {"pause", &w->pause}, {"loss", &w->loss},
        {"latency", &w->latency}, {"duplicate", &w->duplicate}, {"reorder", &w->reorder},
        {"clock", &w->clock}, {"disk", &w->disk},
    };
    for (size_t i = 0; json_is_object(wj) && i < sizeof(ws) / sizeof(ws[0]); i++)
        if (xj_get_u64(json_object_get(wj, ws[i].key), &v) == 0)
            *ws[i].dst = (unsigned)v;
    if (!x->o.branches || !x->o.branch_ns || !x->o.frontier_max)
        return cc_err_set(err, EINVAL, "%s: options: branches, branch_ns and frontier_max must "
                          "be > 0", src);
    return 0;
}

static int load_point(struct cc_explorer *x, const json_t *j, size_t i, const char *src,
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
    if (xj_get_u64(json_object_get(j, "round"), &v) == 0)
        p->round = (unsigned)v;
    if (xj_get_u64(json_object_get(j, "depth"), &v) == 0)
        p->depth = (unsigned)v;
    json_t *sc = json_object_get(j, "score");
    p->score = json_is_number(sc) ? json_number_value(sc) : 0;
    xj_get_u64(json_object_get(j, "picks"), &p->picks);
    xj_get_u64(json_object_get(j, "wins"), &p->wins);
    json_t *sl = json_object_get(j, "slots");
    for (size_t k = 0; json_is_array(sl) && k < json_array_size(sl) && k < XP_SLOTS; k++) {
        if (xj_get_u64(json_array_get(sl, k), &v) == 0 && v < CC_XCOV_ASSERT_SIZE)
            p->slots[p->n_slots++] = (size_t)v;
    }
    json_t *life = json_object_get(j, "life"), *nc = json_object_get(j, "next_choice"),
           *al = json_object_get(j, "alive");
    if (!json_is_array(life) || !json_is_array(nc) || !json_is_array(al) ||
        json_array_size(life) != x->target.n_vms || json_array_size(nc) != x->target.n_vms ||
        json_array_size(al) != x->target.n_vms)
        return cc_err_set(err, EINVAL, "%s: %s: life, next_choice and alive must be arrays of "
                          "%u", src, path, x->target.n_vms);
    for (unsigned k = 0; k < x->target.n_vms; k++) {
        if (xj_get_u64(json_array_get(life, k), &p->life[k]) < 0 ||
            xj_get_u64(json_array_get(nc, k), &p->next_choice[k]) < 0)
            return cc_err_set(err, EINVAL, "%s: %s: life/next_choice[%u] malformed", src, path,
                              k);
        p->alive[k] = json_is_true(json_array_get(al, k));
    }
    char rp[80];
    snprintf(rp, sizeof(rp), "%s.recipe", path);
    int rc = cc_recipe_from_jsonv(json_object_get(j, "recipe"), src, rp, x->target.n_vms,
                                  &p->recipe, err);
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

int xcheckpoint_load(struct cc_explorer *x, const char *dir, struct cc_err *err)
{
    char src[4200];
    snprintf(src, sizeof(src), "%s/checkpoint.json", dir);
    json_error_t je;
    json_t *o = json_load_file(src, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        if (je.line < 0 || strstr(je.text, "unable to open"))
            return cc_err_set(err, ENOENT, "%s: cannot read it (%s): is '%s' an exploration's "
                              "output directory?", src, je.text, dir);
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s", src, je.line,
                          je.column, je.text);
    }
    int rc = 0;
    json_t *fmt = json_object_get(o, "format");
    uint64_t v;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CK_FORMAT)) {
        rc = cc_err_set(err, EINVAL, "%s: format: not \"%s\": not an exploration checkpoint",
                        src, CK_FORMAT);
        goto out;
    }
    if (xj_get_u64(json_object_get(o, "version"), &v) < 0 || v != CK_VERSION) {
        rc = cc_err_set(err, EINVAL, "%s: version: missing or not the one this chaoscontrol "
                        "reads (%d)", src, CK_VERSION);
        goto out;
    }
    rc = xtarget_from_json(json_object_get(o, "target"), src, "target", &x->target, &x->strings,
                           err);
    if (rc == 0)
        rc = load_options(x, json_object_get(o, "options"), src, err);
    if (rc < 0)
        goto out;
    if ((rc = want_u64(o, "rounds_done", &v, src, err)) < 0)
        goto out;
    x->rounds_done = (unsigned)v;
    if ((rc = want_u64(o, "branches_done", &x->branches_done, src, err)) < 0 ||
        (rc = want_u64(o, "setup_ns", &x->setup_ns, src, err)) < 0 ||
        (rc = want_u64(o, "next_point_id", &x->next_id, src, err)) < 0)
        goto out;
    json_t *w = json_object_get(o, "wall_s");
    x->wall_before = json_is_number(w) ? json_number_value(w) : 0;
    if (xj_get_u64(json_object_get(o, "max_bug_number"), &v) == 0)
        x->max_bug_number = (unsigned)v;
    if (xj_get_u64(json_object_get(o, "plateau_since"), &v) == 0)
        x->plateau_since = (unsigned)v;
    if (xj_get_u64(json_object_get(o, "react_branches"), &v) == 0)
        x->react_branches = v;
    if (xj_get_u64(json_object_get(o, "react_faults"), &v) == 0)
        x->react_faults = v;
    if (xj_get_u64(json_object_get(o, "mid_points"), &v) == 0)
        x->mid_points = v;

    json_t *cov = json_object_get(o, "coverage");
    json_t *edges = json_object_get(cov, "edges"), *as = json_object_get(cov, "asserts");
    if (!json_is_array(edges) || !json_is_array(as)) {
        rc = cc_err_set(err, EINVAL, "%s: coverage: edges or asserts missing", src);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(edges); i++) {
        json_t *e = json_array_get(edges, i);
        uint64_t idx, val;
        if (xj_get_u64(json_array_get(e, 0), &idx) < 0 ||
            xj_get_u64(json_array_get(e, 1), &val) < 0 || idx >= CC_COVERAGE_SIZE ||
            val > 255) {
            rc = cc_err_set(err, EINVAL, "%s: coverage.edges[%zu]: malformed", src, i);
            goto out;
        }
        if (!x->cov.edges[idx] && val)
            x->cov.n_edges++;
        x->cov.edges[idx] = (uint8_t)val;
    }
    for (size_t i = 0; i < json_array_size(as); i++) {
        json_t *e = json_array_get(as, i);
        uint64_t idx, val, hits;
        if (xj_get_u64(json_array_get(e, 0), &idx) < 0 ||
            xj_get_u64(json_array_get(e, 1), &val) < 0 ||
            xj_get_u64(json_array_get(e, 2), &hits) < 0 || idx >= CC_XCOV_ASSERT_SIZE ||
            val > 255) {
            rc = cc_err_set(err, EINVAL, "%s: coverage.asserts[%zu]: malformed", src, i);
            goto out;
        }
        x->cov.asserts[idx] = (uint8_t)val;
        x->cov.n_assert_bits += (size_t)__builtin_popcount((unsigned)val);
        x->cov.assert_hits[idx] = (uint32_t)hits;
    }

    uint64_t next_id = x->next_id;
    json_t *pts = json_object_get(o, "points"), *lin = json_object_get(o, "lineage");
    if (!json_is_array(pts) || !json_array_size(pts) || !json_is_array(lin)) {
        rc = cc_err_set(err, EINVAL, "%s: points (with the root) or lineage missing", src);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(pts) + json_array_size(lin); i++) {
        struct xpoint *p = xp_add(x);
        if (!p) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
        if (i < json_array_size(pts)) {
            rc = load_point(x, json_array_get(pts, i), i, src, p, err);
            if (rc < 0)
                goto out;
        } else {
            json_t *e = json_array_get(lin, i - json_array_size(pts));
            if (xj_get_u64(json_array_get(e, 0), &p->id) < 0 ||
                xj_get_u64(json_array_get(e, 1), &p->parent) < 0) {
                rc = cc_err_set(err, EINVAL, "%s: lineage[%zu]: malformed", src,
                                i - json_array_size(pts));
                goto out;
            }
        }
    }
    qsort(x->pts, x->n_pts, sizeof(*x->pts), pt_cmp);
    if (x->pts[0].id != 1 || !x->pts[0].in_frontier) {
        rc = cc_err_set(err, EINVAL, "%s: points: the root (id 1) is missing", src);
        goto out;
    }
    for (size_t i = 1; i < x->n_pts; i++) {
        if (x->pts[i].id == x->pts[i - 1].id) {
            rc = cc_err_set(err, EINVAL, "%s: point %" PRIu64 " appears twice", src,
                            x->pts[i].id);
            goto out;
        }
    }
    x->next_id = next_id;       /* xp_add counted up while loading */
    if (x->next_id <= x->pts[x->n_pts - 1].id)
        x->next_id = x->pts[x->n_pts - 1].id + 1;

    json_t *hist = json_object_get(o, "history");
    for (size_t i = 0; json_is_array(hist) && i < json_array_size(hist); i++) {
        json_t *e = json_array_get(hist, i);
        if (x->n_hist == x->cap_hist) {
            size_t cap = x->cap_hist ? x->cap_hist * 2 : 32;
            struct xround *n = realloc(x->hist, cap * sizeof(*n));
            if (!n) {
                rc = cc_err_set(err, ENOMEM, "out of memory");
                goto out;
            }
            x->hist = n;
            x->cap_hist = cap;
        }
        struct xround *h = &x->hist[x->n_hist++];
        memset(h, 0, sizeof(*h));
        uint64_t t;
        if (xj_get_u64(json_object_get(e, "round"), &t) == 0) h->round = (unsigned)t;
        xj_get_u64(json_object_get(e, "branches"), &h->branches);
        json_t *ws = json_object_get(e, "wall_s");
        h->wall_s = json_is_number(ws) ? json_number_value(ws) : 0;
        if (xj_get_u64(json_object_get(e, "edges"), &t) == 0) h->edges = t;
        if (xj_get_u64(json_object_get(e, "new_edges"), &t) == 0) h->new_edges = t;
        if (xj_get_u64(json_object_get(e, "assert_bits"), &t) == 0) h->assert_bits = t;
        if (xj_get_u64(json_object_get(e, "new_assert_bits"), &t) == 0) h->new_assert_bits = t;
        if (xj_get_u64(json_object_get(e, "frontier"), &t) == 0) h->frontier = t;
        if (xj_get_u64(json_object_get(e, "bugs"), &t) == 0) h->bugs = (unsigned)t;
        if (xj_get_u64(json_object_get(e, "new_points"), &t) == 0) h->new_points = (unsigned)t;
        if (xj_get_u64(json_object_get(e, "materialized"), &t) == 0)
            h->materialized = (unsigned)t;
        if (xj_get_u64(json_object_get(e, "diverged"), &t) == 0) h->diverged = (unsigned)t;
    }

    json_t *bugs = json_object_get(o, "bugs");
    for (size_t i = 0; json_is_array(bugs) && i < json_array_size(bugs); i++) {
        json_t *e = json_array_get(bugs, i);
        if (x->n_bugs == x->cap_bugs) {
            size_t cap = x->cap_bugs ? x->cap_bugs * 2 : 8;
            struct xbug *n = realloc(x->bugs, cap * sizeof(*n));
            if (!n) {
                rc = cc_err_set(err, ENOMEM, "out of memory");
                goto out;
            }
            x->bugs = n;
            x->cap_bugs = cap;
        }
        struct xbug *b = &x->bugs[x->n_bugs];
        memset(b, 0, sizeof(*b));
        uint64_t t;
        if (xj_get_u64(json_object_get(e, "number"), &t) < 0 ||
            xj_get_hex(json_object_get(e, "assertion_id"), &b->id) < 0) {
            rc = cc_err_set(err, EINVAL, "%s: bugs[%zu]: number or assertion_id malformed", src,
                            i);
            goto out;
        }
        x->n_bugs++;
        b->number = (unsigned)t;
        if (b->number > x->max_bug_number)
            x->max_bug_number = b->number;
        if (xj_get_u64(json_object_get(e, "vm"), &t) == 0) b->vm = (unsigned)t;
        json_t *s = json_object_get(e, "message");
        b->message = strdup(json_is_string(s) ? json_string_value(s) : "");
        s = json_object_get(e, "where");
        b->where = strdup(json_is_string(s) ? json_string_value(s) : "");
        if (xj_get_u64(json_object_get(e, "round"), &t) == 0) b->round = (unsigned)t;
        xj_get_u64(json_object_get(e, "branch"), &b->branch);
        json_t *ws = json_object_get(e, "wall_s");
        b->wall_s = json_is_number(ws) ? json_number_value(ws) : 0;
        xj_get_u64(json_object_get(e, "sim_ns"), &b->sim_ns);
        xj_get_u64(json_object_get(e, "dups"), &b->dups);
        if (xj_get_u64(json_object_get(e, "size"), &t) == 0) b->size = t;
    }

    json_t *tab = json_object_get(o, "assertions");
    for (size_t i = 0; json_is_array(tab) && i < json_array_size(tab); i++) {
        json_t *e = json_array_get(tab, i);
        struct cc_assertion a = {0};
        json_t *k = json_object_get(e, "kind");
        for (uint32_t kk = CC_ASSERT_ALWAYS; json_is_string(k) && kk <= CC_ASSERT_UNREACHABLE;
             kk++)
            if (!strcmp(cc_kind_name(kk), json_string_value(k)))
                a.kind = kk;
        uint64_t t = 0;
        if (xj_get_hex(json_object_get(e, "id"), &a.id) < 0 || !a.kind) {
            rc = cc_err_set(err, EINVAL, "%s: assertions[%zu]: id or kind malformed", src, i);
            goto out;
        }
        xj_get_u64(json_object_get(e, "line"), &t);
        a.line = (uint32_t)t;
        json_t *s;
        a.message = json_is_string(s = json_object_get(e, "message")) ? json_string_value(s) : "";
        a.file = json_is_string(s = json_object_get(e, "file")) ? json_string_value(s) : "";
        a.function = json_is_string(s = json_object_get(e, "function")) ?
                     json_string_value(s) : "";
        int idx = xa_find_or_add(x, &a);
        if (idx < 0) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
        struct xassert *xa = &x->as[idx];
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
out:
    json_decref(o);
    return rc;
}

/* Bug files newer than the checkpoint (a run killed mid-round). */
int xbugs_adopt(struct cc_explorer *x, struct cc_err *err)
{
    DIR *d = opendir(x->dir);
    if (!d)
        return cc_err_set(err, errno, "%s: %s", x->dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        unsigned num;
        char tail[8];
        if (sscanf(de->d_name, "bug_%u.%7s", &num, tail) != 2 || strcmp(tail, "json"))
            continue;
        bool known = false;
        for (size_t i = 0; i < x->n_bugs && !known; i++)
            known = x->bugs[i].number == num;
        if (known)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", x->dir, de->d_name);
        struct cc_bug *b;
        struct cc_err e = {0};
        if (cc_bug_load(path, &b, &e) < 0) {
            if (x->o.log) {
                char msg[1200];
                snprintf(msg, sizeof(msg), "warning: not adopting %s", e.msg);
                x->o.log(x->o.log_opaque, msg);
            }
            continue;
        }
        if (x->n_bugs == x->cap_bugs) {
            size_t cap = x->cap_bugs ? x->cap_bugs * 2 : 8;
            struct xbug *n = realloc(x->bugs, cap * sizeof(*n));
            if (!n) {
                cc_bug_free(b);
                rc = cc_err_set(err, ENOMEM, "out of memory");
                break;
            }
            x->bugs = n;
            x->cap_bugs = cap;
        }
        struct xbug *xb = &x->bugs[x->n_bugs++];
        memset(xb, 0, sizeof(*xb));
        xb->number = num;
        xb->id = b->fail.id;
        xb->vm = b->fail.vm;
        xb->message = strdup(b->fail.message);
        char where[400];
        snprintf(where, sizeof(where), "%s:%u", b->fail.file, b->fail.line);
        xb->where = strdup(where);
        xb->round = (unsigned)b->round;
        xb->branch = b->branch;
        xb->wall_s = b->wall_s;
        xb->sim_ns = b->fail.sim_ns;
        xb->size = cc_recipe_size(b->recipe);
        if (num > x->max_bug_number)
            x->max_bug_number = num;
        if (x->o.log) {
            char msg[600];
            snprintf(msg, sizeof(msg), "adopted %.300s (written after the last checkpoint): \"%s\"",
                     path, xb->message);
            x->o.log(x->o.log_opaque, msg);
        }
        cc_bug_free(b);
    }
    closedir(d);
    /* keep them in number order */
    for (size_t i = 1; i < x->n_bugs; i++)
        for (size_t j = i; j > 0 && x->bugs[j - 1].number > x->bugs[j].number; j--) {
            struct xbug t = x->bugs[j];
            x->bugs[j] = x->bugs[j - 1];
            x->bugs[j - 1] = t;
        }
    return rc;
}

int cc_checkpoint_peek(const char *dir, unsigned *rounds, unsigned *bugs, struct cc_err *err)
{
    struct cc_explorer *x = calloc(1, sizeof(*x));
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    x->dir = strdup(dir);
    int rc = xcheckpoint_load(x, dir, err);
    if (rc == 0) {
        *rounds = x->rounds_done;
        *bugs = (unsigned)x->n_bugs;
    }
    cc_explorer_free(x);
    return rc;
}

int cc_checkpoint_check_target(const char *dir, struct cc_err *err)
{
    struct cc_explorer *x = calloc(1, sizeof(*x));
    if (!x)
        return cc_err_set(err, ENOMEM, "out of memory");
    x->dir = strdup(dir);
    int rc = xcheckpoint_load(x, dir, err);
    if (rc == 0)
        rc = cc_xtarget_check_boot(&x->target, err);
    cc_explorer_free(x);
    return rc;
}
