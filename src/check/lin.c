/* Linearizability of a map of registers (include/chaoscontrol/check.h).
 *
 * Linearizability is compositional (Herlihy & Wing 1990): the history is
 * linearizable iff each key's sub-history is, so keys are checked one by
 * one. For one key the search is Wing & Gong's (1993) with Lowe's (2017)
 * just-in-time linearization and a cache of configurations, the approach
 * Porcupine takes:
 *
 *   - every operation becomes a call entry at its invoke time and, when it
 *     completed ok, a return entry at its completion time, all in one
 *     doubly linked list sorted by time (at equal times calls come first:
 *     operations that touch are concurrent);
 *   - walking the list from its head, a call entry whose operation the
 *     register accepts in its current value is linearized: its call and
 *     return entries are unlinked, the (entry, value) pair pushed, and the
 *     walk restarts at the head. Reaching a return entry means that
 *     operation should have been linearized already: undo the last choice
 *     (relink) and try the next entry after it. An empty stack there means
 *     no linearization exists;
 *   - a configuration is the set of linearized operations (a bitset) and
 *     the register value; reaching one seen before cannot lead anywhere
 *     new, so that choice is skipped. The bitset's hash is kept up to date
 *     by xoring one random word per operation (Zobrist hashing).
 *
 * Info operations (unknown outcome) have no return entry: they may be
 * linearized at any point after their call, or never, so the search
 * succeeds when only their call entries remain. Info reads constrain
 * nothing and are dropped, and so are info writes no operation could have
 * read from (readfrom.c: linearizing them never helps, and leaving them
 * out never hurts), which keeps histories with many crashed clients cheap. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void check_opts_fill(const struct cc_check_opts *o, struct cc_check_opts *out)
{
    if (o)
        *out = *o;
    else
        memset(out, 0, sizeof(*out));
    if (!out->max_steps)
        out->max_steps = CC_CHECK_DEFAULT_STEPS;
    if (!out->max_memory)
        out->max_memory = CC_CHECK_DEFAULT_MEMORY;
    if (!out->shrink_steps)
        out->shrink_steps = out->max_steps;
}

/* ---- the cache of configurations ---- */

struct cslot {
    uint64_t hash;
    size_t off;                     /* the bitset's words in the arena */
    uint32_t state, used;
};

struct cache {
    uint64_t *arena;
    size_t n_arena, cap_arena, words;
    struct cslot *slot;
    size_t n, cap;
    size_t max_bytes;
};

static int cache_grow(struct cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 1024;
    if ((cap * sizeof(struct cslot) + c->cap_arena * 8) > c->max_bytes)
        return -E2BIG;
    struct cslot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slot[i].used)
            continue;
        size_t j = c->slot[i].hash & (cap - 1);
        while (ns[j].used)
            j = (j + 1) & (cap - 1);
        ns[j] = c->slot[i];
    }
    free(c->slot);
    c->slot = ns;
    c->cap = cap;
    return 0;
}

/* 1 when (bits, state) is new (now added), 0 when seen, < 0 when out of
 * memory (-E2BIG: over the budget). */
static int cache_add(struct cache *c, const uint64_t *bits, uint64_t hash, uint32_t state)
{
    if ((c->n + 1) * 2 > c->cap) {
        int rc = cache_grow(c);
        if (rc < 0)
            return rc;
    }
    size_t j = hash & (c->cap - 1);
    for (; c->slot[j].used; j = (j + 1) & (c->cap - 1))
        if (c->slot[j].hash == hash && c->slot[j].state == state &&
            !memcmp(c->arena + c->slot[j].off, bits, c->words * 8))
            return 0;
    if (c->n_arena + c->words > c->cap_arena) {
        size_t cap = c->cap_arena ? c->cap_arena * 2 : 4096;
        while (cap < c->n_arena + c->words)
            cap *= 2;
        if (cap * 8 + c->cap * sizeof(struct cslot) > c->max_bytes)
            return -E2BIG;
        uint64_t *na = realloc(c->arena, cap * 8);
        if (!na)
            return -ENOMEM;
        c->arena = na;
        c->cap_arena = cap;
    }
    memcpy(c->arena + c->n_arena, bits, c->words * 8);
    c->slot[j] = (struct cslot){.hash = hash, .off = c->n_arena, .state = state, .used = 1};
    c->n_arena += c->words;
    c->n++;
    return 1;
}

/* ---- the search for one key ---- */

struct ent {
    uint64_t time;
    uint32_t op;
    uint32_t is_ret;
    struct ent *prev, *next, *match;
};

