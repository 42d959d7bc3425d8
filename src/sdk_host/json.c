/* JSON for the SDK's VMM side (jansson):
 *   - Antithesis events from the libvoidstar shim (CC_OP_JSON), mapped onto
 *     the same catalog, counts, run log and guidance as native SDK calls;
 *   - the run report (cc_vm_sdk_json);
 *   - choice scripts (cc_choice_script_from_json). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sdk_state.h"
#include "util/cjson.h"

/* ---- Antithesis events ---- */

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

static uint32_t kind_from_json(json_t *a)
{
    const char *d = jstr(a, "display_type");
    if (!strcmp(d, "Always"))
        return CC_ASSERT_ALWAYS;
    if (!strcmp(d, "AlwaysOrUnreachable"))
        return CC_ASSERT_ALWAYS_OR_UNREACHABLE;
    if (!strcmp(d, "Sometimes"))
        return CC_ASSERT_SOMETIMES;
    if (!strcmp(d, "Reachable"))
        return CC_ASSERT_REACHABLE;
    if (!strcmp(d, "Unreachable"))
        return CC_ASSERT_UNREACHABLE;
    /* Older SDKs: assert_type and must_hit only. */
    const char *t = jstr(a, "assert_type");
    bool must_hit = json_is_true(json_object_get(a, "must_hit"));
    if (!strcmp(t, "always"))
        return must_hit ? CC_ASSERT_ALWAYS : CC_ASSERT_ALWAYS_OR_UNREACHABLE;
    if (!strcmp(t, "sometimes"))
        return CC_ASSERT_SOMETIMES;
    if (!strcmp(t, "reachability"))
        return must_hit ? CC_ASSERT_REACHABLE : CC_ASSERT_UNREACHABLE;
    return 0;
}

static char *dump(json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

static int json_assert(struct cc_sdk *s, json_t *a, uint32_t pid)
{
    uint32_t kind = kind_from_json(a);
    if (!kind)
        return -EINVAL;
    json_t *loc = json_object_get(a, "location");
    const char *msg = jstr(a, "message");
    const char *file = json_is_object(loc) ? jstr(loc, "file") : "";
    const char *fn = json_is_object(loc) ? jstr(loc, "function") : "";
    json_int_t line = json_is_object(loc) ? json_integer_value(json_object_get(loc, "begin_line"))
                                          : 0;
    if (line < 0 || line > UINT32_MAX)
        line = 0;
    uint64_t id = cc_proto_assert_id(file, strlen(file), (uint32_t)line, msg, strlen(msg));
    bool added;
    long k = sdk_register(s, id, kind, (uint32_t)line, msg, strlen(msg), file, strlen(file),
                             fn, strlen(fn), false, &added);
    if (k < 0)
        return -ENOMEM;
    if (added)
        sdk_log_event(s, CC_SDK_EV_CATALOG, pid, 1, NULL, 0, NULL, 0);
    if (!json_is_true(json_object_get(a, "hit")))
        return 0;       /* a catalog entry */
    bool cond = json_is_true(json_object_get(a, "condition"));
    char *details = dump(json_object_get(a, "details"));
    sdk_assert_eval(s, k, cond, false, pid, details, details ? strlen(details) : 0);
    free(details);
    return 0;
}

static int json_guidance(struct cc_sdk *s, json_t *g, uint32_t pid)
{
    if (!json_is_true(json_object_get(g, "hit")))
        return 0;
    const char *msg = jstr(g, "message");
    bool maximize = json_is_true(json_object_get(g, "maximize"));
    json_t *d = json_object_get(g, "guidance_data");
    double v;
    if (json_is_number(d)) {
        v = json_number_value(d);
    } else if (json_is_object(d) && json_is_number(json_object_get(d, "left")) &&
               json_is_number(json_object_get(d, "right"))) {
        /* numeric guidance on a comparison: drive left - right */
        v = json_number_value(json_object_get(d, "left")) -
            json_number_value(json_object_get(d, "right"));
    } else {
        return 0;       /* boolean/JSON guidance: nothing numeric to keep */
    }
    if (v > 9.2e18)
        v = 9.2e18;
    if (v < -9.2e18)
        v = -9.2e18;
    sdk_guidance(s, msg, strlen(msg), (int64_t)v, maximize, pid);
    return 0;
}

int sdk_json_event(struct cc_sdk *s, const char *text, size_t len, uint32_t pid)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!root)
        return -EINVAL;
    int rc = 0;
    if (!json_is_object(root) || json_object_size(root) == 0) {
        rc = -EINVAL;
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "antithesis_assert")) {
            rc = json_is_object(val) ? json_assert(s, val, pid) : -EINVAL;
        } else if (!strcmp(key, "antithesis_setup")) {
            char *d = dump(json_object_get(val, "details"));
            sdk_log_event(s, CC_SDK_EV_SETUP, pid, 0, NULL, 0, d, d ? strlen(d) : 0);
            free(d);
            if (s->opt.stop_on_setup)
                cc_vm_stop(s->vm, CC_STOP_SETUP_COMPLETE);
        } else if (!strcmp(key, "antithesis_guidance")) {
            rc = json_is_object(val) ? json_guidance(s, val, pid) : -EINVAL;
        } else if (!strcmp(key, "antithesis_sdk")) {
            char *d = dump(val);
            sdk_log_event(s, CC_SDK_EV_SDK_INFO, pid, 0, NULL, 0, d, d ? strlen(d) : 0);
            free(d);
        } else {
            char *d = dump(val);
            sdk_log_event(s, CC_SDK_EV_EVENT, pid, 0, key, strlen(key), d, d ? strlen(d) : 0);
            free(d);
        }
        if (rc < 0)
            break;
    }
