/* Declarative test files: YAML (libyaml's document API, which keeps every
 * node's line) checked field by field. See testfile.h and docs/tests.md. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/file.h"
#include "chaoscontrol/schedule.h"
#include "cli.h"
#include "testfile.h"

int strlist_add(struct strlist *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 2) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    l->v = v;
    if (!(v[l->n] = strdup(s)))
        return -ENOMEM;
    v[++l->n] = NULL;
    return 0;
}

void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- the YAML tree ---- */

struct doc {
    const char *file;
    char *dir;                  /* the file's directory, for relative paths */
    yaml_document_t y;
    struct cc_err *err;
    struct strlist scratch;     /* values after ${VAR} expansion */
};

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

static int fail(struct doc *d, const yaml_node_t *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct doc *d, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (field)
        return cc_err_set(d->err, EINVAL, "%s:%u: %s: %s", d->file, n ? line_of(n) : 1, field,
                          what);
    return cc_err_set(d->err, EINVAL, "%s:%u: %s", d->file, n ? line_of(n) : 1, what);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return "a value";
    }
}

static int expand(struct doc *d, const yaml_node_t *n, const char *field, const char *s,
                  char **out);

/* A field's value must be a single value (not a list or a mapping); *out is
 * it with ${VAR} and ${VAR:-default} replaced (valid until the end of the
 * parse). */
static int want_scalar(struct doc *d, const yaml_node_t *n, const char *field, const char *what,
                       const char **out)
{
    const char *raw = scalar(n);
    if (!raw)
        return fail(d, n, field, "expected %s, got %s", what, kind_name(n));
    char *e = NULL;
    if (expand(d, n, field, raw, &e) < 0)
        return -EINVAL;
    int rc = strlist_add(&d->scratch, e);
    free(e);
    if (rc < 0)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    *out = d->scratch.v[d->scratch.n - 1];
    return 0;
}

static int get_str(struct doc *d, const yaml_node_t *n, const char *field, char **out)
{
    const char *s;
    if (want_scalar(d, n, field, "a string", &s) < 0)
        return -EINVAL;
    free(*out);
    if (!(*out = strdup(s)))
        return cc_err_set(d->err, ENOMEM, "out of memory");
    return 0;
}

static int get_uint(struct doc *d, const yaml_node_t *n, const char *field, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    const char *s;
    if (want_scalar(d, n, field, "a number", &s) < 0)
        return -EINVAL;
    uint64_t v;
    if (!cli_parse_u64(s, &v))
        return fail(d, n, field, "'%s' is not a number", s);
    if (v < min || v > max)
        return fail(d, n, field, "%" PRIu64 " is out of range (%" PRIu64 "-%" PRIu64 ")", v,
                    min, max);
    *out = v;
    return 0;
}

static int get_unsigned(struct doc *d, const yaml_node_t *n, const char *field, unsigned min,
                        unsigned max, unsigned *out)
{
    uint64_t v;
    if (get_uint(d, n, field, min, max, &v) < 0)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int get_size(struct doc *d, const yaml_node_t *n, const char *field, uint64_t *out)
{
    const char *s;
    if (want_scalar(d, n, field, "a size", &s) < 0)
        return -EINVAL;
    if (!cli_parse_size(s, out) || !*out)
        return fail(d, n, field, "'%s' is not a size (e.g. 256M, 1G)", s);
    return 0;
}

static int get_time(struct doc *d, const yaml_node_t *n, const char *field, uint64_t *out)
{
    const char *s;
    if (want_scalar(d, n, field, "a time", &s) < 0)
        return -EINVAL;
    if (!cc_time_parse(s, out) || !*out)
        return fail(d, n, field, "'%s' is not a positive time (e.g. 500ms, 2s, 10m)", s);
    return 0;
}

static int get_enum(struct doc *d, const yaml_node_t *n, const char *field,
                    const char *const *names, char **out)
{
    const char *s;
    if (want_scalar(d, n, field, "a name", &s) < 0)
        return -EINVAL;
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(s, names[i]))
            return get_str(d, n, field, out);
    char list[256] = "";
    for (size_t i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                 names[i]);
    return fail(d, n, field, "'%s' is not one of %s", s, list);
}

