/* chaoscontrol dlog dump | stats | diff, as library functions writing to a
 * stream (chaoscontrol/dlog.h). Each reads its files once, record by
 * record, so a log of any length takes constant memory (stats: a counter
 * per port, VM and virtual second). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/vm.h"
#include "util/cjson.h"

/* ---- dump ---- */

static void print_rec(FILE *out, const struct cc_dlog_rec *r, bool json, const char *prefix)
{
    if (json) {
        char *s = cc_dlog_rec_json(r);
        fprintf(out, "%s%s\n", prefix, s ? s : "{}");
        free(s);
    } else {
        char line[1200];
        cc_dlog_format(r, line, sizeof(line));
        fprintf(out, "%s%s\n", prefix, line);
    }
}

int cc_dlog_dump(const char *path, const struct cc_dlog_dump_opts *o, FILE *out,
                 struct cc_err *err)
{
    struct cc_dlog_reader *rd;
    int rc = cc_dlog_open(path, &rd, err);
    if (rc < 0)
        return rc;
    const struct cc_dlog_info *in = cc_dlog_reader_info(rd);
    if (!o->json)
        fprintf(out, "# dlog %s: source %s, %u VM%s, seed %" PRIu64 ", format version %u, "
                "registers every %" PRIu64 " exits\n", path, in->source, in->n_vms,
                in->n_vms == 1 ? "" : "s", in->seed, in->version, in->regs_every);
    struct cc_dlog_rec *r = malloc(sizeof(*r));
    if (!r) {
        cc_dlog_reader_close(rd);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    uint64_t shown = 0;
    bool started = false;
    while ((rc = cc_dlog_next(rd, r, err)) > 0) {
        if (o->vm >= 0 && r->vm != (uint64_t)o->vm)
            continue;
        if (r->type == CC_DLOG_SIM ? !started : r->exit < o->from)
            continue;
        started = true;
        if (o->count && shown >= o->count)
            break;
        print_rec(out, r, o->json, "");
        shown++;
    }
    free(r);
    cc_dlog_reader_close(rd);
    return rc < 0 ? rc : 0;
}

/* ---- stats ---- */

/* Counters keyed by a pair of numbers (open addressing). */
struct ctab {
    struct centry { uint64_t a, b, n; bool used; } *e;
    size_t cap, n;
};

static bool ctab_add(struct ctab *t, uint64_t a, uint64_t b)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct centry *e = calloc(cap, sizeof(*e));
        if (!e)
            return false;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->e[i].used)
                continue;
            size_t h = (t->e[i].a * 0x9e3779b97f4a7c15ull ^ t->e[i].b * 0xc2b2ae3d27d4eb4full) &
                       (cap - 1);
            while (e[h].used)
                h = (h + 1) & (cap - 1);
            e[h] = t->e[i];
        }
        free(t->e);
        t->e = e;
        t->cap = cap;
    }
    size_t h = (a * 0x9e3779b97f4a7c15ull ^ b * 0xc2b2ae3d27d4eb4full) & (t->cap - 1);
    while (t->e[h].used && (t->e[h].a != a || t->e[h].b != b))
        h = (h + 1) & (t->cap - 1);
    if (!t->e[h].used) {
        t->e[h] = (struct centry){.a = a, .b = b, .used = true};
        t->n++;
    }
    t->e[h].n++;
    return true;
}

/* The used entries, sorted by cmp. */
static struct centry *ctab_sorted(const struct ctab *t, int (*cmp)(const void *, const void *))
{
    struct centry *v = malloc((t->n ? t->n : 1) * sizeof(*v));
    if (!v)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].used)
            v[k++] = t->e[i];
    qsort(v, k, sizeof(*v), cmp);
    return v;
}