out:
    json_decref(root);
    return rc;
}

/* ---- the run report ---- */

/* Caller JSON text as a value: parsed when valid, else a string. */
static json_t *text_value(const char *t)
{
    if (!t || !*t)
        return json_null();
    json_t *v = json_loads(t, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(t);
}

static json_t *assertion_json(const struct cc_assertion *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", cj_hex64(a->id));
    json_object_set_new(o, "kind", json_string(cc_kind_name(a->kind)));
    json_object_set_new(o, "message", json_string(a->message));
    json_object_set_new(o, "file", json_string(a->file));
    json_object_set_new(o, "line", json_integer(a->line));
    json_object_set_new(o, "function", json_string(a->function));
    json_object_set_new(o, "hits", cj_u64(a->hits));
    json_object_set_new(o, "passes", cj_u64(a->passes));
    json_object_set_new(o, "fails", cj_u64(a->fails));
    json_object_set_new(o, "verdict", json_string(cc_verdict_name(cc_assertion_verdict(a))));
    return o;
}

char *cc_vm_sdk_json(struct cc_vm *vm)
{
    struct cc_sdk *s = sdk_of(vm);
    if (!s)
        return NULL;
    json_t *root = json_object();
    size_t n;
    const struct cc_assertion *a = cc_vm_assertions(vm, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, assertion_json(&a[i]));
    json_object_set_new(root, "assertions", arr);

    const struct cc_sdk_failure *f = cc_vm_sdk_failure(vm);
    if (f) {
        json_t *o = assertion_json(&f->a);
        json_object_set_new(o, "details", text_value(f->details));
        json_object_set_new(o, "vtime_ns", cj_u64(f->vtime));
        json_object_set_new(o, "exit", cj_u64(f->exit));
        json_object_set_new(root, "failure", o);
    } else {
        json_object_set_new(root, "failure", json_null());
    }

    arr = json_array();
    for (size_t i = 0; i < s->nev; i++) {
        const struct cc_sdk_event *e = &s->ev[i];
        json_t *o = json_object();
        json_object_set_new(o, "seq", cj_u64(e->seq));
        json_object_set_new(o, "kind", json_string(cc_sdk_event_kind_name(e->kind)));
        json_object_set_new(o, "pid", json_integer(e->pid));
        json_object_set_new(o, "vtime_ns", cj_u64(e->vtime));
        json_object_set_new(o, "exit", cj_u64(e->exit));
        if (e->kind == CC_SDK_EV_FAILURE)
            json_object_set_new(o, "id", cj_hex64((uint64_t)e->value));
        else
            json_object_set_new(o, "value", json_integer(e->value));
        json_object_set_new(o, "name", json_string(e->name));
        json_object_set_new(o, "details", text_value(e->details));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "events", arr);

    arr = json_array();
    for (size_t i = 0; i < s->ngd; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "message", json_string(s->gd[i].message));
        json_object_set_new(o, "direction", json_string(s->gd[i].maximize ? "maximize"
                                                                          : "minimize"));
        json_object_set_new(o, "best", json_integer(s->gd[i].best));
        json_object_set_new(o, "updates", cj_u64(s->gd[i].updates));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "guidance", arr);

    arr = json_array();
    for (size_t i = 0; i < s->nch; i++) {
        const struct cc_choice *c = &s->ch[i];
        json_t *o = json_object();
        json_object_set_new(o, "index", cj_u64(c->index));
        json_object_set_new(o, "kind", json_string(cc_choice_kind_name(c->kind)));
        json_object_set_new(o, "source", json_string(c->source == CC_CHOICE_OVERRIDE ? "override" :
                                                     c->source == CC_CHOICE_REPLAY ? "replay" :
                                                                                     "stream"));
        json_object_set_new(o, "n", cj_u64(c->n));
        json_object_set_new(o, "value", cj_u64(c->value));
        json_object_set_new(o, "vtime_ns", cj_u64(c->vtime));
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "choices", arr);

    const uint8_t *map = cc_vm_coverage(vm);
    json_t *cov = json_object();
    json_object_set_new(cov, "edges", cj_u64(map ? cc_coverage_count(map, CC_COVERAGE_SIZE) : 0));
    json_object_set_new(cov, "hash", cj_hex64(map ? cc_coverage_hash(map, CC_COVERAGE_SIZE) : 0));
    json_object_set_new(root, "coverage", cov);

    json_t *tr = json_object();
    json_object_set_new(tr, "calls", cj_u64(s->stats.calls));
    json_object_set_new(tr, "port_calls", cj_u64(s->stats.port_calls));
    json_object_set_new(tr, "hypercall_calls", cj_u64(s->stats.hypercall_calls));
    json_object_set_new(tr, "bad_calls", cj_u64(s->stats.bad_calls));
    json_object_set_new(tr, "hypercall_enabled", json_boolean(s->stats.hypercall_enabled));
    json_object_set_new(root, "transport", tr);

    char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}