static int cmp_ent(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->is_ret != y->is_ret)
        return x->is_ret ? 1 : -1;
    return x->op < y->op ? -1 : x->op > y->op;
}

static bool model_step(const struct kop *o, uint32_t st, uint32_t *ns)
{
    switch (o->f) {
    case CC_HIST_READ: *ns = st; return o->a == st;
    case CC_HIST_WRITE: *ns = o->a; return true;
    case CC_HIST_CAS: *ns = o->b; return o->a == st;
    default: return false;
    }
}

/* The operations worth searching: not info reads (they constrain
 * nothing), not info writes no observer could have read from
 * (readfrom.c). Returns how many went to out[], or -ENOMEM. */
static long prune(const struct kop *ops, size_t n, struct kop *out)
{
    bool *keep = malloc(n + 1);
    struct rf rf;
    if (!keep || rf_init(&rf, ops, n) < 0) {
        free(keep);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        keep[i] = ops[i].ret != CC_HIST_NEVER;
    rf_close(&rf, keep);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i] && !(ops[i].f == CC_HIST_READ && ops[i].ret == CC_HIST_NEVER))
            out[m++] = ops[i];
    rf_free(&rf);
    free(keep);
    return (long)m;
}

static void lift(struct ent *e)
{
    e->prev->next = e->next;
    if (e->next)
        e->next->prev = e->prev;
    if (e->match) {
        e->match->prev->next = e->match->next;
        if (e->match->next)
            e->match->next->prev = e->match->prev;
    }
}

static void unlift(struct ent *e)
{
    if (e->match) {
        e->match->prev->next = e->match;
        if (e->match->next)
            e->match->next->prev = e->match;
    }
    e->prev->next = e;
    if (e->next)
        e->next->prev = e;
}

/* Entries sorted and linked after head; NULL when out of memory. */
static struct ent *build_list(const struct kop *ops, size_t m, struct ent *head)
{
    struct ent *ent = malloc((2 * m + 1) * sizeof(*ent));
    uint32_t *ret_of = malloc((m + 1) * sizeof(*ret_of));
    if (!ent || !ret_of) {
        free(ent);
        free(ret_of);
        return NULL;
    }
    size_t ne = 0;
    for (size_t i = 0; i < m; i++) {
        ent[ne++] = (struct ent){.time = ops[i].call, .op = (uint32_t)i};
        if (ops[i].ret != CC_HIST_NEVER)
            ent[ne++] = (struct ent){.time = ops[i].ret, .op = (uint32_t)i, .is_ret = 1};
    }
    qsort(ent, ne, sizeof(*ent), cmp_ent);
    for (size_t i = 0; i < m; i++)
        ret_of[i] = UINT32_MAX;
    for (size_t i = 0; i < ne; i++)
        if (ent[i].is_ret)
            ret_of[ent[i].op] = (uint32_t)i;
    struct ent *prev = head;
    *head = (struct ent){0};
    for (size_t i = 0; i < ne; i++) {
        ent[i].prev = prev;
        prev->next = &ent[i];
        prev = &ent[i];
        if (!ent[i].is_ret && ret_of[ent[i].op] != UINT32_MAX)
            ent[i].match = &ent[ret_of[ent[i].op]];
    }
    free(ret_of);
    return ent;
}

struct frame {
    struct ent *e;
    uint32_t state;
};

struct search {
    const struct kop *ops;
    struct ent head;
    uint64_t *bits, *zob;
    struct frame *stack;
    struct cache cache;
    uint64_t frontier;              /* the latest entry time looked at */
};

static int search(struct search *s, struct lin_budget *b, uint64_t *steps)
{
    struct ent *e = s->head.next;
    uint32_t state = HIST_NULL;
    uint64_t hz = 0, n = 0;
    size_t sp = 0;
    int verdict = LIN_UNKNOWN;
    for (;; n++) {
        if (n >= b->max_steps)
            break;
        if (!(n & 0xffff) && b->stop && b->stop(b->stop_opaque)) {
            b->stopped = true;
            break;
        }
        if (!s->head.next || !e) {
            verdict = LIN_OK;           /* nothing left, or only optional calls */
            break;
        }
        if (e->time > s->frontier)
            s->frontier = e->time;
        if (!e->is_ret) {
            uint32_t ns, op = e->op;
            if (model_step(&s->ops[op], state, &ns)) {
                s->bits[op / 64] |= 1ull << (op % 64);
                hz ^= s->zob[op];
                int rc = cache_add(&s->cache, s->bits, hz ^ splitmix(ns), ns);
                if (rc < 0) {
                    verdict = rc == -E2BIG ? LIN_UNKNOWN : rc;
                    break;
                }
                if (rc == 1) {
                    s->stack[sp++] = (struct frame){e, state};
                    state = ns;
                    lift(e);
                    e = s->head.next;
                    continue;
                }
                s->bits[op / 64] &= ~(1ull << (op % 64));
                hz ^= s->zob[op];
            }
            e = e->next;
        } else {
            if (!sp) {
                verdict = LIN_FAIL;
                break;
            }
            struct frame f = s->stack[--sp];
            e = f.e;
            state = f.state;
            s->bits[e->op / 64] &= ~(1ull << (e->op % 64));
            hz ^= s->zob[e->op];
            unlift(e);
            e = e->next;
        }
    }
    *steps += n;
    return verdict;
}

