/* Property oracle: the assertion catalog (shared with the per-VM state),
 * verdicts from counts, and the aggregation of many runs into verdicts
 * across an exploration (SDK.md semantics: cc_assertion_verdict). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "sdk_state.h"

const char *cc_kind_name(uint32_t kind)
{
    switch (kind) {
    case CC_ASSERT_ALWAYS: return "ALWAYS";
    case CC_ASSERT_ALWAYS_OR_UNREACHABLE: return "ALWAYS_OR_UNREACHABLE";
    case CC_ASSERT_SOMETIMES: return "SOMETIMES";
    case CC_ASSERT_REACHABLE: return "REACHABLE";
    case CC_ASSERT_UNREACHABLE: return "UNREACHABLE";
    }
    return "UNKNOWN";
}

const char *cc_verdict_name(enum cc_verdict v)
{
    switch (v) {
    case CC_VERDICT_UNEXERCISED: return "unexercised";
    case CC_VERDICT_PASSED: return "passed";
    case CC_VERDICT_FAILED: return "failed";
    }
    return "?";
}

enum cc_verdict cc_assertion_verdict(const struct cc_assertion *a)
{
    switch (a->kind) {
    case CC_ASSERT_ALWAYS:
        if (a->fails)
            return CC_VERDICT_FAILED;
        return a->hits ? CC_VERDICT_PASSED : CC_VERDICT_UNEXERCISED;
    case CC_ASSERT_ALWAYS_OR_UNREACHABLE:
        return a->fails ? CC_VERDICT_FAILED : CC_VERDICT_PASSED;
    case CC_ASSERT_SOMETIMES:
        if (a->passes)
            return CC_VERDICT_PASSED;
        return a->hits ? CC_VERDICT_FAILED : CC_VERDICT_UNEXERCISED;
    case CC_ASSERT_REACHABLE:
        return a->hits ? CC_VERDICT_PASSED : CC_VERDICT_UNEXERCISED;
    case CC_ASSERT_UNREACHABLE:
        return a->hits ? CC_VERDICT_FAILED : CC_VERDICT_UNEXERCISED;
    }
    return CC_VERDICT_UNEXERCISED;
}

bool cc_assertion_failed(const struct cc_assertion *a)
{
    switch (a->kind) {
    case CC_ASSERT_ALWAYS:
    case CC_ASSERT_ALWAYS_OR_UNREACHABLE:
        return a->fails != 0;
    case CC_ASSERT_UNREACHABLE:
        return a->hits != 0;
    }
    return false;
}

/* ---- catalog ---- */

void catalog_init(struct cc_catalog *c)
{
    memset(c, 0, sizeof(*c));
}

static void entry_free(struct cc_sdk_entry *e)
{
    free((char *)e->a.message);
    free((char *)e->a.file);
    free((char *)e->a.function);
}

void catalog_free(struct cc_catalog *c)
{
    for (size_t i = 0; i < c->n; i++)
        entry_free(&c->e[i]);
    free(c->e);
    free(c->map);
    memset(c, 0, sizeof(*c));
}

static size_t slot_of(uint64_t id, size_t cap)
{
    id ^= id >> 29;
    id *= 0xbf58476d1ce4e5b9ull;
    id ^= id >> 32;
    return (size_t)id & (cap - 1);
}

long catalog_find(const struct cc_catalog *c, uint64_t id)
{
    if (!c->map_cap)
        return -1;
    for (size_t i = slot_of(id, c->map_cap);; i = (i + 1) & (c->map_cap - 1)) {
        uint32_t v = c->map[i];
        if (!v)
            return -1;
        if (c->e[v - 1].a.id == id)
            return (long)v - 1;
    }
}

static bool map_grow(struct cc_catalog *c)
{
    size_t cap = c->map_cap ? c->map_cap * 2 : 64;
    uint32_t *m = calloc(cap, sizeof(*m));
    if (!m)
        return false;
    for (size_t k = 0; k < c->n; k++) {
        size_t i = slot_of(c->e[k].a.id, cap);
        while (m[i])
            i = (i + 1) & (cap - 1);
        m[i] = (uint32_t)(k + 1);
    }
    free(c->map);
    c->map = m;
    c->map_cap = cap;
    return true;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    /* Embedded NULs would cut the string silently; make them visible. */
    for (size_t i = 0; i < n; i++)
        if (!p[i])
            p[i] = '?';
    return p;
}

