/* Bug files: everything needed to reproduce a failure (target with file
 * hashes, seed, recipe, the failure itself), their validation, and the
 * reproducer and minimizer built on replays.
 *
 *   {"format": "chaoscontrol-bug", "version": 1, "bug": 1,
 *    "failure": {"vm": 2, "assertion_id": "...", "kind": "ALWAYS",
 *                "message": "...", "file": "...", "line": 375, ...,
 *                "sim_vtime_ns": ..., "vm_vtime_ns": ..., "vm_exit": ...},
 *    "target": {"kernel": ..., "kernel_sha256": ..., "vms": 3, "seed": "0", ...},
 *    "recipe": {"schedule": {...}, "overrides": [...], "stops": [...], "end": ...},
 *    "found": {"round": 2, "branch": 37, "wall_s": 81.2, "mode": "fault"},
 *    "choices_drawn": [31, 28, 40]} */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/sim.h"
#include "explore/explore_internal.h"
#include "util/buf.h"
#include "util/afile.h"

#define BUG_FORMAT "chaoscontrol-bug"
#define BUG_VERSION 1
/* A minimization candidate runs this long past the failure it should
 * reproduce: a failure of the same assertion a little later still counts
 * (the candidate is kept, with its own failure time). */
#define MIN_SLACK_NS (CC_SEC / 4)

void cc_bug_free(struct cc_bug *b)
{
    if (!b)
        return;
    free(b->kernel);
    free(b->initrd);
    free(b->cmdline);
    free(b->append);
    free(b->disk_image);
    free(b->factory);
    cc_recipe_free(b->recipe);
    free(b->minimized_from);
    free(b->history_file);
    free(b->history_explain);
    free(b->history_witness);
    free(b->history_text);
    free(b->dlog_file);
    free(b);
}

char *cc_bug_to_json(const struct cc_bug *b)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(BUG_FORMAT));
    json_object_set_new(o, "version", json_integer(BUG_VERSION));
    json_object_set_new(o, "bug", json_integer(b->number));
    json_object_set_new(o, "failure", xfailure_to_json(&b->fail));
    json_object_set_new(o, "target", xtarget_to_json(&b->target));
    json_object_set_new(o, "recipe", recipe_to_json(b->recipe));
    json_t *found = json_object();
    json_object_set_new(found, "round", xj_u64(b->round));
    json_object_set_new(found, "branch", xj_u64(b->branch));
    json_object_set_new(found, "wall_s", json_real(b->wall_s));
    json_object_set_new(found, "mode", json_string(cc_xmode_name(b->mode)));
    json_object_set_new(o, "found", found);
    json_t *ch = json_array();
    for (unsigned i = 0; i < b->target.n_vms; i++)
        json_array_append_new(ch, xj_u64(b->choices[i]));
    json_object_set_new(o, "choices_drawn", ch);
    if (b->minimized_from) {
        json_object_set_new(o, "minimized_from", json_string(b->minimized_from));
        json_object_set_new(o, "original_size", xj_u64(b->original_size));
    }
    if (b->history_file || b->history_explain || b->history_witness) {
        json_t *h = json_object();
        json_object_set_new(h, "checker", json_string(cc_xchecker_name(b->target.checker)));
        json_object_set_new(h, "operations", xj_u64(b->history_ops));
        json_object_set_new(h, "file", b->history_file ? json_string(b->history_file) :
                                                         json_null());
        if (b->history_explain)
            json_object_set_new(h, "explain", json_string(b->history_explain));
        if (b->history_witness) {
            json_t *w = json_array();
            for (const char *l = b->history_witness; *l;) {
                const char *e = strchr(l, '\n');
                size_t n = e ? (size_t)(e - l) : strlen(l);
                json_t *op = json_loadb(l, n, 0, NULL);
                if (op)
                    json_array_append_new(w, op);
                l += n + (e != NULL);
            }
            json_object_set_new(h, "witness", w);
        }
        json_object_set_new(o, "history", h);
    }
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!t)
        return NULL;
    size_t len = strlen(t);
    char *n = realloc(t, len + 2);
    if (!n) {
        free(t);
        return NULL;
    }
    n[len] = '\n';
    n[len + 1] = 0;
    return n;
}

