/* Which operations can be left out of a register's history without
 * changing whether it is linearizable (used by lin.c to drop info writes
 * and by shrink.c to keep witnesses honest).
 *
 * An observer (an ok read, or a cas: it expects its old value) may have
 * read from a write p of the same value unless
 *   - p was invoked after the observer completed, or
 *   - some ok write or cas w completed after p completed and before the
 *     observer was invoked (w lies between them in every linearization
 *     and overwrites p).
 * Leave out a set D of writes none of which any kept observer may have
 * read from: if the whole history has a linearization L, then L without D
 * is one of the rest (every kept observer still follows the write it saw,
 * with no kept write in between, since that write was the last before it
 * in L). So a sub-history kept this way that fails proves the whole one
 * fails; and when the left-out writes are info ones (optional anyway) the
 * two are linearizable together or not at all. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"

static uint32_t written(const struct kop *o)
{
    return o->f == CC_HIST_CAS ? o->b : o->f == CC_HIST_WRITE ? o->a : HIST_NONE;
}

static bool observes(const struct kop *o)
{
    return (o->f == CC_HIST_READ && o->ret != CC_HIST_NEVER) || o->f == CC_HIST_CAS;
}

struct span {
    uint64_t call, ret;
};

static int cmp_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->call < y->call ? -1 : x->call > y->call;
}

static int cmp_obs(const void *a, const void *b)
{
    const struct rf_obs *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->call < y->call ? -1 : x->call > y->call;
}

int rf_init(struct rf *rf, const struct kop *ops, size_t n)
{
    memset(rf, 0, sizeof(*rf));
    rf->ops = ops;
    rf->n = n;
    rf->block = malloc((n + 1) * sizeof(*rf->block));
    rf->obs = malloc((n + 1) * sizeof(*rf->obs));
    struct span *w = malloc((n + 1) * sizeof(*w));
    if (!rf->block || !rf->obs || !w) {
        free(w);
        rf_free(rf);
        return -ENOMEM;
    }
    /* ok writes and cas by invoke time, with the earliest completion of
     * each suffix: block[p] = the earliest completion of one invoked after
     * p completed (CC_HIST_NEVER: none, or p never completed). */
    size_t nw = 0;
    for (size_t i = 0; i < n; i++)
        if (written(&ops[i]) != HIST_NONE && ops[i].ret != CC_HIST_NEVER)
            w[nw++] = (struct span){ops[i].call, ops[i].ret};
    qsort(w, nw, sizeof(*w), cmp_span);
    for (size_t i = nw; i-- > 1;)
        if (w[i].ret < w[i - 1].ret)
            w[i - 1].ret = w[i].ret;
    for (size_t i = 0; i < n; i++) {
        rf->block[i] = CC_HIST_NEVER;
        if (written(&ops[i]) == HIST_NONE || ops[i].ret == CC_HIST_NEVER)
            continue;
        size_t lo = 0, hi = nw;         /* first with call > ret */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (w[mid].call > ops[i].ret)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lo < nw)
            rf->block[i] = w[lo].ret;
    }
    free(w);
    return 0;
}

void rf_free(struct rf *rf)
{
    free(rf->block);
    free(rf->obs);
    memset(rf, 0, sizeof(*rf));
}

/* The kept observers by value and invoke time, each with the latest
 * completion among those of its value up to it. */
static void build_obs(struct rf *rf, const bool *keep)
{
    rf->n_obs = 0;
    for (size_t i = 0; i < rf->n; i++)
        if (keep[i] && observes(&rf->ops[i]))
            rf->obs[rf->n_obs++] = (struct rf_obs){rf->ops[i].a, rf->ops[i].call,
                                                   rf->ops[i].ret};
    qsort(rf->obs, rf->n_obs, sizeof(*rf->obs), cmp_obs);
    for (size_t i = 1; i < rf->n_obs; i++)
        if (rf->obs[i].v == rf->obs[i - 1].v && rf->obs[i - 1].ret > rf->obs[i].ret)
            rf->obs[i].ret = rf->obs[i - 1].ret;
}

/* May a kept observer have read from write i? */
static bool readable(const struct rf *rf, size_t i)
{
    uint32_t v = written(&rf->ops[i]);
    uint64_t block = rf->block[i], call = rf->ops[i].call;
    /* the last observer of v invoked no later than block */
    size_t lo = 0, hi = rf->n_obs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct rf_obs *o = &rf->obs[mid];
        if (o->v < v || (o->v == v && o->call <= block))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && rf->obs[lo - 1].v == v && rf->obs[lo - 1].ret >= call;
}

bool rf_valid(struct rf *rf, const bool *keep)
{
    build_obs(rf, keep);
    for (size_t i = 0; i < rf->n; i++)
        if (!keep[i] && written(&rf->ops[i]) != HIST_NONE && readable(rf, i))
            return false;
    return true;
}

void rf_close(struct rf *rf, bool *keep)
{
    for (bool grew = true; grew;) {
        grew = false;
        build_obs(rf, keep);
        for (size_t i = 0; i < rf->n; i++)
            if (!keep[i] && written(&rf->ops[i]) != HIST_NONE && readable(rf, i))
                keep[i] = grew = true;
    }
}