/* ${VAR} and ${VAR:-default} replaced from the environment; $${ is a
 * literal ${. */
static int expand(struct doc *d, const yaml_node_t *n, const char *field, const char *s,
                  char **out)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *r = malloc(cap);
    if (!r)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    while (*s) {
        const char *add = s;
        size_t k = 1;
        char *tmp = NULL;
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            add = "${";
            k = 2;
            s += 3;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *end = strchr(s, '}');
            if (!end) {
                free(r);
                return fail(d, n, field, "'${' without its '}'");
            }
            size_t vl = (size_t)(end - s - 2);
            if (!(tmp = strndup(s + 2, vl))) {
                free(r);
                return cc_err_set(d->err, ENOMEM, "out of memory");
            }
            char *def = strstr(tmp, ":-");
            if (def) {
                *def = 0;
                def += 2;
            }
            const char *v = getenv(tmp);
            if ((!v || !*v) && !def) {
                int rc = fail(d, n, field, "${%s} is not set in the environment (give a "
                              "default: ${%s:-VALUE})", tmp, tmp);
                free(tmp);
                free(r);
                return rc;
            }
            add = v && *v ? v : def;
            k = strlen(add);
            s = end + 1;
        } else {
            s++;
        }
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            char *nr = realloc(r, cap);
            if (!nr) {
                free(tmp);
                free(r);
                return cc_err_set(d->err, ENOMEM, "out of memory");
            }
            r = nr;
        }
        memcpy(r + len, add, k);
        len += k;
        free(tmp);
    }
    r[len] = 0;
    *out = r;
    return 0;
}

/* A path (expanded already), relative to the file's directory. */
static int resolve(struct doc *d, const yaml_node_t *n, const char *field, const char *e,
                   char **out)
{
    if (!*e)
        return fail(d, n, field, "an empty path");
    if (asprintf(out, "%s%s%s", e[0] == '/' ? "" : d->dir, e[0] == '/' ? "" : "/", e) < 0)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    return 0;
}

static int get_path(struct doc *d, const yaml_node_t *n, const char *field, char **out)
{
    const char *s;
    if (want_scalar(d, n, field, "a path", &s) < 0)
        return -EINVAL;
    free(*out);
    *out = NULL;
    return resolve(d, n, field, s, out);
}