/* ---- choice scripts ---- */

static bool get_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 0);
        if (*s && *s != '-' && !*end && !errno) {
            *out = x;
            return true;
        }
    }
    return false;
}

void cc_choice_script_free(struct cc_choice_script *s)
{
    free((void *)s->overrides);
    free((void *)s->replay);
    memset(s, 0, sizeof(*s));
}

int cc_choice_script_from_json(const char *text, struct cc_choice_script *s, struct cc_err *err)
{
    memset(s, 0, sizeof(*s));
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root)
        return cc_err_set(err, EINVAL, "choice script: invalid JSON at line %d: %s", je.line,
                          je.text);
    int rc = 0;
    struct cc_choice_override *ov = NULL;
    uint64_t *rp = NULL;
    size_t nov = 0, nrp = 0;
    if (!json_is_object(root)) {
        rc = cc_err_set(err, EINVAL, "choice script: expected a JSON object");
        goto out;
    }
    json_t *choices = json_object_get(root, "choices");
    json_t *replay = json_object_get(root, "replay");
    json_t *overrides = json_object_get(root, "overrides");
    if (!choices && !replay && !overrides) {
        rc = cc_err_set(err, EINVAL, "choice script: no \"choices\", \"replay\" or "
                        "\"overrides\" in the object");
        goto out;
    }
    if (choices) {
        /* A run report: replay its choices by index. */
        if (!json_is_array(choices)) {
            rc = cc_err_set(err, EINVAL, "choice script: \"choices\" is not an array");
            goto out;
        }
        size_t n = json_array_size(choices);
        ov = calloc(n ? n : 1, sizeof(*ov));
        if (!ov) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *c = json_array_get(choices, i);
            if (!get_u64(json_object_get(c, "index"), &ov[nov].index) ||
                !get_u64(json_object_get(c, "value"), &ov[nov].value)) {
                rc = cc_err_set(err, EINVAL, "choice script: choices[%zu] needs an \"index\" "
                                "and a \"value\" (non-negative integers)", i);
                goto out;
            }
            nov++;
        }
    }
    if (replay) {
        if (!json_is_array(replay)) {
            rc = cc_err_set(err, EINVAL, "choice script: \"replay\" is not an array");
            goto out;
        }
        size_t n = json_array_size(replay);
        rp = calloc(n ? n : 1, sizeof(*rp));
        if (!rp) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            if (!get_u64(json_array_get(replay, i), &rp[i])) {
                rc = cc_err_set(err, EINVAL, "choice script: replay[%zu] is not a "
                                "non-negative integer", i);
                goto out;
            }
        }
        nrp = n;
    }
    if (overrides) {
        if (!json_is_array(overrides)) {
            rc = cc_err_set(err, EINVAL, "choice script: \"overrides\" is not an array");
            goto out;
        }
        size_t n = json_array_size(overrides);
        struct cc_choice_override *m = realloc(ov, (nov + n + 1) * sizeof(*m));
        if (!m) {
            rc = cc_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
        ov = m;
        for (size_t i = 0; i < n; i++) {
            json_t *c = json_array_get(overrides, i);
            if (!get_u64(json_object_get(c, "index"), &ov[nov].index) ||
                !get_u64(json_object_get(c, "value"), &ov[nov].value)) {
                rc = cc_err_set(err, EINVAL, "choice script: overrides[%zu] needs an "
                                "\"index\" and a \"value\" (non-negative integers)", i);
                goto out;
            }
            nov++;
        }
    }
    s->overrides = ov;
    s->n_overrides = nov;
    s->replay = rp;
    s->n_replay = nrp;
    ov = NULL;
    rp = NULL;
out:
    free(ov);
    free(rp);
    json_decref(root);
    return rc;
}