int lin_check_key(const struct kop *ops, size_t n, struct lin_budget *b, uint64_t *steps,
                  uint64_t *frontier)
{
    if (b->stopped)
        return LIN_UNKNOWN;
    struct search s = {0};
    struct kop *kept = malloc((n + 1) * sizeof(*kept));
    struct ent *ent = NULL;
    int rc = -ENOMEM;
    long pm = kept ? prune(ops, n, kept) : -ENOMEM;
    if (pm < 0)
        goto out;
    size_t m = (size_t)pm;
    size_t words = (m + 63) / 64 + 1;
    s.ops = kept;
    s.bits = calloc(words, 8);
    s.zob = malloc((m + 1) * 8);
    s.stack = malloc((m + 1) * sizeof(*s.stack));
    ent = build_list(kept, m, &s.head);
    if (!s.bits || !s.zob || !s.stack || !ent)
        goto out;
    for (size_t i = 0; i < m; i++)
        s.zob[i] = splitmix(i * 0x632be59bd9b4e019ull + 1);
    s.cache.words = words;
    s.cache.max_bytes = b->max_memory;
    rc = search(&s, b, steps);
    if (frontier)
        *frontier = s.frontier;
out:
    free(kept);
    free(ent);
    free(s.bits);
    free(s.zob);
    free(s.stack);
    free(s.cache.arena);
    free(s.cache.slot);
    return rc;
}

/* ---- the whole history ---- */

/* The operations of every key, grouped: key k's are kops[start[k] ..
 * start[k + 1]). Fail operations are left out. */
static int group_by_key(const struct cc_history *h, struct kop **kops, size_t **start,
                        struct cc_err *err)
{
    size_t nk = h->keys.n;
    *kops = malloc((h->n_op + 1) * sizeof(**kops));
    *start = calloc(nk + 2, sizeof(**start));
    size_t *fill = calloc(nk + 1, sizeof(*fill));
    if (!*kops || !*start || !fill) {
        free(fill);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < h->n_op; i++) {
        const struct hist_op *op = &h->op[i];
        if (op->f == CC_HIST_ADD) {
            free(fill);
            return cc_err_set(err, EINVAL, "%s%sline %" PRIu32 ": an add is a set operation: "
                              "check this history with the set model", h->src ? h->src : "",
                              h->src ? ": " : "", h->ev[op->inv].line);
        }
        if (op->status != CC_HIST_FAIL)
            (*start)[op->key + 1]++;
    }
    for (size_t k = 0; k < nk; k++)
        (*start)[k + 1] += (*start)[k];
    for (size_t i = 0; i < h->n_op; i++) {
        const struct hist_op *op = &h->op[i];
        if (op->status == CC_HIST_FAIL)
            continue;
        (*kops)[(*start)[op->key] + fill[op->key]++] = (struct kop){
            .call = op->call, .ret = op->status == CC_HIST_OK ? op->ret : CC_HIST_NEVER,
            .f = op->f, .a = op->arg, .b = op->arg2, .id = (uint32_t)i,
        };
    }
    free(fill);
    return 0;
}

/* Shrink key k's failing operations into res->witness and explain. */
static int report_failure(const struct cc_history *h, const struct kop *all, size_t n,
                          const struct cc_check_opts *o, struct cc_check_result *res)
{
    struct kop *w = malloc((n + 1) * sizeof(*w));
    uint32_t *ids = malloc((n + 1) * sizeof(*ids));
    int rc = -ENOMEM;
    if (!w || !ids)
        goto out;
    memcpy(w, all, n * sizeof(*w));
    size_t nw = n;
    res->witness_minimal = false;
    if (!o->no_witness) {
        struct lin_budget b = {.max_steps = o->shrink_steps, .max_memory = o->max_memory,
                               .stop = o->stop, .stop_opaque = o->stop_opaque};
        rc = shrink_key(w, &nw, &b, &res->witness_minimal);
        if (rc < 0)
            goto out;
    }
    for (size_t i = 0; i < nw; i++)
        ids[i] = w[i].id;
    res->key_ops = n;
    res->witness = history_subset(h, ids, nw);
    res->explain = explain_key(h, res->key, w, nw, all, n);
    if (res->explain && res->n_failed_keys > 1) {
        size_t more = res->n_failed_keys - 1;
        char *x = str_printf("%s %zu other key%s fail%s too.", res->explain, more, PL(more),
                             more == 1 ? "s" : "");
        free(res->explain);
        res->explain = x;
    }
    rc = res->witness && res->explain ? 0 : -ENOMEM;
out:
    free(w);
    free(ids);
    return rc;
}

