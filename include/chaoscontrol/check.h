/* libchaoscontrol: host-side checkers for operation histories (history.h;
 * docs/history.md explains the models and the algorithm).
 *
 *   kv   cc_check_linearizable: every key is an independent register
 *        (read, write, cas; initially absent, read as null). The history
 *        is split by key (linearizability is compositional) and each key
 *        is checked with the Wing & Gong / Lowe search, pruned by a cache
 *        of (operations linearized, register value) as in Porcupine. When
 *        a key is not linearizable its operations are shrunk to a small
 *        sub-history that still fails (res->witness): only reads, and
 *        writes no remaining operation could have read from, are
 *        dropped, so the witness fails only if the whole history does.
 *   set  cc_check_set: every key is a set; each acknowledged add must be in
 *        the key's final read (the ok read that completed last).
 *
 *   struct cc_check_result res;
 *   if (cc_check_linearizable(h, NULL, &res, &err) < 0) ...   // bad input
 *   else if (!res.ok && !res.unknown)
 *       printf("%s\n", res.explain), fputs(cc_history_to_jsonl(res.witness), stdout);
 *   cc_check_result_free(&res);
 *
 * Checks are deterministic: budgets count search steps, never host time. */
#ifndef CHAOSCONTROL_CHECK_H
#define CHAOSCONTROL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "chaoscontrol/history.h"

#define CC_CHECK_DEFAULT_STEPS 100000000ull          /* per key */
#define CC_CHECK_DEFAULT_MEMORY ((size_t)512 << 20)   /* search cache per key */

/* Zero (or a NULL opts) means the defaults. */
struct cc_check_opts {
    uint64_t max_steps;         /* search steps per key (naive: in all); then unknown */
    size_t max_memory;          /* bytes of search cache per key; then unknown */
    uint64_t shrink_steps;      /* steps for shrinking the witness (default: max_steps) */
    bool no_witness;            /* report the failing key without shrinking */
    /* Polled every 65536 steps; returning true ends the check as unknown
     * (a caller's wall-clock limit, a signal). May be NULL. */
    bool (*stop)(void *opaque);
    void *stop_opaque;
};

struct cc_check_result {
    bool ok;                    /* linearizable / nothing lost or unexpected */
    bool unknown;               /* no verdict: a budget ran out (ok is false) */
    char *key;                  /* the failing key (or the first undecided one); NULL when ok */
    size_t n_ops;               /* operations checked (fail ones excluded) */
    size_t n_keys;
    size_t n_failed_keys;       /* keys with a violation */
    size_t n_unknown_keys;      /* keys without a verdict */
    uint64_t steps;             /* search steps, shrinking excluded */
    /* The smallest failing sub-history found (of res->key's operations),
     * NULL when ok or unknown; witness_minimal: no single operation can be
     * dropped from it (false when the shrink budget ran out first). */
    struct cc_history *witness;
    bool witness_minimal;
    size_t key_ops;             /* operations of res->key the witness was cut from */
    char *explain;              /* one paragraph for people, always set */
    /* set model: elements as compact JSON, in order of first add */
    char **lost;                /* acknowledged adds missing from the final read */
    size_t n_lost;
    char **unexpected;          /* in the final read but never (successfully) added */
    size_t n_unexpected;
};

/* Each returns 0 with *res filled (a verdict, or unknown), or -errno for a
 * history the model cannot judge (an add in a kv history, a set read that
 * is not an array, a set with no final read, ...) with err naming the line
 * or key. res is always safe to pass to cc_check_result_free. */
int cc_check_linearizable(const struct cc_history *h, const struct cc_check_opts *o,
                          struct cc_check_result *res, struct cc_err *err);
int cc_check_set(const struct cc_history *h, const struct cc_check_opts *o,
                 struct cc_check_result *res, struct cc_err *err);
/* Reference checker for tests and benchmarks: a depth-first search over
 * every order of all operations (keys together) that respects real time,
 * no cache; res->key and res->witness stay NULL. Exponential; same
 * semantics as the fast one. */
int cc_check_linearizable_naive(const struct cc_history *h, const struct cc_check_opts *o,
                                struct cc_check_result *res, struct cc_err *err);
void cc_check_result_free(struct cc_check_result *res);

#endif
