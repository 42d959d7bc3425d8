/* The reference checker (cc_check_linearizable_naive): a depth-first
 * search over orders of all operations, keys together, that respect real
 * time, with no cache and no splitting by key. Each level recomputes which
 * operations may come next (those invoked no later than the earliest
 * completion among the ok operations still to place) by scanning them
 * all. It agrees with lin.c on every history (the unit tests check that
 * on random ones) and is exponential, which the benchmark shows. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_internal.h"

struct nop {
    struct kop k;
    uint32_t key;
};

struct nframe {
    size_t at;                      /* the op placed at this level */
    uint32_t prev;                  /* its key's value before */
};

static int cmp_nop(const void *a, const void *b)
{
    const struct nop *x = a, *y = b;
    if (x->k.call != y->k.call)
        return x->k.call < y->k.call ? -1 : 1;
    return x->k.id < y->k.id ? -1 : x->k.id > y->k.id;
}

static bool apply(const struct kop *o, uint32_t st, uint32_t *ns)
{
    switch (o->f) {
    case CC_HIST_READ: *ns = st; return o->a == st;     /* info reads: a is none */
    case CC_HIST_WRITE: *ns = o->a; return true;
    case CC_HIST_CAS: *ns = o->b; return o->a == st;
    default: return false;
    }
}

static int dfs(const struct nop *ops, size_t n, uint32_t *state, const struct cc_check_opts *o,
               uint64_t *steps)
{
    bool *done = calloc(n + 1, 1);
    struct nframe *stack = malloc((n + 1) * sizeof(*stack));
    if (!done || !stack) {
        free(done);
        free(stack);
        return -ENOMEM;
    }
    size_t left = 0, sp = 0, from = 0;
    for (size_t i = 0; i < n; i++)
        left += ops[i].k.ret != CC_HIST_NEVER;
    int verdict = LIN_UNKNOWN;
    for (uint64_t it = 0;; it++, ++*steps) {
        if (*steps >= o->max_steps || (!(it & 0xffff) && o->stop && o->stop(o->stop_opaque)))
            break;
        if (!left) {
            verdict = LIN_OK;
            break;
        }
        uint64_t min_ret = CC_HIST_NEVER;
        for (size_t i = 0; i < n; i++)
            if (!done[i] && ops[i].k.ret < min_ret)
                min_ret = ops[i].k.ret;
        size_t pick = SIZE_MAX;
        uint32_t ns = 0;
        for (size_t i = from; i < n && ops[i].k.call <= min_ret; i++) {
            if (done[i])
                continue;
            ++*steps;
            if (apply(&ops[i].k, state[ops[i].key], &ns)) {
                pick = i;
                break;
            }
        }
        if (pick != SIZE_MAX) {
            stack[sp++] = (struct nframe){pick, state[ops[pick].key]};
            state[ops[pick].key] = ns;
            done[pick] = true;
            left -= ops[pick].k.ret != CC_HIST_NEVER;
            from = 0;
            continue;
        }
        if (!sp) {
            verdict = LIN_FAIL;
            break;
        }
        struct nframe f = stack[--sp];
        state[ops[f.at].key] = f.prev;
        done[f.at] = false;
        left += ops[f.at].k.ret != CC_HIST_NEVER;
        from = f.at + 1;
    }
    free(done);
    free(stack);
    return verdict;
}

int cc_check_linearizable_naive(const struct cc_history *h, const struct cc_check_opts *o,
                                struct cc_check_result *res, struct cc_err *err)
{
    memset(res, 0, sizeof(*res));
    struct cc_check_opts opt;
    check_opts_fill(o, &opt);
    struct nop *ops = malloc((h->n_op + 1) * sizeof(*ops));
    uint32_t *state = malloc((h->keys.n + 1) * sizeof(*state));
    bool *used = calloc(h->keys.n + 1, 1);
    int rc = 0;
    if (!ops || !state || !used)
        rc = cc_err_set(err, ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < h->n_op; i++) {
        const struct hist_op *op = &h->op[i];
        if (op->f == CC_HIST_ADD)
            rc = cc_err_set(err, EINVAL, "%s%sline %" PRIu32 ": an add is a set operation: "
                            "check this history with the set model", h->src ? h->src : "",
                            h->src ? ": " : "", h->ev[op->inv].line);
        else if (op->status != CC_HIST_FAIL)
            ops[n++] = (struct nop){
                .k = {.call = op->call, .ret = op->status == CC_HIST_OK ? op->ret : CC_HIST_NEVER,
                      .f = op->f, .a = op->arg, .b = op->arg2, .id = (uint32_t)i},
                .key = op->key,
            };
    }
    if (rc == 0) {
        for (size_t k = 0; k < h->keys.n; k++)
            state[k] = HIST_NULL;
        for (size_t i = 0; i < n; i++)
            used[ops[i].key] = true;
        for (size_t k = 0; k < h->keys.n; k++)
            res->n_keys += used[k];
        res->n_ops = n;
        qsort(ops, n, sizeof(*ops), cmp_nop);
        int r = dfs(ops, n, state, &opt, &res->steps);
        if (r < 0)
            rc = cc_err_set(err, -r, "out of memory");
        res->ok = r == LIN_OK;
        res->unknown = r == LIN_UNKNOWN;
        res->explain = str_printf(
            r == LIN_OK ? "linearizable: %zu operations (naive search, %" PRIu64 " steps)."
            : r == LIN_FAIL ? "not linearizable: no order of the %zu operations respects real "
                              "time (naive search, %" PRIu64 " steps)."
                            : "no verdict: %zu operations, naive search stopped after %" PRIu64
                              " steps.", n, res->steps);
        if (rc == 0 && !res->explain)
            rc = cc_err_set(err, ENOMEM, "out of memory");
    }
    free(ops);
    free(state);
    free(used);
    if (rc < 0)
        cc_check_result_free(res);
    return rc;
}
