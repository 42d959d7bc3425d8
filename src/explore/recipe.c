/* Recipes: everything a branch did (fault schedule, choice overrides, stop
 * times), their JSON form and the segment rule shared by the explorer and
 * replays (see chaoscontrol/explore.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/explore.h"
#include "explore/explore_internal.h"

struct cc_recipe *cc_recipe_new(void)
{
    struct cc_recipe *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->sched = cc_schedule_new();
    if (!r->sched) {
        free(r);
        return NULL;
    }
    return r;
}

void cc_recipe_free(struct cc_recipe *r)
{
    if (!r)
        return;
    cc_schedule_free(r->sched);
    free(r->ov);
    free(r->stops);
    free(r);
}

struct cc_recipe *cc_recipe_clone(const struct cc_recipe *r)
{
    struct cc_recipe *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sched = cc_schedule_clone(r->sched);
    if (r->n_ov) {
        c->ov = malloc(r->n_ov * sizeof(*c->ov));
        if (c->ov)
            memcpy(c->ov, r->ov, r->n_ov * sizeof(*c->ov));
    }
    if (r->n_stops) {
        c->stops = malloc(r->n_stops * sizeof(*c->stops));
        if (c->stops)
            memcpy(c->stops, r->stops, r->n_stops * sizeof(*c->stops));
    }
    if (!c->sched || (r->n_ov && !c->ov) || (r->n_stops && !c->stops)) {
        cc_recipe_free(c);
        return NULL;
    }
    c->n_ov = c->cap_ov = r->n_ov;
    c->n_stops = c->cap_stops = r->n_stops;
    c->end_ns = r->end_ns;
    return c;
}

static int ov_cmp(const struct cc_xoverride *a, const struct cc_xoverride *b)
{
    if (a->vm != b->vm)
        return a->vm < b->vm ? -1 : 1;
    if (a->life != b->life)
        return a->life < b->life ? -1 : 1;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return 0;
}

int cc_recipe_add_override(struct cc_recipe *r, const struct cc_xoverride *o)
{
    size_t i = 0;
    while (i < r->n_ov && ov_cmp(&r->ov[i], o) < 0)
        i++;
    if (i < r->n_ov && ov_cmp(&r->ov[i], o) == 0) {
        r->ov[i].value = o->value;
        return 0;
    }
    if (r->n_ov == r->cap_ov) {
        size_t cap = r->cap_ov ? r->cap_ov * 2 : 8;
        struct cc_xoverride *n = realloc(r->ov, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        r->ov = n;
        r->cap_ov = cap;
    }
    memmove(&r->ov[i + 1], &r->ov[i], (r->n_ov - i) * sizeof(*r->ov));
    r->ov[i] = *o;
    r->n_ov++;
    return 0;
}

int cc_recipe_add_stop(struct cc_recipe *r, uint64_t t)
{
    size_t i = 0;
    while (i < r->n_stops && r->stops[i] < t)
        i++;
    if (i < r->n_stops && r->stops[i] == t)
        return 0;
    if (r->n_stops == r->cap_stops) {
        size_t cap = r->cap_stops ? r->cap_stops * 2 : 8;
        uint64_t *n = realloc(r->stops, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        r->stops = n;
        r->cap_stops = cap;
    }
    memmove(&r->stops[i + 1], &r->stops[i], (r->n_stops - i) * sizeof(*r->stops));
    r->stops[i] = t;
    r->n_stops++;
    return 0;
}

size_t cc_recipe_size(const struct cc_recipe *r)
{
    return cc_schedule_count(r->sched) + r->n_ov;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

long cc_recipe_segments(const struct cc_recipe *r, uint64_t from_ns, uint64_t **out)
{
    size_t nf = cc_schedule_count(r->sched);
    uint64_t *v = malloc((r->n_stops + nf + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->n_stops; i++)
        if (r->stops[i] > from_ns && r->stops[i] < r->end_ns)
            v[n++] = r->stops[i];
    for (size_t i = 0; i < nf; i++) {
        const struct cc_fault *f = cc_schedule_get(r->sched, i);
        if (f->type == CC_FAULT_RESTART && f->at_ns > from_ns && f->at_ns < r->end_ns)
            v[n++] = f->at_ns;
    }
    if (r->end_ns > from_ns)
        v[n++] = r->end_ns;
    qsort(v, n, sizeof(*v), u64_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i])
            v[k++] = v[i];
    *out = v;
    return (long)k;
}

/* ---- JSON ---- */

json_t *xj_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    return json_string(b);
}

json_t *xj_time(uint64_t ns)
{
    char b[48];
    cc_time_format((int64_t)ns, b, sizeof(b));
    return json_string(b);
}

json_t *xj_hex(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return json_string(b);
}

int xj_get_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (*s && !*end && !errno && *s != '-') {
            *out = x;
            return 0;
        }
    }
    return -EINVAL;
}

int xj_get_time(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && cc_time_parse(json_string_value(v), out))
        return 0;
    return -EINVAL;
}

int xj_get_hex(const json_t *v, uint64_t *out)
{
    if (!json_is_string(v))
        return -EINVAL;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 16);
    if (!*s || *end || errno)
        return -EINVAL;
    *out = x;
    return 0;
}

