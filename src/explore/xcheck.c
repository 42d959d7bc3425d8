/* Judging a run from the outside: after a run that did not fail on its
 * own, the target's checker (linearizable, set) reads the simulation's
 * operation history (cc_sim_history). A violation becomes the failure of a
 * host property, "the operation history is linearizable", with the
 * checker's explanation as details; a history that cannot be parsed fails
 * "the operation history is well formed". Both are ALWAYS entries of the
 * explorer's table with stable ids (file "chaoscontrol:checker"), so the
 * explorer, minimize and reproduce treat them like SDK assertions.
 *
 * The history also gives coverage for programs without SDK edges: its
 * outcomes (each operation kind with each result, buckets of how many
 * operations failed or timed out, of distinct values read per key, of
 * reads answered while a write of their key hung) are features whose first
 * appearance makes a branch new. The last one is a step towards a stale
 * read: a replica answered reads while writes could not get through (a
 * member cut off from the majority but not from its client). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/check.h"
#include "chaoscontrol/history.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol_protocol.h"
#include "explore/explore_internal.h"

#define WELL_FORMED "the operation history is well formed"
#define CHECKER_FILE "chaoscontrol:checker"
/* search steps per key and per branch: a verdict in well under a second
 * for realistic histories; past it the branch is "unknown", not a bug */
#define XCHECK_STEPS 20000000ull

static uint64_t xcheck_id(const char *message)
{
    return cc_proto_assert_id(CHECKER_FILE, strlen(CHECKER_FILE), 0, message, strlen(message));
}

void xcheck_assertion(enum cc_xchecker c, bool well_formed, struct cc_assertion *a)
{
    memset(a, 0, sizeof(*a));
    a->message = well_formed ? WELL_FORMED : cc_xchecker_message(c);
    a->id = xcheck_id(a->message);
    a->kind = CC_ASSERT_ALWAYS;
    a->file = CHECKER_FILE;
    a->function = cc_xchecker_name(c);
}

static void fail_with(struct cc_xrun_result *res, const struct cc_assertion *a,
                      const char *details)
{
    struct cc_xfailure *f = &res->fail;
    memset(f, 0, sizeof(*f));
    f->failed = true;
    f->vm = 0;
    f->id = a->id;
    f->kind = a->kind;
    f->line = 0;
    snprintf(f->message, sizeof(f->message), "%s", a->message);
    snprintf(f->file, sizeof(f->file), "%s", a->file);
    snprintf(f->function, sizeof(f->function), "%s", a->function);
    snprintf(f->details, sizeof(f->details), "%s", details);
    f->sim_ns = f->vm_ns = res->end_ns;
}

/* AFL's hit-count buckets. */
static unsigned bucket(size_t n)
{
    return n == 0 ? 0 : n == 1 ? 1 : n == 2 ? 2 : n == 3 ? 3 : n < 8 ? 4 : n < 16 ? 5 :
           n < 32 ? 6 : n < 128 ? 7 : 8;
}