/* A list of values (a single value counts as a list of one). */
static int get_list(struct doc *d, const yaml_node_t *n, const char *field,
                    int (*each)(struct doc *, const yaml_node_t *, const char *, void *),
                    void *arg)
{
    if (n->type == YAML_SCALAR_NODE)
        return each(d, n, field, arg);
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(d, n, field, "expected a list, got %s", kind_name(n));
    for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
         i++) {
        const yaml_node_t *e = yaml_document_get_node(&d->y, *i);
        if (!e || e->type != YAML_SCALAR_NODE)
            return fail(d, e ? e : n, field, "expected a list of values, got %s in it",
                        e ? kind_name(e) : "nothing");
        if (each(d, e, field, arg) < 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- mappings ---- */

struct field {
    const char *name;
    int (*get)(struct doc *, const yaml_node_t *, const char *, struct ctest *);
};

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    unsigned row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Every key of mapping n through the table; unknown and repeated keys are
 * errors (a typo must not silently become a default). */
static int walk(struct doc *d, const yaml_node_t *n, const char *where,
                const struct field *fields, struct ctest *t)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(d, n, where, "expected a mapping (field: value lines), got %s",
                    kind_name(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&d->y, p->key);
        const yaml_node_t *v = yaml_document_get_node(&d->y, p->value);
        const char *key = scalar(k);
        if (!key || !v)
            return fail(d, k ? k : n, where, "a field name must be a plain word");
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            const char *prev = scalar(yaml_document_get_node(&d->y, q->key));
            if (prev && !strcmp(prev, key))
                return fail(d, k, NULL, "field '%s%s%s' is given twice", where ? where : "",
                            where ? "." : "", key);
        }
        const struct field *f = fields;
        while (f->name && strcmp(f->name, key))
            f++;
        char full[128];
        snprintf(full, sizeof(full), "%s%s%s", where ? where : "", where ? "." : "", key);
        if (!f->name) {
            const char *best = NULL;
            unsigned bd = 3;
            for (f = fields; f->name; f++) {
                unsigned e = edit_distance(key, f->name);
                if (e < bd) {
                    bd = e;
                    best = f->name;
                }
            }
            if (best)
                return fail(d, k, NULL, "unknown field '%s' (did you mean '%s'?)", full, best);
            char list[512] = "";
            for (f = fields; f->name; f++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         f == fields ? "" : ", ", f->name);
            return fail(d, k, NULL, "unknown field '%s' (known here: %s)", full, list);
        }
        if (f->get(d, v, full, t) < 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- the fields ---- */

#define FIELD(fn) static int fn(struct doc *d, const yaml_node_t *n, const char *f, struct ctest *t)

FIELD(f_name)
{
    if (get_str(d, n, f, &t->name) < 0)
        return -EINVAL;
    const char *s = t->name;
    if (!*s || strlen(s) > 100 || s[0] == '.' || s[0] == '-')
        return fail(d, n, f, "'%s' is not a test name (1-100 letters, digits, '.', '_', '-'; "
                    "it names the test's output directory)", s);
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return fail(d, n, f, "'%s' is not a test name (1-100 letters, digits, '.', '_', "
                        "'-'; it names the test's output directory)", t->name);
    return 0;
}
FIELD(f_description) { return get_str(d, n, f, &t->description); }
FIELD(f_kernel)
{
    const char *s = scalar(n);
    if (s && !strcmp(s, "default")) {
        free(t->kernel);
        t->kernel = NULL;
        return 0;
    }
    return get_path(d, n, f, &t->kernel);
}
FIELD(f_initrd) { return get_path(d, n, f, &t->initrd); }

static int add_program(struct doc *d, const yaml_node_t *n, const char *f, void *arg)
{
    struct ctest *t = arg;
    const char *e;
    if (want_scalar(d, n, f, "a program", &e) < 0)
        return -EINVAL;
    char *p = NULL;
    /* a name without '/' is looked up on $PATH by pack, as on its command line */
    if (strchr(e, '/') && resolve(d, n, f, e, &p) < 0)
        return -EINVAL;
    int rc = strlist_add(&t->pack_add, p ? p : e);
    free(p);
    return rc < 0 ? cc_err_set(d->err, ENOMEM, "out of memory") : 0;
}
FIELD(i_add) { return get_list(d, n, f, add_program, t); }

static int add_file(struct doc *d, const yaml_node_t *n, const char *f, void *arg)
{
    struct ctest *t = arg;
    const char *s;
    if (want_scalar(d, n, f, "a file", &s) < 0)
        return -EINVAL;
    const char *colon = strchr(s, ':');
    char *host = strndup(s, colon ? (size_t)(colon - s) : strlen(s)), *p = NULL;
    if (!host)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    int rc = resolve(d, n, f, host, &p);
    free(host);
    if (rc < 0)
        return -EINVAL;
    if (colon && colon[1] != '/') {
        free(p);
        return fail(d, n, f, "'%s': the path in the image after ':' must be absolute", s);
    }
    char *spec;
    if (asprintf(&spec, "%s%s", p, colon ? colon : "") < 0) {
        free(p);
        return cc_err_set(d->err, ENOMEM, "out of memory");
    }
    free(p);
    rc = strlist_add(&t->pack_files, spec);
    free(spec);
    return rc < 0 ? cc_err_set(d->err, ENOMEM, "out of memory") : 0;
}
FIELD(i_files) { return get_list(d, n, f, add_file, t); }
FIELD(i_cmd) { return get_str(d, n, f, &t->pack_cmd); }

static const struct field image_fields[] = {
    {"add", i_add}, {"files", i_files}, {"cmd", i_cmd}, {NULL, NULL},
};

FIELD(f_image)
{
    t->pack = true;
    if (walk(d, n, f, image_fields, t) < 0)
        return -EINVAL;
    if (!t->pack_cmd)
        return fail(d, n, f, "an image needs 'cmd' (what each VM runs)");
    return 0;
}
FIELD(f_disk_image) { return get_path(d, n, f, &t->disk_image); }
FIELD(f_disk)
{
    if (get_size(d, n, f, &t->disk) < 0)
        return -EINVAL;
    if (t->disk & 511)
        return fail(d, n, f, "%s is not a multiple of 512 bytes", scalar(n));
    return 0;
}
FIELD(f_vms) { return get_unsigned(d, n, f, 1, 64, &t->vms); }
FIELD(f_cpus) { return get_unsigned(d, n, f, 1, CC_VM_MAX_VCPUS, &t->cpus); }
FIELD(f_vcpu_schedule)
{
    static const char *const names[] = {"rr", "random", NULL};
    return get_enum(d, n, f, names, &t->vcpu_schedule);
}
FIELD(f_vcpu_quantum)
{
    uint64_t v;
    if (get_uint(d, n, f, 1, 1000000, &v) < 0)
        return -EINVAL;
    t->vcpu_quantum = (uint32_t)v;
    return 0;
}
FIELD(f_memory) { return get_size(d, n, f, &t->memory); }

static int get_bool(struct doc *d, const yaml_node_t *n, const char *field, bool *out)
{
    const char *s;
    if (want_scalar(d, n, field, "true or false", &s) < 0)
        return -EINVAL;
    if (!strcmp(s, "true") || !strcmp(s, "yes"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no"))
        *out = false;
    else
        return fail(d, n, field, "'%s' is not true or false", s);
    return 0;
}

static int get_chars(struct doc *d, const yaml_node_t *n, const char *field, char *out,
                     size_t size)
{
    const char *s;
    if (want_scalar(d, n, field, "a string", &s) < 0)
        return -EINVAL;
    if (strlen(s) >= size)
        return fail(d, n, field, "'%s' is longer than %zu characters", s, size - 1);
    strcpy(out, s);
    return 0;
}

FIELD(c_vendor) { return get_chars(d, n, f, t->cpu.id.vendor, sizeof(t->cpu.id.vendor)); }
FIELD(c_brand) { return get_chars(d, n, f, t->cpu.id.brand, sizeof(t->cpu.id.brand)); }
FIELD(c_family) { return get_unsigned(d, n, f, 0, UINT32_MAX, &t->cpu.id.family); }
FIELD(c_model) { return get_unsigned(d, n, f, 0, UINT32_MAX, &t->cpu.id.model); }
FIELD(c_stepping) { return get_unsigned(d, n, f, 0, UINT32_MAX, &t->cpu.id.stepping); }
FIELD(c_tsc_khz) { return get_unsigned(d, n, f, 0, UINT32_MAX, &t->cpu.tsc_khz); }
FIELD(c_avx2) { return get_bool(d, n, f, &t->cpu.avx2); }
FIELD(c_avx512) { return get_bool(d, n, f, &t->cpu.avx512); }
static const struct field cpu_fields[] = {
    {"vendor", c_vendor}, {"family", c_family}, {"model", c_model}, {"stepping", c_stepping},
    {"brand", c_brand}, {"tsc_khz", c_tsc_khz}, {"avx2", c_avx2}, {"avx512", c_avx512},
    {NULL, NULL},
};
/* The processor the guests see: cc_cpu_model_check's rules, at its line. */
FIELD(f_cpu)
{
    t->cpu_set = true;
    cc_cpu_model_default(&t->cpu);
    if (walk(d, n, f, cpu_fields, t) < 0)
        return -EINVAL;
    struct cc_err e = {0};
    if (cc_cpu_model_check(&t->cpu, &e) < 0)
        return fail(d, n, f, "%s", e.msg);
    return 0;
}
FIELD(f_cmdline) { return get_str(d, n, f, &t->cmdline); }
FIELD(f_append) { return get_str(d, n, f, &t->append); }

static int add_client(struct doc *d, const yaml_node_t *n, const char *f, void *arg)
{
    struct ctest *t = arg;
    uint64_t v;
    if (get_uint(d, n, f, 0, 63, &v) < 0)
        return -EINVAL;
    char *c;
    if (asprintf(&c, "%s%s%" PRIu64, t->clients ? t->clients : "", t->clients ? "," : "", v) < 0)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    free(t->clients);
    t->clients = c;
    return 0;
}
FIELD(f_clients) { return get_list(d, n, f, add_client, t); }

FIELD(n_latency) { return get_time(d, n, f, &t->latency_ns); }
static const struct field network_fields[] = {{"latency", n_latency}, {NULL, NULL}};
FIELD(f_network) { return walk(d, n, f, network_fields, t); }

static int add_fault(struct doc *d, const yaml_node_t *n, const char *f, void *arg)
{
    struct ctest *t = arg;
    const char *s;
    if (want_scalar(d, n, f, "a fault kind", &s) < 0)
        return -EINVAL;
    struct cc_xweights w;
    cc_xweights_default(&w);
    if (strchr(s, ',') || cc_xweights_only(&w, s) < 0)
        return fail(d, n, f, "'%s' is not a fault kind (partition, heal, kill, restart, pause, "
                    "loss, latency, duplicate, reorder, clock, disk, vcpu)", s);
    char *c;
    if (asprintf(&c, "%s%s%s", t->faults ? t->faults : "", t->faults ? "," : "", s) < 0)
        return cc_err_set(d->err, ENOMEM, "out of memory");
    free(t->faults);
    t->faults = c;
    return 0;
}
FIELD(f_faults) { return get_list(d, n, f, add_fault, t); }
FIELD(f_mode)
{
    static const char *const names[] = {"fault", "input-tree", "hybrid", NULL};
    return get_enum(d, n, f, names, &t->mode);
}
FIELD(f_rounds) { return get_unsigned(d, n, f, 1, 1000000, &t->rounds); }
FIELD(f_branches) { return get_unsigned(d, n, f, 1, 100000, &t->branches); }
FIELD(f_branch_time) { return get_time(d, n, f, &t->branch_ns); }
FIELD(f_seed) { return get_uint(d, n, f, 0, UINT64_MAX, &t->seed); }
FIELD(f_time_budget)
{
    if (get_time(d, n, f, &t->time_budget_ns) < 0)
        return -EINVAL;
    if (t->time_budget_ns < CC_SEC)
        return fail(d, n, f, "'%s' is less than a second (a wall-clock budget, e.g. 20m)",
                    scalar(n));
    return 0;
}
FIELD(s_marker) { return get_str(d, n, f, &t->setup_marker); }
FIELD(s_after) { return get_time(d, n, f, &t->setup_after_ns); }
static const struct field setup_fields[] = {
    {"marker", s_marker}, {"after", s_after}, {NULL, NULL},
};
FIELD(f_setup) { return walk(d, n, f, setup_fields, t); }
FIELD(f_check)
{
    static const char *const names[] = {"linearizable", "set", NULL};
    return get_enum(d, n, f, names, &t->check);
}
FIELD(f_react)
{
    t->react_set = true;
    return get_unsigned(d, n, f, 0, 100, &t->react);
}
FIELD(f_stop_after) { return get_unsigned(d, n, f, 1, 1000000, &t->stop_after); }
FIELD(f_workers) { return get_unsigned(d, n, f, 1, 256, &t->workers); }
FIELD(f_expect)
{
    const char *s;
    if (want_scalar(d, n, f, "no-bug or bug", &s) < 0)
        return -EINVAL;
    if (!strcmp(s, "no-bug"))
        t->expect = CTEST_EXPECT_NO_BUG;
    else if (!strcmp(s, "bug"))
        t->expect = CTEST_EXPECT_BUG;
    else
        return fail(d, n, f, "'%s' is not no-bug (pass when no property fails) or bug (pass "
                    "when one does: a planted bug)", s);
    return 0;
}
FIELD(f_expect_property) { return get_str(d, n, f, &t->expect_property); }

static const struct field top_fields[] = {
    {"name", f_name}, {"description", f_description}, {"kernel", f_kernel},
    {"initrd", f_initrd}, {"image", f_image}, {"disk_image", f_disk_image}, {"disk", f_disk},
    {"vms", f_vms}, {"cpus", f_cpus}, {"cpu", f_cpu}, {"vcpu_schedule", f_vcpu_schedule},
    {"vcpu_quantum", f_vcpu_quantum}, {"memory", f_memory}, {"cmdline", f_cmdline},
    {"append", f_append}, {"clients", f_clients}, {"network", f_network},
    {"faults", f_faults}, {"mode", f_mode}, {"rounds", f_rounds}, {"branches", f_branches},
    {"branch_time", f_branch_time}, {"seed", f_seed}, {"time_budget", f_time_budget},
    {"setup", f_setup}, {"check", f_check}, {"react", f_react}, {"stop_after", f_stop_after},
    {"workers", f_workers}, {"expect", f_expect}, {"expect_property", f_expect_property},
    {NULL, NULL},
};

/* What one field alone cannot say. */
static int check_whole(struct doc *d, const yaml_node_t *root, struct ctest *t)
{
    static const char *const required[] = {"name", "vms", "rounds", "branches", NULL};
    for (size_t i = 0; required[i]; i++) {
        bool found = false;
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top; p++) {
            const char *k = scalar(yaml_document_get_node(&d->y, p->key));
            found |= k && !strcmp(k, required[i]);
        }
        if (!found)
            return fail(d, root, required[i], "required field missing");
    }
    if (!t->initrd == !t->pack)
        return fail(d, root, "initrd", "give either 'initrd' (a file) or 'image' (made by "
                    "chaoscontrol pack), not %s", t->initrd ? "both" : "neither");
    if (t->disk && t->disk_image)
        return fail(d, root, "disk", "'disk' and 'disk_image' are exclusive");
    if (t->expect_property && t->expect != CTEST_EXPECT_BUG)
        return fail(d, root, "expect_property", "needs 'expect: bug'");
    if (t->clients) {
        uint64_t mask = 0;
        for (const char *c = t->clients; *c;) {
            unsigned long v = strtoul(c, (char **)&c, 10);
            if (v >= t->vms)
                return fail(d, root, "clients", "VM %lu is not one of the %u VMs", v, t->vms);
            mask |= 1ull << v;
            c += *c == ',';
        }
        if ((unsigned)__builtin_popcountll(mask) >= t->vms)
            return fail(d, root, "clients", "not every VM can be a client");
    }
    if ((t->vcpu_schedule || t->vcpu_quantum) && t->cpus <= 1)
        return fail(d, root, "vcpu_schedule", "vcpu_schedule and vcpu_quantum need cpus > 1");
    if (t->expect == CTEST_EXPECT_BUG && !t->stop_after)
        t->stop_after = 1;
    return 0;
}

int ctest_parse(const char *path, const char *text, size_t len, struct ctest *t,
                struct cc_err *err)
{
    memset(t, 0, sizeof(*t));
    struct doc d = {.file = path, .err = err};
    if (!(t->file = strdup(path)))
        return cc_err_set(err, ENOMEM, "out of memory");
    const char *slash = strrchr(path, '/');
    d.dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!d.dir)
        return cc_err_set(err, ENOMEM, "out of memory");
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(d.dir);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&p, &d.y)) {
        rc = cc_err_set(err, EINVAL, "%s:%zu: not valid YAML: %s%s%s", path,
                        p.problem_mark.line + 1, p.problem ? p.problem : "syntax error",
                        p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        free(d.dir);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d.y);
    if (!root) {
        rc = cc_err_set(err, EINVAL, "%s:1: the file is empty: a test needs at least name, vms, "
                        "initrd or image, rounds and branches", path);
    } else {
        t->line = line_of(root);
        yaml_document_t next;
        if (yaml_parser_load(&p, &next)) {
            if (yaml_document_get_root_node(&next))
                rc = fail(&d, yaml_document_get_root_node(&next), NULL,
                          "a second YAML document ('---'): one test per file");
            yaml_document_delete(&next);
        }
        if (rc == 0)
            rc = walk(&d, root, NULL, top_fields, t);
        if (rc == 0)
            rc = check_whole(&d, root, t);
    }
    yaml_document_delete(&d.y);
    yaml_parser_delete(&p);
    strlist_free(&d.scratch);
    free(d.dir);
    return rc;
}

int ctest_load(const char *path, struct ctest *t, struct cc_err *err)
{
    memset(t, 0, sizeof(*t));
    char *buf;
    size_t len;
    int rc = cc_file_read(path, "test file", 16u << 20, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = ctest_parse(path, buf, len, t, err);
    free(buf);
    return rc;
}

void ctest_free(struct ctest *t)
{
    char **strs[] = {&t->file, &t->name, &t->description, &t->kernel, &t->initrd, &t->pack_cmd,
                     &t->disk_image, &t->vcpu_schedule, &t->cmdline, &t->append, &t->clients,
                     &t->faults, &t->mode, &t->setup_marker, &t->check, &t->expect_property};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    strlist_free(&t->pack_add);
    strlist_free(&t->pack_files);
    memset(t, 0, sizeof(*t));
}

/* ---- as command lines ---- */

struct args {
    struct strlist *l;
    int rc;
};

static void arg(struct args *a, const char *opt, const char *val)
{
    if (a->rc == 0 && strlist_add(a->l, opt) < 0)
        a->rc = -ENOMEM;
    if (val && a->rc == 0 && strlist_add(a->l, val) < 0)
        a->rc = -ENOMEM;
}

static void arg_u(struct args *a, const char *opt, uint64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    arg(a, opt, s);
}

static void arg_ns(struct args *a, const char *opt, uint64_t ns)
{
    char s[48];
    cc_time_format((int64_t)ns, s, sizeof(s));
    arg(a, opt, s);
}

int ctest_explore_args(const struct ctest *t, const char *kernel, const char *initrd,
                       const char *output, struct strlist *out)
{
    struct args a = {.l = out};
    arg(&a, "--kernel", kernel);
    arg(&a, "--initrd", initrd);
    arg_u(&a, "--vms", t->vms);
    arg_u(&a, "--rounds", t->rounds);
    arg_u(&a, "--branches", t->branches);
    arg(&a, "--output", output);
    arg_u(&a, "--seed", t->seed);
    if (t->mode)
        arg(&a, "--mode", t->mode);
    if (t->disk_image)
        arg(&a, "--disk-image", t->disk_image);
    if (t->disk)
        arg_u(&a, "--disk", t->disk);
    if (t->cpus)
        arg_u(&a, "--cpus", t->cpus);
    if (t->vcpu_schedule)
        arg(&a, "--vcpu-schedule", t->vcpu_schedule);
    if (t->vcpu_quantum)
        arg_u(&a, "--vcpu-quantum", t->vcpu_quantum);
    if (t->memory)
        arg_u(&a, "--mem", t->memory);
    if (t->cpu_set) {
        const struct cc_cpu_model *c = &t->cpu;
        arg(&a, "--cpu-vendor", c->id.vendor);
        arg_u(&a, "--cpu-family", c->id.family);
        arg_u(&a, "--cpu-model", c->id.model);
        arg_u(&a, "--cpu-stepping", c->id.stepping);
        arg(&a, "--cpu-brand", c->id.brand);
        arg_u(&a, "--tsc-khz", c->tsc_khz);
        arg(&a, c->avx2 ? "--avx2" : "--no-avx2", NULL);
        arg(&a, c->avx512 ? "--avx512" : "--no-avx512", NULL);
    }
    if (t->cmdline)
        arg(&a, "--cmdline", t->cmdline);
    if (t->append)
        arg(&a, "--append", t->append);
    if (t->clients)
        arg(&a, "--clients", t->clients);
    if (t->latency_ns)
        arg_ns(&a, "--latency", t->latency_ns);
    if (t->faults)
        arg(&a, "--faults", t->faults);
    if (t->branch_ns)
        arg_ns(&a, "--branch-time", t->branch_ns);
    if (t->time_budget_ns)
        arg_ns(&a, "--time-limit", t->time_budget_ns);
    if (t->setup_marker)
        arg(&a, "--setup-marker", t->setup_marker);
    if (t->setup_after_ns)
        arg_ns(&a, "--setup-after", t->setup_after_ns);
    if (t->check)
        arg(&a, "--check", t->check);
    if (t->react_set)
        arg_u(&a, "--react", t->react);
    if (t->stop_after)
        arg_u(&a, "--stop-after", t->stop_after);
    if (t->workers)
        arg_u(&a, "--workers", t->workers);
    return a.rc;
}

int ctest_pack_args(const struct ctest *t, const char *output, struct strlist *out)
{
    struct args a = {.l = out};
    arg(&a, "--output", output);
    arg(&a, "--cmd", t->pack_cmd);
    for (size_t i = 0; i < t->pack_add.n; i++)
        arg(&a, "--add", t->pack_add.v[i]);
    for (size_t i = 0; i < t->pack_files.n; i++)
        arg(&a, "--file", t->pack_files.v[i]);
    return a.rc;
}
