/* Random register histories for the checker's tests and benchmark
 * (tests/unit/test_check.c, bench/lincheck.c).
 *
 * A simulated store that is linearizable by construction: clients run one
 * operation at a time, each taking effect at a random instant inside its
 * own [invoke, complete] interval; reads return what the operations that
 * took effect before them left. Some operations crash (info: taken effect
 * or not, the client learns nothing and carries on as a new process), some
 * cas find another value (fail). Mutations then corrupt read results, so
 * the history may stop being linearizable (or not: a concurrent write may
 * explain the new value).
 *
 *   struct histgen g = {.ops = 200, .keys = 2, .clients = 4, .seed = 7};
 *   char *jsonl = histgen_make(&g);      // malloc'd JSON lines
 */
#ifndef CC_TESTS_HISTGEN_H
#define CC_TESTS_HISTGEN_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct histgen {
    unsigned ops, keys, clients;
    unsigned values;            /* values per key drawn from 1..values; 0: every write unique */
    unsigned pct_read, pct_cas; /* the rest are writes (defaults 50 and 10 when both 0) */
    unsigned pct_info;          /* operations that crash */
    unsigned mutations;         /* ok reads whose result is corrupted */
    uint64_t max_gap_ns, max_dur_ns;    /* defaults 2 ms and 10 ms */
    uint64_t seed;
};

struct histgen_op {
    uint64_t call, ret, lp;     /* ret: when the client learns (ok, fail, info line) */
    unsigned process, key, f;   /* f: 0 read, 1 write, 2 cas */
    long a, b;                  /* write a; cas a -> b; read: result (-1: null) */
    int status;                 /* 1 ok, 2 fail, 3 info, 4 info never reported */
    int took_effect;
};

struct histgen_ev {
    uint64_t time;
    unsigned seq, done;
};

