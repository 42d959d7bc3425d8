/* The witness of a non-linearizable key: a small sub-history that still
 * fails, found by dropping operations and checking again.
 *
 * Dropping an operation must not invent an anomaly: take away the write
 * of 1 and a read that returned 1 fails on its own, which says nothing
 * about the real history. So a candidate is kept only when no dropped
 * write could have been read by a kept operation (readfrom.c); then the
 * candidate is linearizable whenever the whole key is, and a failing
 * candidate is a proof on its own. For people's sake, a kept read also
 * keeps one write of its value if the key has any (else "read 1 after the
 * write of 2" would do: a proof, but not an explanation).
 *
 * Passes, each check bounded by what is left of the shrink budget:
 *   0. the operations invoked before the point where the search for a
 *      linearization got stuck (lin_check_key's frontier);
 *   1. the shortest failing prefix (operations by invoke time), by
 *      bisection, with the writes the prefix may have read added back;
 *   2. the same from the other end: drop the longest failing head;
 *   3. ddmin-style: drop chunks of halving size while the rest still
 *      fails, down to single operations, until none can go. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"

struct shrink {
    const struct kop *all;          /* the failing key, by invoke time */
    size_t n;
    bool *in, *try_in;              /* the current set, a candidate */
    struct kop *cand;
    struct rf rf;
    uint32_t *wv, *vals;            /* values some op writes (sorted); scratch */
    size_t n_wv;
    struct lin_budget *b;
    uint64_t used;
    bool exhausted;                 /* a check ran out of budget */
};

static int cmp_call(const void *a, const void *b)
{
    const struct kop *x = a, *y = b;
    if (x->call != y->call)
        return x->call < y->call ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t written(const struct kop *o)
{
    return o->f == CC_HIST_CAS ? o->b : o->f == CC_HIST_WRITE ? o->a : HIST_NONE;
}

static bool observes(const struct kop *o)
{
    return (o->f == CC_HIST_READ && o->ret != CC_HIST_NEVER) || o->f == CC_HIST_CAS;
}

/* Sorted values written by the members of set into s->vals; how many. */
static size_t kept_values(struct shrink *s, const bool *set)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (set[i] && written(&s->all[i]) != HIST_NONE)
            s->vals[k++] = written(&s->all[i]);
    qsort(s->vals, k, sizeof(*s->vals), cmp_u32);
    return k;
}

/* Does observer i lack a write of its value that the key has? */
static bool lacks(struct shrink *s, size_t i, size_t k)
{
    uint32_t v = s->all[i].a;
    return v != HIST_NULL && !bsearch(&v, s->vals, k, sizeof(v), cmp_u32) &&
           bsearch(&v, s->wv, s->n_wv, sizeof(v), cmp_u32);
}

static bool usable(struct shrink *s, const bool *set)
{
    if (!rf_valid(&s->rf, set))
        return false;
    size_t k = kept_values(s, set);
    for (size_t i = 0; i < s->n; i++)
        if (set[i] && observes(&s->all[i]) && lacks(s, i, k))
            return false;
    return true;
}

/* Add back what set needs to be usable: the writes its reads may have
 * read from, and for a read with none, the latest write of its value
 * invoked before it completed (or the first one). */
static void make_usable(struct shrink *s, bool *set)
{
    for (bool grew = true; grew;) {
        grew = false;
        rf_close(&s->rf, set);
        size_t k = kept_values(s, set);
        for (size_t i = 0; i < s->n; i++) {
            if (!set[i] || !observes(&s->all[i]) || !lacks(s, i, k))
                continue;
            size_t pick = SIZE_MAX;
            for (size_t j = 0; j < s->n; j++)
                if (written(&s->all[j]) == s->all[i].a &&
                    (pick == SIZE_MAX || s->all[j].call <= s->all[i].ret))
                    pick = j;
            set[pick] = grew = true;
            break;                  /* the values kept changed: look again */
        }
    }
}

/* 1 when the set still fails, 0 when not (or undecided), < 0 on errors.
 * *frontier (if not NULL): see lin_check_key. */