int cc_check_linearizable(const struct cc_history *h, const struct cc_check_opts *o,
                          struct cc_check_result *res, struct cc_err *err)
{
    memset(res, 0, sizeof(*res));
    struct cc_check_opts opt;
    check_opts_fill(o, &opt);
    struct kop *kops = NULL;
    size_t *start = NULL;
    int rc = group_by_key(h, &kops, &start, err);
    struct lin_budget b = {.max_steps = opt.max_steps, .max_memory = opt.max_memory,
                           .stop = opt.stop, .stop_opaque = opt.stop_opaque};
    size_t bad_key = SIZE_MAX, unknown_key = SIZE_MAX;
    for (size_t k = 0; rc == 0 && k < h->keys.n; k++) {
        size_t n = start[k + 1] - start[k];
        if (!n)
            continue;
        res->n_keys++;
        res->n_ops += n;
        int r = lin_check_key(kops + start[k], n, &b, &res->steps, NULL);
        if (r < 0)
            rc = cc_err_set(err, -r, "out of memory checking key '%s'", history_key(h, k));
        else if (r == LIN_FAIL && res->n_failed_keys++ == 0)
            bad_key = k;
        else if (r == LIN_UNKNOWN && res->n_unknown_keys++ == 0)
            unknown_key = k;
    }
    if (rc == 0 && bad_key != SIZE_MAX) {
        res->key = strdup(history_key(h, bad_key));
        rc = res->key ? report_failure(h, kops + start[bad_key], start[bad_key + 1] -
                                       start[bad_key], &opt, res) : -ENOMEM;
        if (rc < 0)
            cc_err_set(err, -rc, "out of memory reporting key '%s'", history_key(h, bad_key));
    } else if (rc == 0 && unknown_key != SIZE_MAX) {
        res->unknown = true;
        res->key = strdup(history_key(h, unknown_key));
        size_t others = res->n_unknown_keys - 1, fine = res->n_keys - res->n_unknown_keys;
        char limit[160];
        if (b.stopped)
            snprintf(limit, sizeof(limit), "before the check was stopped");
        else
            snprintf(limit, sizeof(limit), "within %" PRIu64 " search steps and %zu MiB of "
                     "search cache", opt.max_steps, opt.max_memory >> 20);
        char rest[160] = "";
        if (res->n_keys > 1)
            snprintf(rest, sizeof(rest), "; of the other %zu key%s, %zu %s linearizable and "
                     "%zu undecided", res->n_keys - 1, PL(res->n_keys - 1), fine,
                     fine == 1 ? "is" : "are", others);
        size_t nu = start[unknown_key + 1] - start[unknown_key];
        res->explain = str_printf("no verdict: key \"%s\" (%zu operation%s) was not decided "
                                  "%s%s.", history_key(h, unknown_key), nu, PL(nu), limit, rest);
    } else if (rc == 0) {
        res->ok = true;
        res->explain = str_printf("linearizable: %zu operation%s on %zu key%s (%" PRIu64
                                  " search steps).", res->n_ops, PL(res->n_ops), res->n_keys,
                                  PL(res->n_keys), res->steps);
    }
    if (rc == 0 && (!res->explain || (res->unknown && !res->key)))
        rc = cc_err_set(err, ENOMEM, "out of memory");
    free(kops);
    free(start);
    if (rc < 0)
        cc_check_result_free(res);
    return rc;
}

void cc_check_result_free(struct cc_check_result *res)
{
    if (!res)
        return;
    free(res->key);
    cc_history_free(res->witness);
    free(res->explain);
    for (size_t i = 0; i < res->n_lost; i++)
        free(res->lost[i]);
    free(res->lost);
    for (size_t i = 0; i < res->n_unexpected; i++)
        free(res->unexpected[i]);
    free(res->unexpected);
    memset(res, 0, sizeof(*res));
}