static int by_count(const void *x, const void *y)
{
    const struct centry *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static int by_key(const void *x, const void *y)
{
    const struct centry *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

#define N_KINDS 16
#define N_TYPES 8

struct vm_stats {
    uint64_t exits, injects, regs, sdk, sim, marks, last_vtime;
};

struct stats {
    uint64_t records, types[N_TYPES], kinds[N_KINDS], exits;
    struct vm_stats *vm;
    struct ctab ports;          /* (space: 0 pio / 1 mmio, address) */
    struct ctab secs;           /* (second, vm) */
};

static bool is_port_kind(uint32_t k, uint64_t *space)
{
    if (k == CC_TR_PIO_IN || k == CC_TR_PIO_OUT) {
        *space = 0;
        return true;
    }
    if (k == CC_TR_MMIO_READ || k == CC_TR_MMIO_WRITE) {
        *space = 1;
        return true;
    }
    return false;
}

static int gather(const char *path, struct stats *s, struct cc_dlog_info *info,
                  struct cc_err *err)
{
    struct cc_dlog_reader *rd;
    int rc = cc_dlog_open(path, &rd, err);
    if (rc < 0)
        return rc;
    *info = *cc_dlog_reader_info(rd);
    s->vm = calloc(info->n_vms, sizeof(*s->vm));
    struct cc_dlog_rec *r = malloc(sizeof(*r));
    if (!s->vm || !r) {
        free(r);
        cc_dlog_reader_close(rd);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    while ((rc = cc_dlog_next(rd, r, err)) > 0) {
        s->records++;
        s->types[r->type < N_TYPES ? r->type : 0]++;
        if (r->type == CC_DLOG_SIM) {
            if (r->vm != CC_DLOG_NO_VM)
                s->vm[r->vm].sim++;
            continue;
        }
        struct vm_stats *v = &s->vm[r->vm];
        v->last_vtime = r->vtime;
        switch (r->type) {
        case CC_DLOG_EXIT: {
            s->exits++;
            v->exits++;
            s->kinds[(r->kind & 0xff) < N_KINDS ? (r->kind & 0xff) : 0]++;
            uint64_t space;
            bool ok = true;
            if (is_port_kind(r->kind & 0xff, &space))
                ok = ctab_add(&s->ports, space, r->addr);
            if (!ok || !ctab_add(&s->secs, r->vtime / 1000000000u, r->vm))
                rc = cc_err_set(err, ENOMEM, "out of memory");
            break;
        }
        case CC_DLOG_INJECT: v->injects++; break;
        case CC_DLOG_REGS: v->regs++; break;
        case CC_DLOG_SDK: v->sdk++; break;
        case CC_DLOG_MARK: v->marks++; break;
        }
        if (rc < 0)
            break;
    }
    free(r);
    cc_dlog_reader_close(rd);
    return rc < 0 ? rc : 0;
}

static const char *kind_name(unsigned k)
{
    return k ? cc_trace_kind_name(k) : "unknown";
}

static json_t *stats_json(const char *path, const struct stats *s, const struct cc_dlog_info *in,
                          const struct centry *ports, const struct centry *secs)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "source", json_string(in->source));
    json_object_set_new(o, "format_version", json_integer(in->version));
    json_object_set_new(o, "vms", json_integer(in->n_vms));
    json_object_set_new(o, "seed", cj_u64(in->seed));
    json_object_set_new(o, "regs_every", cj_u64(in->regs_every));
    json_t *types = json_object();
    for (unsigned t = 1; t < N_TYPES; t++)
        if (strcmp(cc_dlog_type_name(t), "?"))
            json_object_set_new(types, cc_dlog_type_name(t), cj_u64(s->types[t]));
    json_object_set_new(o, "records", cj_u64(s->records));
    json_object_set_new(o, "records_by_type", types);
    json_object_set_new(o, "exits", cj_u64(s->exits));
    json_t *kinds = json_object();
    for (unsigned k = 0; k < N_KINDS; k++)
        if (s->kinds[k])
            json_object_set_new(kinds, kind_name(k), cj_u64(s->kinds[k]));
    json_object_set_new(o, "by_reason", kinds);
    json_t *pa = json_array();
    for (size_t i = 0; i < s->ports.n; i++) {
        json_t *p = json_object();
        char a[24];
        snprintf(a, sizeof(a), "0x%" PRIx64, ports[i].b);
        json_object_set_new(p, "space", json_string(ports[i].a ? "mmio" : "pio"));
        json_object_set_new(p, "addr", json_string(a));
        json_object_set_new(p, "exits", cj_u64(ports[i].n));
        json_array_append_new(pa, p);
    }
    json_object_set_new(o, "by_port", pa);
    json_t *va = json_array();
    for (unsigned v = 0; v < in->n_vms; v++) {
        const struct vm_stats *x = &s->vm[v];
        json_t *p = json_object();
        json_object_set_new(p, "vm", json_integer(v));
        json_object_set_new(p, "exits", cj_u64(x->exits));
        json_object_set_new(p, "injections", cj_u64(x->injects));
        json_object_set_new(p, "register_dumps", cj_u64(x->regs));
        json_object_set_new(p, "sdk_events", cj_u64(x->sdk));
        json_object_set_new(p, "sim_events", cj_u64(x->sim));
        json_object_set_new(p, "marks", cj_u64(x->marks));
        json_object_set_new(p, "last_vtime", cj_u64(x->last_vtime));
        json_array_append_new(va, p);
    }
    json_object_set_new(o, "by_vm", va);
    json_t *sa = json_array();
    for (size_t i = 0; i < s->secs.n;) {
        uint64_t sec = secs[i].a, tot = 0;
        json_t *byvm = json_object();
        for (; i < s->secs.n && secs[i].a == sec; i++) {
            char k[16];
            snprintf(k, sizeof(k), "%" PRIu64, secs[i].b);
            json_object_set_new(byvm, k, cj_u64(secs[i].n));
            tot += secs[i].n;
        }
        json_t *p = json_object();
        json_object_set_new(p, "second", cj_u64(sec));
        json_object_set_new(p, "exits", cj_u64(tot));
        json_object_set_new(p, "by_vm", byvm);
        json_array_append_new(sa, p);
    }
    json_object_set_new(o, "per_second", sa);
    return o;
}

#define TEXT_PORTS 25

static void stats_text(FILE *out, const char *path, const struct stats *s,
                       const struct cc_dlog_info *in, const struct centry *ports,
                       const struct centry *secs)
{
    fprintf(out, "dlog %s: source %s, %u VM%s, seed %" PRIu64 ", format version %u\n", path,
            in->source, in->n_vms, in->n_vms == 1 ? "" : "s", in->seed, in->version);
    fprintf(out, "records: %" PRIu64 " (", s->records);
    for (unsigned t = 1; t < N_TYPES; t++)
        if (strcmp(cc_dlog_type_name(t), "?"))
            fprintf(out, "%s%s %" PRIu64, t > 1 ? ", " : "", cc_dlog_type_name(t), s->types[t]);
    fprintf(out, ")\nexits: %" PRIu64 "\n\nexits by reason:\n", s->exits);
    for (unsigned k = 0; k < N_KINDS; k++)
        if (s->kinds[k])
            fprintf(out, "  %-12s %12" PRIu64 " %6.2f%%\n", kind_name(k), s->kinds[k],
                    100.0 * (double)s->kinds[k] / (double)(s->exits ? s->exits : 1));
    fprintf(out, "\nexits by port / MMIO address (%zu distinct%s):\n", s->ports.n,
            s->ports.n > TEXT_PORTS ? "; the busiest 25, --json for all" : "");
    for (size_t i = 0; i < s->ports.n && i < TEXT_PORTS; i++)
        fprintf(out, "  %-4s 0x%-14" PRIx64 " %12" PRIu64 "\n", ports[i].a ? "mmio" : "pio",
                ports[i].b, ports[i].n);
    fprintf(out, "\nby VM:\n  %-4s %12s %10s %6s %6s %6s %6s %20s\n", "VM", "EXITS", "INJECTS",
            "REGS", "SDK", "SIM", "MARKS", "LAST-VTIME(ns)");
    for (unsigned v = 0; v < in->n_vms; v++) {
        const struct vm_stats *x = &s->vm[v];
        fprintf(out, "  %-4u %12" PRIu64 " %10" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64
                " %6" PRIu64 " %20" PRIu64 "\n", v, x->exits, x->injects, x->regs, x->sdk, x->sim,
                x->marks, x->last_vtime);
    }
    fprintf(out, "\nexits per virtual second (each VM's own clock):\n  %-8s %12s", "SECOND",
            "TOTAL");
    unsigned cols = in->n_vms <= 8 ? in->n_vms : 0;
    for (unsigned v = 0; v < cols; v++)
        fprintf(out, " %9s%u", "vm", v);
    fprintf(out, "\n");
    uint64_t *row = calloc(cols ? cols : 1, sizeof(*row));
    for (size_t i = 0; row && i < s->secs.n;) {
        uint64_t sec = secs[i].a, tot = 0;
        memset(row, 0, (cols ? cols : 1) * sizeof(*row));
        for (; i < s->secs.n && secs[i].a == sec; i++) {
            tot += secs[i].n;
            if (secs[i].b < cols)
                row[secs[i].b] = secs[i].n;
        }
        fprintf(out, "  %-8" PRIu64 " %12" PRIu64, sec, tot);
        for (unsigned v = 0; v < cols; v++)
            fprintf(out, " %10" PRIu64, row[v]);
        fprintf(out, "\n");
    }
    free(row);
}

int cc_dlog_stats(const char *path, bool json, FILE *out, struct cc_err *err)
{
    struct stats s = {0};
    struct cc_dlog_info in;
    int rc = gather(path, &s, &in, err);
    struct centry *ports = NULL, *secs = NULL;
    if (rc == 0) {
        ports = ctab_sorted(&s.ports, by_count);
        secs = ctab_sorted(&s.secs, by_key);
        if (!ports || !secs)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0 && json) {
        json_t *o = stats_json(path, &s, &in, ports, secs);
        char *t = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        json_decref(o);
        if (!t)
            rc = cc_err_set(err, ENOMEM, "out of memory");
        else
            fprintf(out, "%s\n", t);
        free(t);
    } else if (rc == 0) {
        stats_text(out, path, &s, &in, ports, secs);
    }
    free(ports);
    free(secs);
    free(s.ports.e);
    free(s.secs.e);
    free(s.vm);
    return rc;
}

/* ---- diff ---- */

static bool same(const struct cc_dlog_rec *a, const struct cc_dlog_rec *b, bool structural)
{
    if (a->type != b->type || a->vm != b->vm || a->exit != b->exit || a->vtime != b->vtime ||
        a->kind != b->kind || a->size != b->size || a->rip != b->rip || a->value != b->value ||
        strcmp(a->text, b->text))
        return false;
    if (structural && (a->type == CC_DLOG_EXIT || a->type == CC_DLOG_REGS ||
                       a->type == CC_DLOG_MARK))
        return a->type != CC_DLOG_EXIT || a->addr == b->addr;
    if (a->addr != b->addr || a->data != b->data || a->nregs != b->nregs)
        return false;
    for (uint32_t i = 0; i < a->nregs; i++)
        if (a->regs[i] != b->regs[i])
            return false;
    return true;
}

/* Up to n more records of one side after the divergent one. */
static int show_more(FILE *out, struct cc_dlog_reader *rd, unsigned n, struct cc_dlog_rec *r,
                     struct cc_err *err)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = cc_dlog_next(rd, r, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            fprintf(out, "    (end of log)\n");
            return 0;
        }
        print_rec(out, r, false, "    ");
    }
    return 0;
}