static int fails_at(struct shrink *s, const bool *set, uint64_t *frontier)
{
    if (s->used >= s->b->max_steps || s->b->stopped) {
        s->exhausted = true;
        return 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (set[i])
            s->cand[m++] = s->all[i];
    struct lin_budget tb = *s->b;
    tb.max_steps = s->b->max_steps - s->used;
    int r = lin_check_key(s->cand, m, &tb, &s->used, frontier);
    s->b->stopped = tb.stopped;
    if (r < 0)
        return r;
    if (r == LIN_UNKNOWN)
        s->exhausted = true;
    return r == LIN_FAIL;
}

static int fails(struct shrink *s, const bool *set)
{
    return fails_at(s, set, NULL);
}

/* Pass 0: the operations invoked up to where the search gave up fail on
 * their own; keep them (and what they need) if they still fail then. */
static int frontier_cut(struct shrink *s)
{
    uint64_t frontier = CC_HIST_NEVER;
    int rc = fails_at(s, s->in, &frontier);
    if (rc != 1)
        return rc < 0 ? rc : 0;
    memset(s->try_in, 0, s->n);
    for (size_t i = 0; i < s->n; i++)
        s->try_in[i] = s->in[i] && s->all[i].call <= frontier;
    make_usable(s, s->try_in);
    if (memcmp(s->try_in, s->in, s->n) && (rc = fails(s, s->try_in)) == 1)
        memcpy(s->in, s->try_in, s->n);
    return rc < 0 ? rc : 0;
}

/* Pass 1 (from_end false) or 2: the shortest failing prefix of the
 * current set, or the longest head that can go. */
static int cut(struct shrink *s, bool from_end)
{
    size_t *idx = malloc((s->n + 1) * sizeof(*idx)), m = 0;
    if (!idx)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (s->in[i])
            idx[m++] = i;
    /* prefix: lo passes, hi fails; head: lo fails, hi passes */
    size_t lo = 0, hi = m;
    int rc = 0;
    while (hi - lo > 1 && rc >= 0) {
        size_t mid = lo + (hi - lo) / 2;
        memset(s->try_in, 0, s->n);
        for (size_t j = from_end ? mid : 0; j < (from_end ? m : mid); j++)
            s->try_in[idx[j]] = true;
        make_usable(s, s->try_in);
        rc = fails(s, s->try_in);
        if (rc == 1 && !from_end)
            hi = mid;
        else if (rc == 1)
            lo = mid;
        else if (!from_end)
            lo = mid;
        else
            hi = mid;
    }
    size_t keep = from_end ? lo : hi;
    if (rc >= 0 && (from_end ? keep > 0 : keep < m)) {
        memset(s->try_in, 0, s->n);
        for (size_t j = from_end ? keep : 0; j < (from_end ? m : keep); j++)
            s->try_in[idx[j]] = true;
        make_usable(s, s->try_in);
        memcpy(s->in, s->try_in, s->n);     /* it failed when bisection tested it */
    }
    free(idx);
    return rc < 0 ? rc : 0;
}

/* Pass 3: drop chunks of halving size; returns 1 when single operations
 * were tried and none could go. */
static int chunks(struct shrink *s)
{
    size_t *idx = malloc((s->n + 1) * sizeof(*idx));
    if (!idx)
        return -ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->in[i])
            idx[m++] = i;
    size_t c = m / 2 ? m / 2 : 1;
    int rc = 0;
    for (;;) {
        bool dropped = false;
        for (size_t at = 0; at < m && rc >= 0 && !s->exhausted;) {
            size_t end = at + c < m ? at + c : m;
            memcpy(s->try_in, s->in, s->n);
            for (size_t j = at; j < end; j++)
                s->try_in[idx[j]] = false;
            rc = usable(s, s->try_in) ? fails(s, s->try_in) : 0;
            if (rc == 1) {
                memcpy(s->in, s->try_in, s->n);
                memmove(idx + at, idx + end, (m - end) * sizeof(*idx));
                m -= end - at;
                dropped = true;
            } else {
                at = end;
            }
        }
        if (rc < 0 || s->exhausted)
            break;
        if (c == 1 && !dropped) {
            rc = 1;
            break;
        }
        if (c > 1)
            c /= 2;
    }
    free(idx);
    return rc;
}

int shrink_key(struct kop *ops, size_t *n, struct lin_budget *b, bool *minimal)
{
    *minimal = false;
    struct shrink s = {.n = *n, .b = b};
    struct kop *all = malloc((*n + 1) * sizeof(*all));
    s.in = malloc(*n + 1);
    s.try_in = malloc(*n + 1);
    s.cand = malloc((*n + 1) * sizeof(*s.cand));
    s.wv = malloc((*n + 1) * sizeof(*s.wv));
    s.vals = malloc((*n + 1) * sizeof(*s.vals));
    int rc = -ENOMEM;
    bool rf_ok = false;
    if (!all || !s.in || !s.try_in || !s.cand || !s.wv || !s.vals)
        goto out;
    memcpy(all, ops, *n * sizeof(*all));
    qsort(all, *n, sizeof(*all), cmp_call);
    s.all = all;
    for (size_t i = 0; i < s.n; i++)
        if (written(&all[i]) != HIST_NONE)
            s.wv[s.n_wv++] = written(&all[i]);
    qsort(s.wv, s.n_wv, sizeof(*s.wv), cmp_u32);
    if (rf_init(&s.rf, all, s.n) < 0)
        goto out;
    rf_ok = true;
    /* Reads with unknown outcome tell nothing: drop them from the start. */
    for (size_t i = 0; i < s.n; i++)
        s.in[i] = !(all[i].f == CC_HIST_READ && all[i].ret == CC_HIST_NEVER);
    rc = frontier_cut(&s);
    if (rc == 0)
        rc = cut(&s, false);
    if (rc == 0)
        rc = cut(&s, true);
    if (rc == 0)
        rc = chunks(&s);
    if (rc < 0)
        goto out;
    *minimal = rc == 1 && !s.exhausted;
    size_t m = 0;
    for (size_t i = 0; i < s.n; i++)
        if (s.in[i])
            ops[m++] = all[i];
    *n = m;
    rc = 0;
out:
    free(all);
    free(s.in);
    free(s.try_in);
    free(s.cand);
    free(s.wv);
    free(s.vals);
    if (rf_ok)
        rf_free(&s.rf);
    return rc;
}