long catalog_add(struct cc_catalog *c, uint64_t id, uint32_t kind, uint32_t line,
                    const char *message, size_t message_len, const char *file, size_t file_len,
                    const char *function, size_t function_len, bool *added)
{
    *added = false;
    long at = catalog_find(c, id);
    if (at >= 0)
        return at;
    if ((c->n + 1) * 2 > c->map_cap && !map_grow(c))
        return -1;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct cc_sdk_entry *e = realloc(c->e, cap * sizeof(*e));
        if (!e)
            return -1;
        c->e = e;
        c->cap = cap;
    }
    struct cc_sdk_entry *e = &c->e[c->n];
    memset(e, 0, sizeof(*e));
    e->a.id = id;
    e->a.kind = kind;
    e->a.line = line;
    e->a.message = dup_n(message ? message : "", message ? message_len : 0);
    e->a.file = dup_n(file ? file : "", file ? file_len : 0);
    e->a.function = dup_n(function ? function : "", function ? function_len : 0);
    if (!e->a.message || !e->a.file || !e->a.function) {
        entry_free(e);
        return -1;
    }
    size_t i = slot_of(id, c->map_cap);
    while (c->map[i])
        i = (i + 1) & (c->map_cap - 1);
    c->map[i] = (uint32_t)(c->n + 1);
    c->n++;
    *added = true;
    return (long)c->n - 1;
}

/* ---- across runs ---- */

struct cc_oracle {
    struct cc_catalog cat;
    uint64_t *runs_hit, *runs_failed;
    size_t stat_cap;
    uint64_t runs;
    struct cc_oracle_entry *view;
    size_t view_cap;
};

struct cc_oracle *cc_oracle_new(void)
{
    struct cc_oracle *o = calloc(1, sizeof(*o));
    if (o)
        catalog_init(&o->cat);
    return o;
}

void cc_oracle_free(struct cc_oracle *o)
{
    if (!o)
        return;
    catalog_free(&o->cat);
    free(o->runs_hit);
    free(o->runs_failed);
    free(o->view);
    free(o);
}