static void outcome(struct cc_xrun_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void outcome(struct cc_xrun_result *res, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    uint64_t id = cc_proto_fnv1a(0xcbf29ce484222325ull, "history-outcome:", 16);
    id = cc_proto_fnv1a(id, name, strlen(name));
    for (unsigned i = 0; i < res->n_outcomes; i++)
        if (res->outcomes[i] == id)
            return;
    if (res->n_outcomes < CC_XRUN_MAX_OUTCOMES)
        res->outcomes[res->n_outcomes++] = id;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The outcome features of h (see the top of the file). */
void xcheck_outcomes(const struct cc_history *h, struct cc_xrun_result *res)
{
    static const char *const fn[] = {"read", "write", "cas", "add"};
    static const char *const st[] = {"invoke", "ok", "fail", "info"};
    size_t n = cc_history_count(h), n_fail = 0, n_info = 0;
    const char **reads = n ? calloc(n, sizeof(*reads)) : NULL;
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        struct cc_history_op op;
        if (cc_history_op(h, i, &op) < 0)
            continue;
        outcome(res, "%s:%s", fn[op.f], st[op.status]);
        n_fail += op.status == CC_HIST_FAIL;
        n_info += op.status == CC_HIST_INFO;
        if (op.f == CC_HIST_READ && op.status == CC_HIST_OK && op.result && reads)
            reads[nr++] = op.result;
        if (op.f == CC_HIST_READ && op.status == CC_HIST_OK && op.result &&
            !strcmp(op.result, "null"))
            outcome(res, "read:absent");
    }
    outcome(res, "fail-bucket:%u", bucket(n_fail));
    outcome(res, "info-bucket:%u", bucket(n_info));
    if (reads) {
        qsort(reads, nr, sizeof(*reads), cmp_str);
        size_t distinct = 0;
        for (size_t i = 0; i < nr; i++)
            distinct += i == 0 || strcmp(reads[i], reads[i - 1]);
        outcome(res, "distinct-reads-bucket:%u", bucket(distinct));
    }
    free(reads);
    /* reads answered (ok) after a write of their key was invoked that
     * never completed (info: timed out, maybe applied) */
    size_t hung = 0;
    for (size_t i = 0; i < n; i++) {
        struct cc_history_op r, w;
        if (cc_history_op(h, i, &r) < 0 || r.f != CC_HIST_READ || r.status != CC_HIST_OK ||
            !r.key)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (cc_history_op(h, j, &w) < 0 || w.f != CC_HIST_WRITE ||
                w.status != CC_HIST_INFO || !w.key || strcmp(w.key, r.key) ||
                w.invoke_ns >= r.invoke_ns)
                continue;
            hung++;
            break;
        }
    }
    if (hung)
        outcome(res, "read-ok-while-a-write-hung-bucket:%u", bucket(hung));
}

void xcheck_clear(struct cc_xcheck_out *o)
{
    free(o->witness);
    free(o->explain);
    memset(o, 0, sizeof(*o));
}

void xcheck_run(enum cc_xchecker checker, struct cc_sim *sim, struct cc_xrun_result *res,
                struct cc_xcheck_out *out)
{
    xcheck_clear(out);
    size_t len;
    uint64_t dropped;
    const char *text = cc_sim_history(sim, &len, &dropped);
    res->hist_ops = 0;
    if (!len && checker == CC_XCHECK_NONE)
        return;
    struct cc_history *h = NULL;
    struct cc_err perr = {0};
    int rc = cc_history_parse(text, len, "the run's operation history", &h, &perr);
    struct cc_assertion a;
    if (rc < 0) {
        if (checker == CC_XCHECK_NONE || res->fail.failed)
            return;
        /* the guest sent something the checker cannot read: a failed
         * property of its own, with the parser's message */
        xcheck_assertion(checker, true, &a);
        res->checked = true;
        fail_with(res, &a, perr.msg);
        out->explain = strdup(perr.msg);
        return;
    }
    res->hist_ops = cc_history_count(h);
    xcheck_outcomes(h, res);
    if (checker == CC_XCHECK_NONE || res->fail.failed) {
        cc_history_free(h);
        return;
    }
    struct cc_check_opts o = {.max_steps = XCHECK_STEPS};
    struct cc_check_result cr;
    rc = checker == CC_XCHECK_SET ? cc_check_set(h, &o, &cr, &perr) :
                                    cc_check_linearizable(h, &o, &cr, &perr);
    xcheck_assertion(checker, rc < 0, &a);
    res->checked = true;
    if (rc < 0) {
        /* a history this model cannot judge (an add in a kv history, ...) */
        fail_with(res, &a, perr.msg);
        out->explain = strdup(perr.msg);
    } else if (cr.unknown) {
        res->checked = false;
        res->check_unknown = true;
    } else if (!cr.ok) {
        char det[sizeof(res->fail.details)];
        snprintf(det, sizeof(det), "%s%s", cr.explain ? cr.explain : "",
                 dropped ? " (the history is incomplete: lines past 64 MiB were dropped)" : "");
        fail_with(res, &a, det);
        out->explain = cr.explain ? strdup(cr.explain) : NULL;
        out->witness = cr.witness ? cc_history_to_jsonl(cr.witness) : NULL;
    }
    cc_check_result_free(&cr);
    cc_history_free(h);
}