json_t *recipe_to_json(const struct cc_recipe *r)
{
    json_t *o = json_object();
    char *st = cc_schedule_to_json(r->sched);
    json_t *sj = st ? json_loads(st, 0, NULL) : NULL;
    free(st);
    json_object_set_new(o, "schedule", sj ? sj : json_null());
    json_t *ov = json_array();
    for (size_t i = 0; i < r->n_ov; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "vm", json_integer(r->ov[i].vm));
        json_object_set_new(e, "life", xj_u64(r->ov[i].life));
        json_object_set_new(e, "index", xj_u64(r->ov[i].index));
        json_object_set_new(e, "value", xj_u64(r->ov[i].value));
        json_array_append_new(ov, e);
    }
    json_object_set_new(o, "overrides", ov);
    json_t *stops = json_array();
    for (size_t i = 0; i < r->n_stops; i++)
        json_array_append_new(stops, xj_time(r->stops[i]));
    json_object_set_new(o, "stops", stops);
    json_object_set_new(o, "end", xj_time(r->end_ns));
    return o;
}

char *cc_recipe_to_json(const struct cc_recipe *r)
{
    json_t *o = recipe_to_json(r);
    char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return t;
}

int recipe_from_json(const json_t *j, const char *src, const char *path, unsigned n_vms,
                         struct cc_recipe **out, struct cc_err *err)
{
    *out = NULL;
    if (!json_is_object(j))
        return cc_err_set(err, EINVAL, "%s: %s: not an object", src, path);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
        if (strcmp(key, "schedule") && strcmp(key, "overrides") && strcmp(key, "stops") &&
            strcmp(key, "end"))
            return cc_err_set(err, EINVAL, "%s: %s.%s: unknown key", src, path, key);
    }
    json_t *sj = json_object_get(j, "schedule");
    if (!sj)
        return cc_err_set(err, EINVAL, "%s: %s.schedule: missing", src, path);
    json_t *endj = json_object_get(j, "end");
    uint64_t end;
    if (!endj)
        return cc_err_set(err, EINVAL, "%s: %s.end: missing", src, path);
    if (xj_get_time(endj, &end) < 0)
        return cc_err_set(err, EINVAL, "%s: %s.end: not a time", src, path);
    char *stext = json_dumps(sj, 0);
    if (!stext)
        return cc_err_set(err, ENOMEM, "out of memory");
    char name[512];
    snprintf(name, sizeof(name), "%s: %s.schedule", src, path);
    struct cc_schedule *sched;
    int rc = cc_schedule_parse(stext, name, n_vms, &sched, err);
    free(stext);
    if (rc < 0)
        return rc;
    struct cc_recipe *r = calloc(1, sizeof(*r));
    if (!r) {
        cc_schedule_free(sched);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    r->sched = sched;
    r->end_ns = end;
    json_t *ov = json_object_get(j, "overrides");
    if (ov && !json_is_array(ov)) {
        rc = cc_err_set(err, EINVAL, "%s: %s.overrides: not an array", src, path);
        goto fail;
    }
    for (size_t i = 0; ov && i < json_array_size(ov); i++) {
        json_t *e = json_array_get(ov, i);
        struct cc_xoverride o = {0};
        uint64_t vm;
        const char *bad = NULL;
        if (!json_is_object(e))
            bad = "";
        else if (xj_get_u64(json_object_get(e, "vm"), &vm) < 0)
            bad = ".vm";
        else if (xj_get_u64(json_object_get(e, "life"), &o.life) < 0)
            bad = ".life";
        else if (xj_get_u64(json_object_get(e, "index"), &o.index) < 0)
            bad = ".index";
        else if (xj_get_u64(json_object_get(e, "value"), &o.value) < 0)
            bad = ".value";
        if (bad) {
            rc = cc_err_set(err, EINVAL, "%s: %s.overrides[%zu]%s: %s", src, path, i, bad,
                            *bad ? "missing or not a non-negative integer" : "not an object");
            goto fail;
        }
        if (n_vms && vm >= n_vms) {
            rc = cc_err_set(err, EINVAL, "%s: %s.overrides[%zu].vm: %" PRIu64
                            " is out of range (%u VMs)", src, path, i, vm, n_vms);
            goto fail;
        }
        o.vm = (unsigned)vm;
        if (cc_recipe_add_override(r, &o) < 0) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    json_t *stops = json_object_get(j, "stops");
    if (stops && !json_is_array(stops)) {
        rc = cc_err_set(err, EINVAL, "%s: %s.stops: not an array", src, path);
        goto fail;
    }
    for (size_t i = 0; stops && i < json_array_size(stops); i++) {
        uint64_t t;
        if (xj_get_time(json_array_get(stops, i), &t) < 0) {
            rc = cc_err_set(err, EINVAL, "%s: %s.stops[%zu]: not a time", src, path, i);
            goto fail;
        }
        if (t > end) {
            rc = cc_err_set(err, EINVAL, "%s: %s.stops[%zu]: after the end", src, path, i);
            goto fail;
        }
        if (cc_recipe_add_stop(r, t) < 0) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = r;
    return 0;
fail:
    cc_recipe_free(r);
    return rc;
}

int cc_recipe_parse(const char *text, const char *src, unsigned n_vms, struct cc_recipe **out,
                    struct cc_err *err)
{
    *out = NULL;
    if (!src)
        src = "recipe";
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return cc_err_set(err, EINVAL, "%s: line %d, column %d: invalid JSON: %s", src, je.line,
                          je.column, je.text);
    int rc = recipe_from_json(j, src, "recipe", n_vms, out, err);
    json_decref(j);
    return rc;
}