static bool oracle_reserve(struct cc_oracle *o, size_t n)
{
    if (n <= o->stat_cap)
        return true;
    size_t cap = o->stat_cap ? o->stat_cap : 32;
    while (cap < n)
        cap *= 2;
    uint64_t *h = realloc(o->runs_hit, cap * sizeof(*h));
    if (!h)
        return false;
    o->runs_hit = h;
    uint64_t *f = realloc(o->runs_failed, cap * sizeof(*f));
    if (!f)
        return false;
    o->runs_failed = f;
    memset(h + o->stat_cap, 0, (cap - o->stat_cap) * sizeof(*h));
    memset(f + o->stat_cap, 0, (cap - o->stat_cap) * sizeof(*f));
    o->stat_cap = cap;
    return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

int cc_oracle_add(struct cc_oracle *o, const struct cc_assertion *a, size_t n, struct cc_err *err)
{
    for (size_t i = 0; i < n; i++) {
        bool added;
        const struct cc_assertion *x = &a[i];
        long k = catalog_add(&o->cat, x->id, x->kind, x->line, x->message,
                                x->message ? strlen(x->message) : 0, x->file,
                                x->file ? strlen(x->file) : 0, x->function,
                                x->function ? strlen(x->function) : 0, &added);
        if (k < 0 || !oracle_reserve(o, o->cat.n))
            return cc_err_set(err, ENOMEM, "out of memory in the assertion oracle");
        struct cc_sdk_entry *e = &o->cat.e[k];
        e->host_hits = sat_add(e->host_hits, x->hits);
        e->host_passes = sat_add(e->host_passes, x->passes);
        e->host_fails = sat_add(e->host_fails, x->fails);
        if (x->hits)
            o->runs_hit[k]++;
        if (cc_assertion_failed(x))
            o->runs_failed[k]++;
    }
    o->runs++;
    return 0;
}

int cc_oracle_add_vm(struct cc_oracle *o, struct cc_vm *vm, struct cc_err *err)
{
    size_t n;
    const struct cc_assertion *a = cc_vm_assertions(vm, &n);
    return cc_oracle_add(o, a, n, err);
}

uint64_t cc_oracle_runs(const struct cc_oracle *o)
{
    return o->runs;
}

const struct cc_oracle_entry *cc_oracle_entries(const struct cc_oracle *o, size_t *n)
{
    struct cc_oracle *m = (struct cc_oracle *)o;
    if (m->cat.n > m->view_cap) {
        struct cc_oracle_entry *v = realloc(m->view, m->cat.n * sizeof(*v));
        if (!v) {
            *n = 0;
            return NULL;
        }
        m->view = v;
        m->view_cap = m->cat.n;
    }
    for (size_t i = 0; i < m->cat.n; i++) {
        const struct cc_sdk_entry *e = &m->cat.e[i];
        struct cc_oracle_entry *v = &m->view[i];
        v->a = e->a;
        v->a.hits = e->host_hits;
        v->a.passes = e->host_passes;
        v->a.fails = e->host_fails;
        v->runs_hit = m->runs_hit[i];
        v->runs_failed = m->runs_failed[i];
    }
    *n = m->cat.n;
    return m->view;
}

enum cc_verdict cc_oracle_verdict(const struct cc_oracle_entry *e)
{
    return cc_assertion_verdict(&e->a);
}

/* ---- save / load ---- */

#define ORACLE_MAGIC 0x4c43524f43434343ull     /* "CCCCORCL" */
#define ORACLE_VERSION 1u

void oracle_save(const struct cc_oracle *o, struct cc_buf *out)
{
    buf_put_u64(out, ORACLE_MAGIC);
    buf_put_u32(out, ORACLE_VERSION);
    buf_put_u64(out, o->runs);
    buf_put_u64(out, o->cat.n);
    for (size_t i = 0; i < o->cat.n; i++) {
        const struct cc_sdk_entry *e = &o->cat.e[i];
        buf_put_u64(out, e->a.id);
        buf_put_u32(out, e->a.kind);
        buf_put_u32(out, e->a.line);
        buf_put_str(out, e->a.message);
        buf_put_str(out, e->a.file);
        buf_put_str(out, e->a.function);
        buf_put_u64(out, e->host_hits);
        buf_put_u64(out, e->host_passes);
        buf_put_u64(out, e->host_fails);
        buf_put_u64(out, o->runs_hit[i]);
        buf_put_u64(out, o->runs_failed[i]);
    }
}

static bool get_str(struct cc_rd *in, const char **p, uint32_t *n)
{
    *n = rd_u32(in);
    if (!rd_ok(in) || *n > rd_left(in))
        return false;
    *p = (const char *)in->p + in->pos;
    in->pos += *n;
    return true;
}

static void oracle_parts_free(struct cc_oracle *o)
{
    catalog_free(&o->cat);
    free(o->runs_hit);
    free(o->runs_failed);
    free(o->view);
}

int oracle_load(struct cc_oracle *o, struct cc_rd *in, struct cc_err *err)
{
    if (rd_u64(in) != ORACLE_MAGIC || !rd_ok(in))
        return cc_err_set(err, EINVAL, "not an assertion oracle record (bad magic)");
    uint32_t ver = rd_u32(in);
    if (!rd_ok(in) || ver == 0 || ver > ORACLE_VERSION)
        return cc_err_set(err, EINVAL, "assertion oracle record version %u is not supported "
                          "(this build reads versions 1 to %u)", ver, ORACLE_VERSION);
    struct cc_oracle tmp = {0};
    catalog_init(&tmp.cat);
    tmp.runs = rd_u64(in);
    uint64_t n = rd_u64(in);
    if (!rd_ok(in) || n > rd_left(in) / 48)
        return cc_err_set(err, EINVAL, "assertion oracle record is truncated");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = rd_u64(in);
        uint32_t kind = rd_u32(in), line = rd_u32(in);
        const char *m, *f, *fn;
        uint32_t ml, fl, fnl;
        if (!get_str(in, &m, &ml) || !get_str(in, &f, &fl) || !get_str(in, &fn, &fnl)) {
            oracle_parts_free(&tmp);
            return cc_err_set(err, EINVAL, "assertion oracle record is truncated");
        }
        bool added;
        long k = catalog_add(&tmp.cat, id, kind, line, m, ml, f, fl, fn, fnl, &added);
        if (k < 0 || !oracle_reserve(&tmp, tmp.cat.n)) {
            oracle_parts_free(&tmp);
            return cc_err_set(err, ENOMEM, "out of memory loading the assertion oracle");
        }
        if (!added) {
            oracle_parts_free(&tmp);
            return cc_err_set(err, EINVAL, "assertion oracle record is corrupt: assertion "
                              "0x%016llx appears twice", (unsigned long long)id);
        }
        struct cc_sdk_entry *e = &tmp.cat.e[k];
        e->host_hits = rd_u64(in);
        e->host_passes = rd_u64(in);
        e->host_fails = rd_u64(in);
        tmp.runs_hit[k] = rd_u64(in);
        tmp.runs_failed[k] = rd_u64(in);
        if (!rd_ok(in)) {
            oracle_parts_free(&tmp);
            return cc_err_set(err, EINVAL, "assertion oracle record is truncated");
        }
    }
    oracle_parts_free(o);
    *o = tmp;
    return 0;
}