int xbug_take_history(struct cc_bug *b, const struct cc_xcheck_out *c, struct cc_sim *sim,
                      size_t ops)
{
    free(b->history_file);
    free(b->history_explain);
    free(b->history_witness);
    free(b->history_text);
    b->history_file = b->history_explain = b->history_witness = b->history_text = NULL;
    b->history_len = 0;
    b->history_ops = ops;
    size_t len;
    const char *text = cc_sim_history(sim, &len, NULL);
    if (!len)
        return 0;
    b->history_text = malloc(len);
    if (b->history_text) {
        memcpy(b->history_text, text, len);
        b->history_len = len;
    }
    if (c->explain)
        b->history_explain = strdup(c->explain);
    if (c->witness)
        b->history_witness = strdup(c->witness);
    if (!b->history_text || (c->explain && !b->history_explain) ||
        (c->witness && !b->history_witness))
        return -ENOMEM;
    return 0;
}

size_t xbug_stem(const char *path)
{
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".json") ? n - 5 : n;
}

int cc_bug_save(const struct cc_bug *b, const char *path, struct cc_err *err)
{
    struct cc_bug nb;
    char hname[4200];
    size_t n = xbug_stem(path);
    if (b->history_text) {
        /* bug_3.json -> bug_3.history.jsonl, beside it, written first */
        char hpath[4200];
        snprintf(hpath, sizeof(hpath), "%.*s.history.jsonl", (int)n, path);
        int rc = cc_file_write_atomic(hpath, b->history_text, b->history_len, err);
        if (rc < 0)
            return rc;
        const char *base = strrchr(hpath, '/');
        snprintf(hname, sizeof(hname), "%s", base ? base + 1 : hpath);
        nb = *b;
        nb.history_file = hname;
        b = &nb;
    }
    /* bug_3.json -> bug_3.txt, the report in words, before the bug file */
    char tpath[4200];
    snprintf(tpath, sizeof(tpath), "%.*s.txt", (int)n, path);
    char *t = cc_bug_report(b, path);
    if (!t)
        return cc_err_set(err, ENOMEM, "out of memory");
    int rc = cc_file_write_atomic(tpath, t, strlen(t), err);
    free(t);
    if (rc < 0)
        return rc;
    t = cc_bug_to_json(b);
    if (!t)
        return cc_err_set(err, ENOMEM, "out of memory");
    rc = cc_file_write_atomic(path, t, strlen(t), err);
    free(t);
    return rc;
}

static const char *const top_keys[] = {
    "format", "version", "bug", "failure", "target", "recipe", "found", "choices_drawn",
    "minimized_from", "original_size", "history", NULL,
};

/* The bug owns these strings of its target (kept apart for freeing);
 * setup_marker is not among them (struct cc_bug has no field for it). */
static void bug_take_strings(struct cc_bug *b, const struct xtarget_strings *o)
{
    b->kernel = o->kernel;
    b->initrd = o->initrd;
    b->cmdline = o->cmdline;
    b->append = o->append;
    b->disk_image = o->disk_image;
    b->factory = o->factory;
}

