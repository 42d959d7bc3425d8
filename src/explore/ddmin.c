/* Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
 * Failure-Inducing Input", 2002): ddmin over a set of items, with the
 * empty set tried first and a cache so no candidate runs twice.
 *
 *   bool keep[5] = {1, 1, 1, 1, 1};
 *   ddmin_run(5, keep, still_fails, ctx);   // keep[] = a 1-minimal subset */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore/explore_internal.h"

struct cache {
    char **key;
    int *res;
    size_t n, cap;
};

static char *key_of(const bool *keep, size_t n)
{
    char *k = malloc(n + 1);
    if (!k)
        return NULL;
    for (size_t i = 0; i < n; i++)
        k[i] = keep[i] ? '1' : '0';
    k[n] = 0;
    return k;
}

/* Run (or look up) one candidate. */
static int run(struct cache *c, const bool *keep, size_t n, ddmin_test_fn test, void *opaque,
               long *tests)
{
    char *k = key_of(keep, n);
    if (!k)
        return -ENOMEM;
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->key[i], k)) {
            free(k);
            return c->res[i];
        }
    }
    int r = test(opaque, keep, n);
    (*tests)++;
    if (r < 0) {
        free(k);
        return r;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        char **nk = realloc(c->key, cap * sizeof(*nk));
        if (!nk) {
            free(k);
            return -ENOMEM;
        }
        c->key = nk;
        int *nr = realloc(c->res, cap * sizeof(*nr));
        if (!nr) {
            free(k);
            return -ENOMEM;
        }
        c->res = nr;
        c->cap = cap;
    }
    c->key[c->n] = k;
    c->res[c->n++] = r;
    return r;
}

long ddmin_run(size_t n, bool *keep, ddmin_test_fn test, void *opaque)
{
    struct cache c = {0};
    long tests = 0;
    size_t *cur = malloc((n ? n : 1) * sizeof(*cur));
    bool *cand = malloc(n ? n : 1);
    if (!cur || !cand) {
        free(cur);
        free(cand);
        return -ENOMEM;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            cur[len++] = i;
    int rc = 0;

    /* Nothing at all may already be enough. */
    if (len) {
        memset(cand, 0, n);
        rc = run(&c, cand, n, test, opaque, &tests);
        if (rc == 1)
            len = 0;
    }
    size_t gran = 2;
    while (rc >= 0 && len >= 2) {
        if (gran > len)
            gran = len;
        bool reduced = false;
        /* subsets, then complements */
        for (int phase = 0; phase < 2 && !reduced && rc >= 0; phase++) {
            for (size_t s = 0; s < gran && !reduced; s++) {
                size_t lo = len * s / gran, hi = len * (s + 1) / gran;
                memset(cand, 0, n);
                for (size_t i = 0; i < len; i++) {
                    bool in = i >= lo && i < hi;
                    if (phase == 0 ? in : !in)
                        cand[cur[i]] = true;
                }
                if (phase == 1 && gran == 2)
                    continue;       /* the complement of one half is the other half */
                rc = run(&c, cand, n, test, opaque, &tests);
                if (rc < 0)
                    break;
                if (rc == 1) {
                    size_t k = 0;
                    for (size_t i = 0; i < len; i++) {
                        bool in = i >= lo && i < hi;
                        if (phase == 0 ? in : !in)
                            cur[k++] = cur[i];
                    }
                    len = k;
                    gran = phase == 0 ? 2 : (gran > 2 ? gran - 1 : 2);
                    reduced = true;
                }
            }
        }
        if (rc < 0)
            break;
        if (!reduced) {
            if (gran >= len)
                break;
            gran = gran * 2 < len ? gran * 2 : len;
        }
    }
    /* A single remaining item: the empty set was tried first. */
    if (rc >= 0) {
        memset(keep, 0, n);
        for (size_t i = 0; i < len; i++)
            keep[cur[i]] = true;
    }
    for (size_t i = 0; i < c.n; i++)
        free(c.key[i]);
    free(c.key);
    free(c.res);
    free(cur);
    free(cand);
    return rc < 0 ? rc : tests;
}