static inline uint64_t histgen_rand(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t histgen_below(uint64_t *s, uint64_t n)
{
    return n ? histgen_rand(s) % n : 0;
}

static int histgen_cmp_lp(const void *a, const void *b)
{
    const struct histgen_op *const *x = a, *const *y = b;
    if ((*x)->lp != (*y)->lp)
        return (*x)->lp < (*y)->lp ? -1 : 1;
    return *x < *y ? -1 : *x > *y;
}

static int histgen_cmp_ev(const void *a, const void *b)
{
    const struct histgen_ev *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (int)x->done - (int)y->done;
}

/* Operation timing: each client picks up work when it is free; the next
 * operation goes to the client free first, so they stay interleaved. */
static inline void histgen_schedule(const struct histgen *g, struct histgen_op *op,
                                    uint64_t *rng)
{
    uint64_t *free_at = calloc(g->clients, sizeof(*free_at));
    unsigned *proc = calloc(g->clients, sizeof(*proc));
    uint64_t gap = g->max_gap_ns ? g->max_gap_ns : 2000000, dur = g->max_dur_ns ? g->max_dur_ns : 10000000;
    unsigned pr = g->pct_read || g->pct_cas ? g->pct_read : 50;
    unsigned pc = g->pct_read || g->pct_cas ? g->pct_cas : 10;
    long *last = calloc(g->keys, sizeof(*last)), counter = 0;
    for (unsigned c = 0; c < g->clients; c++)
        proc[c] = c;
    for (unsigned i = 0; i < g->ops; i++) {
        unsigned c = 0;
        for (unsigned j = 1; j < g->clients; j++)
            if (free_at[j] < free_at[c])
                c = j;
        struct histgen_op *o = &op[i];
        memset(o, 0, sizeof(*o));
        o->call = free_at[c] + 1 + histgen_below(rng, gap);
        uint64_t d = 1 + histgen_below(rng, dur);
        if (histgen_below(rng, 20) == 0)
            d *= 5;                 /* now and then a slow one */
        o->ret = o->call + d;
        o->lp = o->call + histgen_below(rng, d + 1);
        o->process = proc[c];
        o->key = (unsigned)histgen_below(rng, g->keys);
        unsigned r = (unsigned)histgen_below(rng, 100);
        o->f = r < pr ? 0 : r < pr + pc ? 2 : 1;
        long v = g->values ? 1 + (long)histgen_below(rng, g->values) : ++counter;
        if (o->f == 1)
            o->a = v;
        if (o->f == 2) {
            o->a = histgen_below(rng, 2) ? last[o->key] : (long)histgen_below(rng, 4) - 1;
            o->b = v;
        }
        if (o->f != 0)
            last[o->key] = v;
        o->status = 1;
        o->took_effect = 1;
        if (histgen_below(rng, 100) < g->pct_info) {
            o->status = histgen_below(rng, 2) ? 3 : 4;
            o->took_effect = (int)histgen_below(rng, 2);
            proc[c] += g->clients;  /* a crashed client comes back as a new process */
        }
        free_at[c] = o->ret;
    }
    free(free_at);
    free(proc);
    free(last);
}

static inline void histgen_value(char *buf, size_t len, unsigned key, long v)
{
    if (v < 0)
        snprintf(buf, len, "null");
    else if (key % 2)
        snprintf(buf, len, "\"v%ld\"", v);  /* odd keys hold strings */
    else
        snprintf(buf, len, "%ld", v);
}

static inline char *histgen_emit(const struct histgen *g, const struct histgen_op *op)
{
    static const char *const fn[] = {"read", "write", "cas"};
    static const char *const tn[] = {"invoke", "ok", "fail", "info"};
    struct histgen_ev *ev = malloc(2 * g->ops * sizeof(*ev) + 1);
    size_t ne = 0, cap = 320 * (size_t)g->ops + 1, len = 0;
    char *out = malloc(cap);
    for (unsigned i = 0; i < g->ops; i++) {
        ev[ne++] = (struct histgen_ev){op[i].call, i, 0};
        if (op[i].status != 4)
            ev[ne++] = (struct histgen_ev){op[i].ret, i, 1};
    }
    qsort(ev, ne, sizeof(*ev), histgen_cmp_ev);
    for (size_t i = 0; i < ne; i++) {
        const struct histgen_op *o = &op[ev[i].seq];
        char v1[32], v2[32], val[80] = "";
        histgen_value(v1, sizeof(v1), o->key, o->a);
        histgen_value(v2, sizeof(v2), o->key, o->b);
        if (!ev[i].done && o->f == 1)
            snprintf(val, sizeof(val), ",\"value\":%s", v1);
        else if (!ev[i].done && o->f == 2)
            snprintf(val, sizeof(val), ",\"value\":[%s,%s]", v1, v2);
        else if (ev[i].done && o->f == 0 && o->status == 1)
            snprintf(val, sizeof(val), ",\"value\":%s", v1);
        len += (size_t)snprintf(out + len, cap - len,
                                "{\"process\":%u,\"type\":\"%s\",\"f\":\"%s\",\"key\":\"k%u\"%s,"
                                "\"time\":%" PRIu64 "}\n", o->process,
                                tn[ev[i].done ? (o->status == 4 ? 3 : o->status) : 0], fn[o->f],
                                o->key, val, ev[i].time);
    }
    free(ev);
    return out;
}

static inline char *histgen_make(const struct histgen *g)
{
    uint64_t rng = g->seed * 0x2545f4914f6cdd1dull + 1;
    struct histgen_op *op = calloc(g->ops + 1, sizeof(*op));
    struct histgen_op **by_lp = calloc(g->ops + 1, sizeof(*by_lp));
    long *cur = malloc(g->keys * sizeof(*cur));
    histgen_schedule(g, op, &rng);
    for (unsigned k = 0; k < g->keys; k++)
        cur[k] = -1;
    for (unsigned i = 0; i < g->ops; i++)
        by_lp[i] = &op[i];
    qsort(by_lp, g->ops, sizeof(*by_lp), histgen_cmp_lp);
    for (unsigned i = 0; i < g->ops; i++) {
        struct histgen_op *o = by_lp[i];
        if (!o->took_effect)
            continue;
        if (o->f == 0)
            o->a = cur[o->key];
        else if (o->f == 1)
            cur[o->key] = o->a;
        else if (cur[o->key] == o->a)
            cur[o->key] = o->b;
        else if (o->status == 1)
            o->status = 2;          /* the cas found another value */
    }
    for (unsigned m = 0; m < g->mutations; m++) {
        unsigned i = (unsigned)histgen_below(&rng, g->ops);
        for (unsigned j = 0; j < g->ops; j++, i = (i + 1) % g->ops) {
            if (op[i].f == 0 && op[i].status == 1) {
                long v = (long)histgen_below(&rng, (g->values ? g->values : 4) + 1) - 1;
                op[i].a = v == op[i].a ? v + 1 : v;
                break;
            }
        }
    }
    char *out = histgen_emit(g, op);
    free(op);
    free(by_lp);
    free(cur);
    return out;
}

#endif