static void header_notes(FILE *out, const struct cc_dlog_info *a, const struct cc_dlog_info *b)
{
    if (a->seed != b->seed)
        fprintf(out, "note: the seeds differ (A %" PRIu64 ", B %" PRIu64 ")\n", a->seed, b->seed);
    if (a->n_vms != b->n_vms)
        fprintf(out, "note: the VM counts differ (A %u, B %u)\n", a->n_vms, b->n_vms);
    if (a->regs_every != b->regs_every)
        fprintf(out, "note: the register dump intervals differ (A %" PRIu64 ", B %" PRIu64 ")\n",
                a->regs_every, b->regs_every);
    if (strcmp(a->source, b->source))
        fprintf(out, "note: the sources differ (A %s, B %s)\n", a->source, b->source);
}

int cc_dlog_diff(const char *pa, const char *pb, const struct cc_dlog_diff_opts *o, FILE *out,
                 struct cc_err *err)
{
    struct cc_dlog_reader *ra = NULL, *rb = NULL;
    int rc = cc_dlog_open(pa, &ra, err);
    if (rc == 0)
        rc = cc_dlog_open(pb, &rb, err);
    unsigned ctx = o->context;
    struct cc_dlog_rec *ring = NULL, *a = NULL, *b = NULL;
    if (rc == 0) {
        ring = calloc(ctx + 1, sizeof(*ring));
        a = malloc(sizeof(*a));
        b = malloc(sizeof(*b));
        if (!ring || !a || !b)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    if (rc < 0)
        goto out;
    header_notes(out, cc_dlog_reader_info(ra), cc_dlog_reader_info(rb));
    uint64_t i = 0;
    for (;; i++) {
        int ka = cc_dlog_next(ra, a, err);
        if (ka < 0) {
            rc = ka;
            goto out;
        }
        int kb = cc_dlog_next(rb, b, err);
        if (kb < 0) {
            rc = kb;
            goto out;
        }
        if (!ka && !kb) {
            fprintf(out, "same: %" PRIu64 " records%s\n", i,
                    o->structural ? " (structurally: data payloads ignored)" : "");
            rc = 0;
            goto out;
        }
        if (ka && kb && same(a, b, o->structural)) {
            if (ctx)
                ring[i % ctx] = *a;
            continue;
        }
        /* the first divergence */
        fprintf(out, "first divergence at record #%" PRIu64 "%s", i,
                o->structural ? " (structural)" : "");
        if (ka && kb && a->type != CC_DLOG_SIM && a->vm == b->vm)
            fprintf(out, ": vm %u, exit #%" PRIu64 " in A, #%" PRIu64 " in B", a->vm, a->exit,
                    b->exit);
        fprintf(out, "\n");
        uint64_t first = i > ctx ? i - ctx : 0;
        if (i > first)
            fprintf(out, "  before (the same in both):\n");
        for (uint64_t k = first; k < i; k++)
            print_rec(out, &ring[k % ctx], false, "    ");
        fprintf(out, "  A %s:\n", pa);
        if (ka) {
            print_rec(out, a, false, "  > ");
            rc = show_more(out, ra, ctx, a, err);
        } else {
            fprintf(out, "  > (end of log after %" PRIu64 " records)\n", i);
        }
        if (rc < 0)
            goto out;
        fprintf(out, "  B %s:\n", pb);
        if (kb) {
            print_rec(out, b, false, "  > ");
            rc = show_more(out, rb, ctx, b, err);
        } else {
            fprintf(out, "  > (end of log after %" PRIu64 " records)\n", i);
        }
        if (rc == 0)
            rc = 1;
        goto out;
    }
out:
    free(ring);
    free(a);
    free(b);
    cc_dlog_reader_close(ra);
    cc_dlog_reader_close(rb);
    return rc;
}