int cc_bug_parse(const char *text, const char *name, struct cc_bug **out, struct cc_err *err)
{
    *out = NULL;
    if (!name)
        name = "bug file";
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s", name, je.line,
                          je.column, je.text);
    int rc = 0;
    struct cc_bug *b = calloc(1, sizeof(*b));
    if (!b) {
        json_decref(root);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    if (!json_is_object(root)) {
        rc = cc_err_set(err, EINVAL, "%s: not a JSON object (a bug file is one object)", name);
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        bool known = false;
        for (size_t i = 0; top_keys[i] && !known; i++)
            known = !strcmp(key, top_keys[i]);
        if (!known) {
            rc = cc_err_set(err, EINVAL, "%s: %s: unknown key", name, key);
            goto out;
        }
    }
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), BUG_FORMAT)) {
        rc = cc_err_set(err, EINVAL, "%s: format: %s (want \"%s\"): not a bug file", name,
                        fmt ? "wrong value" : "missing", BUG_FORMAT);
        goto out;
    }
    uint64_t v;
    if (xj_get_u64(json_object_get(root, "version"), &v) < 0) {
        rc = cc_err_set(err, EINVAL, "%s: version: missing or not an integer", name);
        goto out;
    }
    if (v != BUG_VERSION) {
        rc = cc_err_set(err, EINVAL, "%s: version %" PRIu64 " is not the one this chaoscontrol "
                        "reads (%d)%s", name, v, BUG_VERSION,
                        v > BUG_VERSION ? ": update chaoscontrol" : "");
        goto out;
    }
    uint64_t num = 0;
    if (xj_get_u64(json_object_get(root, "bug"), &num) < 0) {
        rc = cc_err_set(err, EINVAL, "%s: bug: missing or not a non-negative integer", name);
        goto out;
    }
    b->number = (unsigned)num;
    struct xtarget_strings s;
    rc = xtarget_from_json(json_object_get(root, "target"), name, "target", &b->target, &s, err);
    if (rc < 0)
        goto out;
    bug_take_strings(b, &s);
    rc = xfailure_from_json(json_object_get(root, "failure"), name, "failure", &b->fail, err);
    if (rc < 0)
        goto out;
    if (b->fail.vm >= b->target.n_vms) {
        rc = cc_err_set(err, EINVAL, "%s: failure.vm: %u is out of range (%u VMs)", name,
                        b->fail.vm, b->target.n_vms);
        goto out;
    }
    json_t *rj = json_object_get(root, "recipe");
    if (!rj) {
        rc = cc_err_set(err, EINVAL, "%s: recipe: missing", name);
        goto out;
    }
    rc = recipe_from_json(rj, name, "recipe", b->target.n_vms, &b->recipe, err);
    if (rc < 0)
        goto out;
    if (b->recipe->end_ns != b->fail.sim_ns) {
        rc = cc_err_set(err, EINVAL, "%s: recipe.end (%" PRIu64 " ns) is not the failure's "
                        "sim_vtime_ns (%" PRIu64 " ns)", name, b->recipe->end_ns, b->fail.sim_ns);
        goto out;
    }
    /* where it was found: optional (hand-written bug files) */
    b->mode = CC_XMODE_FAULT;
    json_t *found = json_object_get(root, "found");
    if (found) {
        if (!json_is_object(found)) {
            rc = cc_err_set(err, EINVAL, "%s: found: not an object", name);
            goto out;
        }
        xj_get_u64(json_object_get(found, "round"), &b->round);
        xj_get_u64(json_object_get(found, "branch"), &b->branch);
        json_t *w = json_object_get(found, "wall_s");
        b->wall_s = json_is_number(w) ? json_number_value(w) : 0;
        json_t *m = json_object_get(found, "mode");
        if (!json_is_string(m) || cc_xmode_parse(json_string_value(m), &b->mode) < 0)
            b->mode = CC_XMODE_FAULT;
    }
    json_t *ch = json_object_get(root, "choices_drawn");
    for (size_t i = 0; json_is_array(ch) && i < json_array_size(ch) && i < CC_SIM_MAX_VMS; i++)
        xj_get_u64(json_array_get(ch, i), &b->choices[i]);
    json_t *mf = json_object_get(root, "minimized_from");
    if (json_is_string(mf)) {
        b->minimized_from = strdup(json_string_value(mf));
        xj_get_u64(json_object_get(root, "original_size"), &v);
        b->original_size = (size_t)v;
    }
    json_t *hist = json_object_get(root, "history");
    if (hist && !json_is_object(hist)) {
        rc = cc_err_set(err, EINVAL, "%s: history: not an object", name);
        goto out;
    }
    if (hist) {
        json_t *f = json_object_get(hist, "file"), *e = json_object_get(hist, "explain");
        json_t *w = json_object_get(hist, "witness");
        if ((f && !json_is_string(f) && !json_is_null(f)) || (e && !json_is_string(e)) ||
            (w && !json_is_array(w))) {
            rc = cc_err_set(err, EINVAL, "%s: history: file and explain are strings, witness "
                            "an array of operations", name);
            goto out;
        }
        v = 0;
        xj_get_u64(json_object_get(hist, "operations"), &v);
        b->history_ops = (size_t)v;
        if (json_is_string(f))
            b->history_file = strdup(json_string_value(f));
        if (e)
            b->history_explain = strdup(json_string_value(e));
        if (w) {
            size_t i;
            json_t *op;
            struct cc_buf wb;
            buf_init(&wb);
            json_array_foreach(w, i, op) {
                char *l = json_dumps(op, JSON_COMPACT | JSON_SORT_KEYS);
                if (l) {
                    buf_put(&wb, l, strlen(l));
                    buf_put_u8(&wb, '\n');
                }
                free(l);
            }
            buf_put_u8(&wb, 0);
            b->history_witness = buf_ok(&wb) ? (char *)wb.data : NULL;
            if (!b->history_witness)
                buf_free(&wb);
        }
    }
out:
    json_decref(root);
    if (rc < 0) {
        cc_bug_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int cc_bug_load(const char *path, struct cc_bug **out, struct cc_err *err)
{
    *out = NULL;
    char *text;
    size_t len;
    int rc = cc_file_read(path, "bug file", 64u << 20, &text, &len, err);
    if (rc < 0)
        return rc;
    if (strlen(text) != len) {
        free(text);
        return cc_err_set(err, EINVAL, "%s: contains NUL bytes: not a JSON bug file", path);
    }
    rc = cc_bug_parse(text, path, out, err);
    free(text);
    return rc;
}

/* ---- reproduce ---- */

void cc_bug_compare(const struct cc_bug *b, const struct cc_xrun_result *res, struct cc_repro *r)
{
    const struct cc_xfailure *w = &b->fail, *g = &res->fail;
    r->same = false;
    r->diff[0] = 0;
    if (!g->failed) {
        snprintf(r->diff, sizeof(r->diff), "no assertion failed (the run %s at %.6f s)",
                 res->all_down ? "lost every VM" : "ended", res->end_ns / 1e9);
        return;
    }
    if (g->id != w->id || strcmp(g->message, w->message) || strcmp(g->file, w->file) ||
        g->line != w->line) {
        snprintf(r->diff, sizeof(r->diff), "a different assertion failed: \"%.120s\" at %.60s:%u "
                 "(recorded: \"%.120s\" at %.60s:%u)", g->message, g->file, g->line, w->message,
                 w->file, w->line);
        return;
    }
    if (g->vm != w->vm) {
        snprintf(r->diff, sizeof(r->diff), "the same assertion failed, but in vm %u (recorded: "
                 "vm %u)", g->vm, w->vm);
        return;
    }
    if (g->sim_ns != w->sim_ns || g->vm_ns != w->vm_ns || g->exit != w->exit) {
        snprintf(r->diff, sizeof(r->diff), "the same assertion failed in vm %u, but at "
                 "simulation time %" PRIu64 " ns, vm time %" PRIu64 " ns, exit %" PRIu64
                 " (recorded: %" PRIu64 ", %" PRIu64 ", %" PRIu64 ")", g->vm, g->sim_ns,
                 g->vm_ns, g->exit, w->sim_ns, w->vm_ns, w->exit);
        return;
    }
    r->same = true;
}

/* Check the files' hashes, then boot the bug's target to setup. */
static int boot_checked(const struct cc_bug *b, const struct cc_xrun_opts *o,
                        struct cc_xrun **x, struct cc_err *err)
{
    *x = NULL;
    int rc = cc_xtarget_check(&b->target, err);
    return rc < 0 ? rc : cc_xrun_boot(&b->target, o, x, err);
}

int cc_bug_reproduce_keep(const struct cc_bug *b, const struct cc_xrun_opts *o,
                          struct cc_repro *out, struct cc_xrun **keep, struct cc_err *err)
{
    memset(out, 0, sizeof(*out));
    struct cc_xrun *x;
    int rc = boot_checked(b, o, &x, err);
    if (rc == 0 && o && o->play_dlog)
        rc = xrun_play_dlog(x, b->recipe, o->play_dlog, &out->res, err);
    else if (rc == 0)
        rc = xrun_play(x, b->recipe, NULL, &out->res, err);
    if (rc == 0)
        cc_bug_compare(b, &out->res, out);
    if (keep && rc == 0)
        *keep = x;
    else
        cc_xrun_free(x);
    if (keep && rc < 0)
        *keep = NULL;
    return rc;
}

int cc_bug_reproduce(const struct cc_bug *b, const struct cc_xrun_opts *o, struct cc_repro *out,
                     struct cc_err *err)
{
    return cc_bug_reproduce_keep(b, o, out, NULL, err);
}

/* ---- record ---- */

int cc_bug_record(const struct cc_xtarget *t, const struct cc_recipe *r,
                  const struct cc_xrun_opts *o, struct cc_bug **out, struct cc_xrun_result *res,
                  struct cc_err *err)
{
    *out = NULL;
    memset(res, 0, sizeof(*res));
    struct cc_bug *b = calloc(1, sizeof(*b));
    struct xtarget_strings own;
    if (!b || (b->target = *t, xtarget_own(&b->target, &own) < 0)) {
        free(b);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    bug_take_strings(b, &own);
    free(own.setup_marker);             /* struct cc_bug has no field for it: borrowed */
    b->target.setup_marker = t->setup_marker;
    b->number = 1;
    b->mode = CC_XMODE_FAULT;
    int rc = t->factory ? 0 : cc_xtarget_hash(&b->target, err);
    struct cc_xrun *x = NULL;
    if (rc == 0)
        rc = cc_xrun_boot(&b->target, o, &x, err);
    if (rc == 0) {
        uint64_t setup = cc_sim_now(cc_xrun_sim(x));
        size_t n = cc_schedule_count(r->sched);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const struct cc_fault *f = cc_schedule_get(r->sched, i);
            if (f->at_ns < setup)
                rc = cc_err_set(err, ERANGE, "faults[%zu] (%s at %.6f s) comes before setup "
                                "completed (%.6f s): a recorded run starts at setup",
                                i, cc_fault_type_name(f->type), f->at_ns / 1e9, setup / 1e9);
        }
        if (rc == 0 && r->end_ns <= setup)
            rc = cc_err_set(err, ERANGE, "the run ends (%.6f s) before setup completed "
                            "(%.6f s)", r->end_ns / 1e9, setup / 1e9);
    }
    if (rc == 0)
        rc = cc_xrun_replay(x, r, res, err);
    if (rc == 0 && res->fail.failed) {
        /* r up to the failure: the stops before it and faults at or before it */
        struct cc_recipe *br = cc_recipe_clone(r);
        if (!br) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
        } else {
            br->end_ns = res->fail.sim_ns;
            size_t k = 0;
            while (k < br->n_stops && br->stops[k] < br->end_ns)
                k++;
            br->n_stops = k;
            for (size_t i = cc_schedule_count(br->sched); i-- > 0;)
                if (cc_schedule_get(br->sched, i)->at_ns > br->end_ns)
                    cc_schedule_remove(br->sched, i);
            b->recipe = br;
            if (cc_recipe_add_stop(br, br->end_ns) < 0 ||
                xbug_take_history(b, xrun_check_out(x), cc_xrun_sim(x), res->hist_ops) < 0)
                rc = cc_err_set(err, ENOMEM, "out of memory");
        }
        b->fail = res->fail;
        memcpy(b->choices, res->choices, sizeof(b->choices));
    }
    cc_xrun_free(x);
    if (rc < 0 || !res->fail.failed) {
        cc_bug_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- minimize ---- */

struct mctx {
    struct cc_xrun *x;
    uint64_t x_setup_ns;
    const struct cc_bug *b;
    const struct cc_recipe *base;       /* faults and overrides to choose from */
    bool faults;                        /* choosing faults (else overrides) */
    uint64_t end;                       /* candidate end: the original + slack */
    struct cc_recipe *best;             /* the last failing candidate, end = its failure */
    struct cc_xfailure best_fail;
    void (*progress)(void *opaque, const char *msg);
    void *opaque;
    unsigned long tests;
    struct cc_err *err;
};

/* A history checker's failure (src/explore/xcheck.c): judged at the run's
 * end, so a candidate runs exactly as long as the recipe, no slack. */
static bool checker_failure(const struct cc_bug *b)
{
    return !strcmp(b->fail.file, "chaoscontrol:checker");
}

static struct cc_recipe *candidate(const struct mctx *m, const bool *keep)
{
    struct cc_recipe *r = cc_recipe_new();
    if (!r)
        return NULL;
    size_t nf = cc_schedule_count(m->base->sched);
    for (size_t i = 0; i < nf; i++) {
        if (m->faults && !keep[i])
            continue;
        if (cc_schedule_add(r->sched, cc_schedule_get(m->base->sched, i), NULL) < 0)
            goto oom;
    }
    for (size_t i = 0; i < m->base->n_ov; i++) {
        if (!m->faults && !keep[i])
            continue;
        if (cc_recipe_add_override(r, &m->base->ov[i]) < 0)
            goto oom;
    }
    for (size_t i = 0; i < m->base->n_stops; i++)
        if (cc_recipe_add_stop(r, m->base->stops[i]) < 0)
            goto oom;
    r->end_ns = m->end;
    return r;
oom:
    cc_recipe_free(r);
    return NULL;
}

/* One minimizing test: replay r, count it, say what it gave ("test 3:
 * WHAT: passes (...)"); *fails when it failed the bug's property. */
static int mreplay(struct mctx *m, const struct cc_recipe *r, const char *what,
                   struct cc_xrun_result *res, bool *fails)
{
    double t0 = explore_now();
    int rc = cc_xrun_replay(m->x, r, res, m->err);
    m->tests++;
    if (rc < 0)
        return rc;
    *fails = res->fail.failed && res->fail.id == m->b->fail.id;
    if (m->progress) {
        char msg[240];
        snprintf(msg, sizeof(msg), "test %lu: %s: %s (%.3f s virtual, %.1f s wall)", m->tests,
                 what, *fails ? "fails the same way" : res->fail.failed ? "fails differently" :
                 "passes", (res->end_ns - m->x_setup_ns) / 1e9, explore_now() - t0);
        m->progress(m->opaque, msg);
    }
    return 0;
}

static int mtest(void *opaque, const bool *keep, size_t n)
{
    struct mctx *m = opaque;
    (void)n;
    struct cc_recipe *r = candidate(m, keep);
    if (!r)
        return cc_err_set(m->err, ENOMEM, "out of memory");
    struct cc_xrun_result res;
    bool fails;
    char what[80];
    snprintf(what, sizeof(what), "%zu faults, %zu overrides", cc_schedule_count(r->sched),
             r->n_ov);
    int rc = mreplay(m, r, what, &res, &fails);
    if (rc < 0) {
        cc_recipe_free(r);
        return rc;
    }
    if (fails) {
        /* Keep the smallest failing candidate found so far (ddmin only
         * ever moves to smaller ones). */
        r->end_ns = res.fail.sim_ns;
        size_t k = 0;
        while (k < r->n_stops && r->stops[k] < r->end_ns)
            k++;
        r->n_stops = k;
        cc_recipe_add_stop(r, r->end_ns);
        if (!m->best || cc_recipe_size(r) <= cc_recipe_size(m->best)) {
            cc_recipe_free(m->best);
            m->best = r;
            m->best_fail = res.fail;
            r = NULL;
        }
    }
    cc_recipe_free(r);
    return fails ? 1 : 0;
}

/* ddmin over cur's faults (pass 0), then its overrides (pass 1); cur and
 * *fail move to the smallest recipe that still fails the same way. */
static int minimize_passes(struct mctx *m, struct cc_recipe **cur, struct cc_xfailure *fail,
                           struct cc_err *err)
{
    int rc = 0;
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        m->faults = pass == 0;
        m->base = *cur;
        size_t n = m->faults ? cc_schedule_count((*cur)->sched) : (*cur)->n_ov;
        if (!n)
            continue;
        bool *keep = malloc(n);
        if (!keep)
            return cc_err_set(err, ENOMEM, "out of memory");
        memset(keep, 1, n);
        if (m->progress) {
            char msg[120];
            snprintf(msg, sizeof(msg), "ddmin over %zu %s", n, m->faults ? "faults" : "overrides");
            m->progress(m->opaque, msg);
        }
        long t = ddmin_run(n, keep, mtest, m);
        free(keep);
        if (t < 0) {
            rc = (int)t;
            if (!err->code)
                cc_err_set(err, -rc, "minimizing: %s", strerror(-rc));
            break;
        }
        if (m->best) {
            cc_recipe_free(*cur);
            *cur = m->best;
            *fail = m->best_fail;
            m->best = NULL;
        }
        m->end = (*cur)->end_ns + (checker_failure(m->b) ? 0 : MIN_SLACK_NS);
    }
    return rc;
}

/* The latest "time" of the witness's operations (JSON lines), 0 if none. */
static uint64_t witness_end(const char *witness)
{
    uint64_t end = 0;
    for (const char *l = witness; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        json_t *o = json_loadb(l, n, 0, NULL);
        json_t *t = o ? json_object_get(o, "time") : NULL;
        if (json_is_integer(t) && json_integer_value(t) > 0 &&
            (uint64_t)json_integer_value(t) > end)
            end = (uint64_t)json_integer_value(t);
        json_decref(o);
        l += n + (e != NULL);
    }
    return end;
}

/* A checker failure needs the run only until its witness's last operation
 * completed: try ending there (plus 1 ms); every later test is shorter. */
static int shorten(struct mctx *m, struct cc_recipe **cur, struct cc_xfailure *fail,
                   bool *done, struct cc_err *err)
{
    *done = false;
    uint64_t t = witness_end(m->b->history_witness);
    if (!t || !checker_failure(m->b))
        return 0;
    t += CC_MSEC;
    if (t <= m->x_setup_ns || t >= (*cur)->end_ns)
        return 0;
    struct cc_recipe *r = cc_recipe_clone(*cur);
    if (!r)
        return cc_err_set(err, ENOMEM, "out of memory");
    r->end_ns = t;
    size_t k = 0;
    while (k < r->n_stops && r->stops[k] < t)
        k++;
    r->n_stops = k;
    struct cc_xrun_result res;
    bool fails;
    char what[80];
    snprintf(what, sizeof(what), "the run cut at the witness's end, %.6f s", t / 1e9);
    int rc = mreplay(m, r, what, &res, &fails);
    if (rc < 0) {
        cc_recipe_free(r);
        return rc;
    }
    if (!fails) {
        cc_recipe_free(r);
        return 0;
    }
    cc_recipe_add_stop(r, r->end_ns);
    cc_recipe_free(*cur);
    *cur = r;
    *fail = res.fail;
    m->end = r->end_ns;
    *done = true;
    return 0;
}

/* A new bug like b (its target's strings copied) with recipe r (taken)
 * and failure f; NULL when out of memory (r freed). */
static struct cc_bug *bug_with(const struct cc_bug *b, struct cc_recipe *r,
                               const struct cc_xfailure *f)
{
    struct cc_bug *nb = calloc(1, sizeof(*nb));
    struct xtarget_strings own;
    if (!nb || (nb->target = b->target, xtarget_own(&nb->target, &own) < 0)) {
        free(nb);
        cc_recipe_free(r);
        return NULL;
    }
    nb->number = b->number;
    bug_take_strings(nb, &own);
    nb->recipe = r;
    nb->fail = *f;
    nb->round = b->round;
    nb->branch = b->branch;
    nb->wall_s = b->wall_s;
    nb->mode = b->mode;
    memcpy(nb->choices, b->choices, sizeof(nb->choices));
    nb->original_size = cc_recipe_size(b->recipe);
    return nb;
}

int cc_bug_minimize(const struct cc_bug *b, const struct cc_xrun_opts *o,
                    void (*progress)(void *opaque, const char *msg), void *opaque,
                    struct cc_bug **out, struct cc_minimize_stats *st, struct cc_err *err)
{
    *out = NULL;
    memset(st, 0, sizeof(*st));
    double t0 = explore_now();
    struct cc_xrun *x;
    int rc = boot_checked(b, o, &x, err);
    if (rc < 0)
        return rc;
    struct mctx m = {
        .x = x, .x_setup_ns = xrun_setup_ns(x), .b = b, .progress = progress,
        .opaque = opaque, .err = err,
        .end = b->recipe->end_ns + (checker_failure(b) ? 0 : MIN_SLACK_NS),
    };
    st->faults_before = cc_schedule_count(b->recipe->sched);
    st->overrides_before = b->recipe->n_ov;

    struct cc_recipe *cur = cc_recipe_clone(b->recipe);
    if (!cur)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    struct cc_xfailure cur_fail = b->fail;
    /* A checker failure that still fails when the run ends at its witness
     * needs no replay of the whole original; else the original must fail
     * the same way from this boot. */
    bool shorter = false;
    if (rc == 0)
        rc = shorten(&m, &cur, &cur_fail, &shorter, err);
    if (rc == 0 && !shorter) {
        struct cc_xrun_result res;
        rc = cc_xrun_replay(x, b->recipe, &res, err);
        if (rc == 0) {
            struct cc_repro rp;
            cc_bug_compare(b, &res, &rp);
            if (!rp.same)
                rc = cc_err_set(err, EINVAL, "the bug does not reproduce, so it cannot be "
                                "minimized: %s", rp.diff);
        }
    }
    if (rc == 0)
        rc = minimize_passes(&m, &cur, &cur_fail, err);
    cc_recipe_free(m.best);
    cc_xrun_free(x);
    st->tests = m.tests;
    if (rc < 0) {
        cc_recipe_free(cur);
        return rc;
    }
    struct cc_bug *nb = bug_with(b, cur, &cur_fail);
    if (!nb)
        return cc_err_set(err, ENOMEM, "out of memory");
    /* The result, from a fresh boot, must fail as recorded. */
    if (progress)
        progress(opaque, "verifying the result from a fresh boot");
    struct cc_repro rp;
    struct cc_xrun *xv = NULL;
    rc = cc_bug_reproduce_keep(nb, o, &rp, &xv, err);
    if (rc == 0 && xbug_take_history(nb, xrun_check_out(xv), cc_xrun_sim(xv), rp.res.hist_ops) < 0)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    cc_xrun_free(xv);
    if (rc == 0 && !rp.same)
        rc = cc_err_set(err, EIO, "the minimized recipe did not fail the same way from a "
                        "fresh boot: %s", rp.diff);
    if (rc < 0) {
        cc_bug_free(nb);
        return rc;
    }
    memcpy(nb->choices, rp.res.choices, sizeof(nb->choices));
    st->faults_after = cc_schedule_count(nb->recipe->sched);
    st->overrides_after = nb->recipe->n_ov;
    st->wall_s = explore_now() - t0;
    *out = nb;
    return 0;
}
